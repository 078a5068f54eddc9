"""The window's tables over a whole store, past the old 100,000-row cap (issue 12).

A real SQLite file with 100,500 eSIMs (more than the 100,000 rows a listing used to load): the Fleet's
row count is the store's, a sort orders the whole store, the last row is reachable, a newer keystroke
cancels the query it supersedes, and a sync keeps the agent's selection.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from esimdesk.domain import Esim, EsimStatus
from tests.ui.conftest import settle_tab, window_over_sandbox

N = 100_500  # past the former LISTING_LIMIT of 100,000


def _iccid(i: int) -> str:
    return f"8999{i:015d}"


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """A data folder with N eSIMs; the soonest expiry is the LAST one written (rowid N), which a capped
    listing ordered by vendor and ICCID never loaded."""
    from esimdesk.store import open_store

    home = tmp_path_factory.mktemp("big")
    store = open_store(home)
    rng = random.Random(12)
    base = datetime(2027, 1, 1, tzinfo=UTC)
    esims = [Esim("roumio" if i % 3 else "flexiroam", _iccid(i), EsimStatus.ACTIVE, "IN_USE",
                  data_used_mb=rng.randrange(0, 5000), data_total_mb=5120,
                  expires_at=base + timedelta(minutes=rng.randrange(10, 500_000))) for i in range(N - 1)]
    esims.append(Esim("roumio", _iccid(N - 1), EsimStatus.ACTIVE, "IN_USE", data_used_mb=1, data_total_mb=5120,
                      expires_at=base))  # the soonest of all
    for i in range(0, len(esims), 20_000):
        store.upsert_esims(esims[i:i + 20_000])
    store.close()
    return home


@pytest.fixture
def big_window(loop, qtbot, big_folder, tmp_path):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    home = tmp_path / "home"
    home.mkdir()
    for f in big_folder.iterdir():  # each test its own copy: none sees another's changes
        if f.is_file():
            shutil.copy(f, home / f.name)
    desk = Desk(AppContext(home=home, accounts=Accounts()))
    win = MainWindow(ui_settings(home), desk)
    qtbot.addWidget(win)
    win.show()
    win.tabs.setCurrentWidget(win.fleet)
    loop.run_until_complete(win.startup(sync=False))
    settle_tab(loop, win.fleet)
    try:
        yield win, desk
    finally:
        desk.close()


def _store_count(home) -> int:
    with sqlite3.connect(home / "esimdesk.sqlite3") as conn:
        return conn.execute("SELECT count(*) FROM esims").fetchone()[0]


def _cell(tab, row: int, column: int) -> str:
    return tab.model.data(tab.model.index(row, column))


def test_row_count_is_the_stores_count_past_the_old_cap(big_window):
    win, desk = big_window
    assert win.fleet.model.rowCount() == _store_count(desk.ctx.home) == N
    assert win.fleet.count.text() == f"{N:,} eSIMs"


def test_sorted_by_expiry_the_first_row_is_the_soonest_in_the_whole_store(big_window, loop):
    win, desk = big_window
    tab = win.fleet
    tab.sort_by(1, Qt.SortOrder.AscendingOrder)  # by ICCID first: the soonest is then the very last row
    settle_tab(loop, tab)
    assert tab.model.item(N - 1).iccid == _iccid(N - 1)
    tab.sort_by(5, Qt.SortOrder.AscendingOrder)
    settle_tab(loop, tab)
    assert tab.model.item(0).iccid == _iccid(N - 1)
    assert _cell(tab, 0, 1) == _iccid(N - 1)  # the painted text, read with the first window
    # Descending: the latest expiry of the store first, the soonest last.
    tab.sort_by(5, Qt.SortOrder.DescendingOrder)
    settle_tab(loop, tab)
    with sqlite3.connect(desk.ctx.home / "esimdesk.sqlite3") as conn:
        latest = conn.execute("SELECT iccid FROM esims ORDER BY expires_at DESC LIMIT 1").fetchone()[0]
    assert tab.model.item(0).iccid == latest
    assert tab.model.item(N - 1).iccid == _iccid(N - 1)


def test_scrolling_to_the_last_row_shows_the_last_row(big_window, loop, qtbot):
    win, desk = big_window
    tab = win.fleet
    with sqlite3.connect(desk.ctx.home / "esimdesk.sqlite3") as conn:
        last = conn.execute("SELECT iccid FROM esims ORDER BY expires_at DESC LIMIT 1").fetchone()[0]
    assert not tab.model.loaded(N - 1)  # nothing read that far before the agent scrolls there
    tab.table.scrollToBottom()
    deadline = time.monotonic() + 10
    while not tab.model.loaded(N - 1) and time.monotonic() < deadline:
        tab.table.viewport().repaint()  # the paint asks data() for the rows on screen
        loop.run_until_complete(asyncio.sleep(0.02))
    assert tab.model.loaded(N - 1)
    assert _cell(tab, N - 1, 1) == last
    assert tab.table.rowAt(tab.table.viewport().height() - 2) == N - 1  # and it is on screen


def test_a_keystroke_cancels_the_query_it_supersedes(big_window, loop):
    win, desk = big_window
    tab = win.fleet
    held = asyncio.Event()  # the first keystroke's query waits here until the test lets it go (never)
    real_open, real_head = desk.listing_open, desk.listing_head

    async def listing_open(query, *args, **kwargs):  # a result re-read in place
        if query.text == "held":
            await held.wait()
        return await real_open(query, *args, **kwargs)

    async def listing_head(query, *args, **kwargs):  # a new filter's first rows
        if query.text == "held":
            await held.wait()
        return await real_head(query, *args, **kwargs)

    desk.listing_open, desk.listing_head = listing_open, listing_head
    tab.search.setText("held")
    deadline = time.monotonic() + 5
    while (tab._task is None or tab._task.done()) and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
    first = tab._task
    assert first is not None and not first.done()  # its query is running
    tab.search.setText(_iccid(77)[-6:])  # the next keystroke
    settle_tab(loop, tab)
    assert first.cancelled()
    assert tab._task is not first and not tab._task.cancelled()
    assert tab.model.rowCount() == 1 and tab.model.item(0).iccid == _iccid(77)


def test_a_keystroke_shows_its_first_rows_before_the_count_then_the_true_count(big_window, loop):
    """A keystroke matching most rows paints a page at once; the count over every row follows, and
    scrolling past the first page then reads the rows there."""
    win, desk = big_window
    tab = win.fleet
    counting = asyncio.Event()  # the count waits here until the test has seen the rows
    real = desk.listing_count

    async def listing_count(query, total=None, **kwargs):
        await counting.wait()
        return await real(query, total, **kwargs)

    desk.listing_count = listing_count
    shown = []
    tab.rowsShown.connect(lambda: shown.append(tab.model.rowCount()))
    tab.search.setText("0")  # the ICCIDs that end in 0: a tenth of the fleet, 100 times a page
    deadline = time.monotonic() + 10
    while not shown and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
    assert shown == [100] and not tab._task.done()  # a page shown, the count still running
    assert tab.model.item(0).iccid.endswith("0") and "counting" in tab.count.text()
    counting.set()
    settle_tab(loop, tab)
    with sqlite3.connect(desk.ctx.home / "esimdesk.sqlite3") as conn:
        expected = conn.execute("SELECT count(*) FROM esims WHERE iccid LIKE '%0'").fetchone()[0]
        latest = conn.execute("SELECT max(expires_at) FROM esims WHERE iccid LIKE '%0'").fetchone()[0]
    assert expected == N // 10
    assert tab.model.rowCount() == expected and tab.count.text() == f"{expected:,} eSIMs"
    assert not tab.model.descending  # by expiry, soonest first: the last row expires last
    tab.table.scrollToBottom()
    deadline = time.monotonic() + 10
    while not tab.model.loaded(expected - 1) and time.monotonic() < deadline:
        tab.table.viewport().repaint()
        loop.run_until_complete(asyncio.sleep(0.02))
    last = tab.model.item(expected - 1)
    assert last.iccid.endswith("0") and last.expires_at.isoformat().startswith(latest[:19])
    # A sort of the same filter keeps the count it already has: the header click paints without one.
    calls = []
    desk.listing_count = lambda query, total=None, **kw: calls.append((query, total)) or real(query, total, **kw)
    tab.sort_by(1, Qt.SortOrder.AscendingOrder)  # by ICCID: every eSIM has one, nothing to count
    settle_tab(loop, tab)
    assert shown[-1] == tab.model.rowCount() == expected and tab.model.item(0).iccid == _iccid(0)
    assert calls == []
    tab.sort_by(3, Qt.SortOrder.AscendingOrder)  # by data used: those without a figure are counted
    settle_tab(loop, tab)
    assert shown[-1] == tab.model.rowCount() == expected and len(calls) == 1
    assert calls[0][1] == expected  # the filter's count is known: only the eSIMs without a figure are counted


def test_an_empty_tab_shows_the_rows_a_sync_has_stored_before_the_sync_ends(big_window, loop):
    """A new folder (the first demo start): the Catalog fills as the first pages of plans are stored, not
    when the slowest vendor's whole sync is over."""
    from decimal import Decimal

    from esimdesk.domain import Plan

    win, desk = big_window
    assert win.catalog.model.rowCount() == 0  # this folder has eSIMs only
    release = asyncio.Event()
    seen = []

    async def long_sync(progress=None, finished=None, notice=None):
        desk.store.upsert_plans([Plan("roumio", f"P{i}", f"Japan {i}GB", ("JP",), 1024 * i, 7, Decimal("5.70"),
                                      "USD") for i in range(1, 151)])
        progress(type("P", (), {"vendor": "roumio", "stage": "plans", "done": 150, "total": None})())
        deadline = time.monotonic() + 10
        while win.catalog.model.rowCount() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        seen.append(win.catalog.model.rowCount())
        release.set()
        return []

    desk.sync = long_sync
    loop.run_until_complete(asyncio.wait_for(win.run_sync(), 30))
    assert release.is_set() and seen == [150]


