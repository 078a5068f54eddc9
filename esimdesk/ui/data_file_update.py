"""The notice an agent sees while the data file is brought up to this version of esimdesk, once, before the
window opens. A large fleet's file takes up to a minute (narrow eSIM rows rebuild the eSIM table:
bench/results/data_file_update.json), and a start that shows nothing that long looks like one that failed. The
update runs in a worker thread while this notice keeps painting; the window opens when it is done."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtWidgets import QApplication, QLabel

from esimdesk.services.data_folder import bring_up_to_date, update_pending

NOTICE = ("Updating the data file for this version of esimdesk…\n"
          "This happens once; with a large fleet it takes up to a minute.")


def update_data_file(app: QApplication, home: Path) -> bool:
    """If the data file in ``home`` is of an older schema, bring it up to date behind a notice; whether it was.
    What fails is raised here, as opening the file would have raised it (the start-up failure box says it)."""
    if not update_pending(home):
        return False
    notice = QLabel(NOTICE)
    notice.setWindowTitle("esimdesk")
    notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
    notice.setMargin(24)
    notice.show()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            bring_up_to_date(home)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, raised there
            failed.append(exc)

    worker = threading.Thread(target=work, name="data-file-update", daemon=True)
    worker.start()
    while True:  # the notice paints (and timers run) at least once, however short the update
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        worker.join(0.05)
        if not worker.is_alive():
            break
    notice.close()
    notice.deleteLater()
    if failed:
        raise failed[0]
    return True
