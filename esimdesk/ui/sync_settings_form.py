"""Settings → Sync: how often every eSIM not finished is refreshed by the syncs that ask a vendor about eSIMs
one at a time (MicroESIM, Roamify's usage). Layout only: the policy is domain/refresh.py, kept by
services/refresh_settings.py."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from esimdesk.domain.refresh import RefreshPolicy


class SyncSettingsForm(QWidget):
    def __init__(self, policy: RefreshPolicy, parent=None):
        super().__init__(parent)
        defaults = RefreshPolicy()
        note = QLabel(
            "MicroESIM keeps no eSIM list and Roamify's list has no usage: a sync asks about those eSIMs one at a "
            f"time, within about {defaults.target_seconds:.0f} seconds of requests at the vendor's pace. It asks "
            "first about eSIMs in use that expire within "
            f"{defaults.expiring_days} days or have under {defaults.low_share:.0%} of their data left (again after "
            f"{defaults.urgent_minutes:.0f} minutes), then those in use, then the rest; expired and cancelled "
            "eSIMs never again. What a sync leaves is said when it ends, and the next one goes on from there.")
        note.setWordWrap(True)
        self.refresh_hours = QDoubleSpinBox(self)
        self.refresh_hours.setObjectName("refresh_hours")
        self.refresh_hours.setRange(0.5, 24 * 30)
        self.refresh_hours.setDecimals(1)
        self.refresh_hours.setSingleStep(1.0)
        self.refresh_hours.setSuffix(" hours")
        self.refresh_hours.setValue(policy.refresh_hours)
        form = QFormLayout()
        form.addRow("Refresh every eSIM at least every", self.refresh_hours)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addStretch(1)

    def hours(self) -> float:
        return self.refresh_hours.value()