def test_what_the_delegate_paints_is_each_cells_text_and_alignment(big_window):
    """Qt's delegate reads a cell's roles in one multiData call: the text and alignment it paints are
    the model's, and the roles the model has nothing for are empty."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    win, _desk = big_window
    model = win.fleet.model
    delegate = QStyledItemDelegate()
    for column, spec in enumerate(model.columns):
        option = QStyleOptionViewItem()
        delegate.initStyleOption(option, model.index(0, column))
        assert option.text == model.data(model.index(0, column)) == spec.text(model.item(0))
        right = bool(option.displayAlignment & Qt.AlignmentFlag.AlignRight)
        assert right == spec.align_right
        assert option.icon.isNull() and option.backgroundBrush.style() == Qt.BrushStyle.NoBrush
    assert any(spec.align_right for spec in model.columns) and model.data(model.index(0, 1))  # an ICCID


def test_a_keystroke_that_leaves_the_query_as_it_was_reads_nothing(big_window, loop):
    win, desk = big_window
    tab = win.fleet
    tab.search.setText("0042")
    settle_tab(loop, tab)
    shown = tab.model.rowCount()
    reads = []
    for name in ("listing_open", "listing_head", "listing_count"):
        real = getattr(desk, name)
        setattr(desk, name, lambda *a, _real=real, _name=name, **k: reads.append(_name) or _real(*a, **k))
    tab.search.setText("0042 ")  # a space: the same search
    settle_tab(loop, tab)
    assert reads == [] and tab.model.rowCount() == shown and tab.count.text() == f"{shown:,} eSIMs"


def test_a_sync_reporting_every_page_redraws_its_progress_a_few_times_a_second(big_window, loop):
    win, desk = big_window
    said = []
    win.statusBar().messageChanged.connect(said.append)

    async def chatty_sync(progress=None, finished=None, notice=None):
        for stage in ("plans", "esims"):
            for done in range(1, 501):  # 500 pages reported at once: hundreds a second at scale
                progress(type("P", (), {"vendor": "roumio", "stage": stage, "done": done * 100, "total": None})())
        return []

    desk.sync = chatty_sync
    loop.run_until_complete(asyncio.wait_for(win.run_sync(), 30))
    syncing = [m for m in said if m.startswith("Syncing")]
    # each stage said at once, the pages between not (they came within a quarter of a second)
    assert syncing[:1] == ["Syncing Roumio: plans 100"] and "Syncing Roumio: eSIMs listed 100" in syncing
    assert len(syncing) <= 4


def test_a_vendors_catalog_and_fleet_reporting_in_turns_reread_each_tab_once(big_window, loop):
    """A vendor's catalog and fleet are read together (issue 28): their reports alternate. The tabs of a stage
    are read again when it ends (its count complete) or is left, once each, not at every turn."""
    win, desk = big_window
    reloads = {"catalog": 0, "fleet": 0}
    for name in reloads:
        page = getattr(win, name)
        real = page.reload

        def counted(*a, _real=real, _name=name, **k):
            reloads[_name] += 1
            return _real(*a, **k)

        page.reload = counted

    async def turns(progress=None, finished=None, notice=None):
        for i in range(1, 201):
            progress(type("P", (), {"vendor": "microesim", "stage": "plans", "done": i * 500, "total": None})())
            progress(type("P", (), {"vendor": "microesim", "stage": "refresh", "done": i, "total": 300,
                                    "due": 300})())
        progress(type("P", (), {"vendor": "microesim", "stage": "plans", "done": 100_000, "total": 100_000})())
        return []

    desk.sync = turns
    loop.run_until_complete(asyncio.wait_for(win.run_sync(), 30))
    # The catalog: once when first left for the fleet's reports, once when its count was complete, and (this
    # window's catalog is empty) filled every FILL_EVERY_S as plans are stored; the fleet once when first left.
    # Read again at every turn, as before, they were read 200 times each.
    assert 2 <= reloads["catalog"] <= 6 and 1 <= reloads["fleet"] <= 3, reloads


def test_a_cancelled_query_is_interrupted_in_sqlite(big_window, loop):
    """The superseded statement stops in SQLite, not only in asyncio: its worker thread is free at once."""
    _win, desk = big_window
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT count(*) FROM c WHERE x < 0")  # never ends by itself

    before = desk.queries.interrupted  # the window's own superseded loads at start-up count too

    async def go():
        task = asyncio.ensure_future(desk.queries.run(lambda store: store.conn.execute(endless).fetchone()))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Both workers are free again: two quick queries run at once.
        counts = await asyncio.gather(*(desk.queries.run(lambda s: s.conn.execute("SELECT 1").fetchone()[0])
                                        for _ in range(2)))
        return time.monotonic() - started, counts

    took, counts = loop.run_until_complete(asyncio.wait_for(go(), 10))
    assert counts == [1, 1] and took < 2
    deadline = time.monotonic() + 5
    while desk.queries.interrupted < before + 1 and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.05))
    assert desk.queries.interrupted == before + 1


@pytest.fixture
def synced_window(loop, qtbot, tmp_path):
    from esimdesk.sandbox import SandboxConfig

    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=31, plans=300, esims=400)) as (win, server, desk):
        yield win, server, desk


def test_queries_for_tabs_behind_never_hold_up_the_tab_shown(big_window, loop):
    """After a sync every tab reloads: the tabs behind the one shown wait in their own worker, so two long
    counts there never queue the agent's keystroke."""
    _win, desk = big_window
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT count(*) FROM c WHERE x < 0")

    async def go():
        behind = [asyncio.ensure_future(desk.queries.run(lambda s: s.conn.execute(endless).fetchone(),
                                                         background=True)) for _ in range(2)]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        shown = await asyncio.wait_for(asyncio.gather(
            *(desk.queries.run(lambda s: s.conn.execute("SELECT 1").fetchone()[0]) for _ in range(2))), 5)
        took = time.monotonic() - started
        for task in behind:
            task.cancel()
        await asyncio.gather(*behind, return_exceptions=True)
        return took, shown

    took, shown = loop.run_until_complete(go())
    assert shown == [1, 1] and took < 1


