"""A window closed while its event loop goes on (the bench opens several in one loop, as tests do) leaves no work
of its tabs behind to resume over widgets that are gone: the Catalog's price-order read ended in "Internal C++
object (CatalogModel) already deleted" after its window had closed."""

from __future__ import annotations

import asyncio

from tests.ui.conftest import settle_tab


def _window(loop, qtbot, home):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    desk = Desk(AppContext(home=home, accounts=Accounts()))
    win = MainWindow(ui_settings(home), desk)
    qtbot.addWidget(win)
    win.show()
    loop.run_until_complete(win.startup(sync=False))
    for page in win.pages.values():
        settle_tab(loop, page)
    return win, desk


def test_closing_the_window_cancels_the_catalogs_price_read_still_under_way(loop, qtbot, tmp_path):
    win, desk = _window(loop, qtbot, tmp_path)
    try:
        pending = win.catalog.refresh_rates()  # as Settings saved or a sync's end starts it
        assert not pending.done()
        win.close()
        loop.run_until_complete(asyncio.sleep(0.05))
        assert pending.cancelled()
        # A read that had ended is left as it ended, and a new window reads the prices again.
        win2, desk2 = _window(loop, qtbot, tmp_path)
        try:
            done = win2.catalog.refresh_rates()
            loop.run_until_complete(asyncio.wait_for(asyncio.shield(done), 10))
            win2.close()
            assert done.done() and not done.cancelled() and done.exception() is None
        finally:
            desk2.close()
    finally:
        desk.close()
