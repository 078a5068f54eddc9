"""File → Export table as CSV…: the shown table's whole result, with progress and Cancel.

The store is read and the file written off the GUI thread (services/export.py); this only asks where,
shows how far it is and says how it ended. The values are those the table shows (money with its
currency, times as shown, "unlimited"), not raw numbers: a price column of several currencies as bare
numbers would invite a sum across currencies, and the file then matches what the agent saw on screen.
The columns are the table's visible ones in the order shown, with their titles as the header row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog

from esimdesk.domain import EsimdeskError
from esimdesk.ui.table_layout import visible_columns

log = logging.getLogger("esimdesk.ui")


class TableExport(QObject):
    progressed = Signal(int, int)  # rows written, rows in all
    exported = Signal(str, int)  # path, rows written
    exportFailed = Signal(str)  # why, in words (a cancel included)

    def __init__(self, window, tab):
        super().__init__()
        self.window, self.tab = window, tab
        self.path: str | None = None
        self.task: asyncio.Task | None = None
        self.dialog: QProgressDialog | None = None
        # What the table shows now: later clicks or keystrokes do not change the file being written.
        self.query = tab.listing_query()
        model = tab.model
        columns = [model.columns[c] for c in visible_columns(tab.table.horizontalHeader())]
        self.titles = [c.title for c in columns]
        texts = [c.text for c in columns]
        self.cells = lambda item: [text(item) for text in texts]

    def ask_path(self) -> bool:
        name = f"esimdesk-{self.tab.noun.lower()}-{date.today().isoformat()}.csv"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export table as CSV", str(Path.home() / name),
                                              "CSV (*.csv)")
        if not path:
            return False
        self.path = path if path.lower().endswith(".csv") else path + ".csv"
        return True

    def start(self) -> asyncio.Task:
        # Not modal: the window stays usable meanwhile (and a modal QProgressDialog would run a nested event
        # loop at each step, under qasync's feet).
        dialog = QProgressDialog(f"Exporting {self.tab.noun} to {Path(self.path).name}…", "Cancel", 0, 0, self.window)
        dialog.setWindowTitle("Export table as CSV")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(300)  # a short export ends before any dialog shows
        dialog.canceled.connect(self.cancel)
        self.dialog = dialog
        self.task = asyncio.ensure_future(self.run())
        return self.task

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            self.dialog.setMaximum(max(total, 1))
            self.dialog.setValue(done)
            self.dialog.setLabelText(f"Exporting {self.tab.noun}: {done:,} of {total:,}")
        self.progressed.emit(done, total)

    async def run(self) -> int | None:
        status = self.window.statusBar()
        status.showMessage(f"Exporting {self.tab.noun} to {self.path}…")
        try:
            written = await self.window.desk.export_csv(self.query, self.titles, self.cells, self.path,
                                                        self._progress)
        except asyncio.CancelledError:
            self._ended("Export cancelled: no file was written")
            return None
        except Exception as exc:  # in words, never a traceback
            if not isinstance(exc, (EsimdeskError, OSError)):
                log.exception("the CSV export failed")
            self._ended(f"The CSV was not written: {exc}")
            return None
        self._close_dialog()
        status.showMessage(f"{written:,} {self.tab.noun} exported to {self.path}")
        self.exported.emit(self.path, written)
        return written

    def _ended(self, why: str) -> None:
        self._close_dialog()
        self.window.statusBar().showMessage(why)
        self.exportFailed.emit(why)

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