def test_a_sync_keeps_the_selection_and_where_it_was_on_screen(synced_window, loop):
    win, _server, _desk = synced_window
    tab = win.fleet
    win.tabs.setCurrentWidget(tab)
    settle_tab(loop, tab)
    row = 150
    tab.table.selectRow(row)
    tab.table.scrollTo(tab.model.index(row, 0))
    chosen = tab.model.item(row).iccid
    shown_at = tab.table.visualRect(tab.model.index(row, 0)).top()
    results = loop.run_until_complete(win.run_sync())
    assert results and all(r.ok for r in results)
    settle_tab(loop, tab)
    now = tab.table.currentIndex().row()
    assert tab.model.item(now).iccid == chosen
    assert tab.current is not None and tab.current.iccid == chosen
    assert abs(tab.table.visualRect(tab.model.index(now, 0)).top() - shown_at) <= tab.table.rowHeight(now)


def _pixel(image, x: int, y: int):
    from PySide6.QtGui import QColor

    return QColor(image.pixel(x, y)).name()


def test_the_table_draws_each_row_on_screen_in_one_pass(big_window, loop):
    """ListingView draws the rows itself (ui/table_view.py): backgrounds (alternating, the selected row in
    the highlight colour) and each cell's text from the model's cached row, read once per row; an empty
    cell draws nothing."""
    from PySide6.QtGui import QPalette

    win, _desk = big_window
    tab = win.fleet
    table, model = tab.table, tab.model
    table.selectRow(1)
    reads: list[int] = []
    real = model.row_cells
    model.row_cells = lambda row: reads.append(row) or real(row)
    try:
        image = table.viewport().grab().toImage()
    finally:
        del model.row_cells
    on_screen = table.rowAt(table.viewport().height() - 1) - table.rowAt(0) + 1
    assert sorted(reads) == list(range(on_screen))  # each row on screen read once, for all its cells
    palette = table.palette()
    height = table.verticalHeader().defaultSectionSize()
    note = next(i for i, c in enumerate(model.columns) if c.title == "Note")  # empty for every eSIM here
    assert not model.cell_text(0, note)
    x_note = table.columnViewportPosition(note) + 10
    for row, role in ((0, QPalette.ColorRole.Base), (1, QPalette.ColorRole.Highlight),
                      (2, QPalette.ColorRole.Base), (3, QPalette.ColorRole.AlternateBase)):
        y = table.rowViewportPosition(row) + height // 2
        assert _pixel(image, x_note, y) == palette.color(role).name(), (row, role)
    # The ICCID column of row 0 has text drawn in it: pixels darker than the row's background.
    iccid_x, y0 = table.columnViewportPosition(1), table.rowViewportPosition(0)
    inked = {_pixel(image, x, y) for x in range(iccid_x, iccid_x + table.columnWidth(1) - 1)
             for y in range(y0 + 2, y0 + height - 2)}
    assert len(inked) > 2 and palette.color(QPalette.ColorRole.Text).name() in inked


def test_a_keystrokes_rows_are_painted_before_its_count_starts(big_window, loop):
    """The count over every match runs in a worker thread; started during the paint, it slowed the paint
    (2 cores, with the X server). The rows are painted first, then the count is taken."""
    from PySide6.QtCore import QEvent, QObject

    win, desk = big_window
    tab = win.fleet
    events: list[str] = []

    class Paints(QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint and "shown" in events:
                events.append("painted")
            return False

    watcher = Paints()
    tab.table.viewport().installEventFilter(watcher)
    tab.rowsShown.connect(lambda: events.append("shown"))
    real = desk.listing_count

    async def listing_count(query, total=None, **kwargs):
        events.append("count")
        return await real(query, total, **kwargs)

    desk.listing_count = listing_count
    tab.search.setText("3")  # a tenth of the fleet: its count comes after its first page
    settle_tab(loop, tab)
    tab.table.viewport().removeEventFilter(watcher)
    assert events[0] == "shown" and "painted" in events and "count" in events, events
    assert events.index("painted") < events.index("count"), events  # the rows painted, then counted
    assert tab.model.rowCount() == N // 10


def test_the_objects_start_up_made_are_out_of_the_full_collections_walk_while_the_window_is_open(loop, qtbot,
                                                                                                 tmp_path):
    """A full garbage collection walked every object of the loaded window (40-50 ms on the GUI thread):
    while a window is open they are frozen (ui/heap.py); closing it gives them back to the collector."""
    import gc

    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    assert gc.get_freeze_count() == 0
    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    win = MainWindow(ui_settings(tmp_path), desk)
    qtbot.addWidget(win)
    win.show()
    try:
        loop.run_until_complete(win.startup(sync=False))
        assert gc.get_freeze_count() > 10_000  # the modules, Qt's wrappers, the window
        win.close()
        assert gc.get_freeze_count() == 0
    finally:
        desk.close()
