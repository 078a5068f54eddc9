"""Issue 13, around the tabs: the keyboard shortcuts, CSV export of a table's whole result, and the layout
remembered between starts — on the real window over a real SQLite file with more rows than one page.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrintPreviewDialog
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QPushButton

from esimdesk.domain import Esim, EsimStatus, ListingQuery, Order, OrderLine, OrderStatus, Plan
from esimdesk.services import export as export_service
from esimdesk.ui.table_layout import visible_columns
from esimdesk.ui.table_model import WINDOW
from tests.ui.conftest import settle_tab

N = 2_500  # 25 pages of the table model
PLANS = 350  # plans, and orders: 3+ pages each
TANAKA_EVERY = 3  # every third eSIM's note names the customer: ~830 matches, 8+ pages


def _iccid(i: int) -> str:
    return f"8944{i:015d}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from esimdesk.store import open_store

    home = tmp_path_factory.mktemp("fleet")
    store = open_store(home)
    base = datetime(2027, 3, 1, tzinfo=UTC)
    esims = []
    for i in range(N):
        esims.append(Esim(
            ("roumio", "roamify", "flexiroam")[i % 3 - 1], _iccid(i), EsimStatus.ACTIVE, "IN_USE",
            order_id=f"ORD-{i // 2}", plan_id="JP-5GB",
            activation_code=f"LPA:1$rsp.example.com$MATCH{i:06d}" if i % 5 == 0 else None,
            data_used_mb=(i * 37) % 5000, data_total_mb=5120,
            # Some without an expiry: they come last in either order (a second part of the result).
            expires_at=None if i % 11 == 0 else base + timedelta(hours=(i * 7919) % 20_000)))
    store.upsert_esims(esims)
    for i in range(0, N, TANAKA_EVERY):
        store.set_note(esims[i].vendor, esims[i].iccid, f"Tanaka, room {i}")
    # Plans and orders in two currencies, more than a page of each.
    store.upsert_plans([Plan(("roumio", "roamify")[i % 2], f"P{i}", f"Plan {i}", ("JP",) if i % 3 else ("FR", "DE"),
                             1024 * (i % 10 + 1), 7 + i % 30, Decimal(f"{5 + i % 20}.50"), "USD" if i % 4 else "HKD")
                        for i in range(PLANS)])
    store.upsert_orders([Order(("roumio", "roamify")[i % 2], f"ORD-{i}", f"{('paris', 'tokyo')[i % 2]}-{i}", OrderStatus.COMPLETED,
                               base - timedelta(hours=i * 5), Decimal(f"{10 + i % 7}.25"), "USD" if i % 4 else "HKD",
                               lines=(OrderLine("JP-5GB", 2, Decimal("5"), "Japan 5 GB"),),
                               esims=tuple(e for e in esims[2 * i:2 * i + 2] if e.order_id == f"ORD-{i}"))
                         for i in range(PLANS)])
    store.close()
    return home


def _open(loop, qtbot, home, tab: str = "Fleet"):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    desk = Desk(AppContext(home=home, accounts=Accounts()))
    win = MainWindow(ui_settings(home), desk)
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    return win, desk


@pytest.fixture
def home(folder, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for f in folder.iterdir():  # each test its own copy
        if f.is_file():
            shutil.copy(f, home / f.name)
    return home


@pytest.fixture
def window(loop, qtbot, home):
    win, desk = _open(loop, qtbot, home)
    win.tabs.setCurrentWidget(win.fleet)
    loop.run_until_complete(win.startup(sync=False))
    settle_tab(loop, win.fleet)
    try:
        yield win, loop
    finally:
        win.close()
        desk.close()


def _key(win, key: str) -> None:
    """The key as the agent types it, to the widget that has the focus (else the window)."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(key)[0]
    target = QApplication.focusWidget() or win
    QTest.keyClick(target, combo.key(), combo.keyboardModifiers())


def _search(loop, tab, text: str) -> None:
    tab.search.setText(text)
    settle_tab(loop, tab)


# --- shortcuts ---------------------------------------------------------------------------------------
def test_ctrl_1_2_3_switch_tabs_and_the_view_menu_shows_them(window):
    win, _loop = window
    for key, page in (("Ctrl+1", win.catalog), ("Ctrl+2", win.orders), ("Ctrl+3", win.fleet), ("Ctrl+2", win.orders)):
        page.search.setText("last time's text")
        _key(win, key)
        assert win.tabs.currentWidget() is page
        # the cursor in its search box, the old text selected: the agent types the next search at once
        assert page.search.hasFocus() and page.search.selectedText() == "last time's text"
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Help"]
    view = [(a.text().replace("&", ""), a.shortcut().toString()) for a in menus["View"].actions()]
    assert view == [("Catalog", "Ctrl+1"), ("Orders", "Ctrl+2"), ("Fleet", "Ctrl+3")]
    assert [a.isChecked() for a in menus["View"].actions()] == [False, True, False]


def test_ctrl_f_focuses_and_selects_the_shown_tabs_search(window):
    win, loop = window
    _search(loop, win.fleet, "tanaka")
    win.fleet.table.setFocus()
    _key(win, "Ctrl+F")
    assert win.fleet.search.hasFocus()
    assert win.fleet.search.selectedText() == "tanaka"
    _key(win, "Ctrl+1")
    _key(win, "Ctrl+F")
    assert win.catalog.search.hasFocus()


@pytest.mark.parametrize("key", ["F5", "Ctrl+R"])
def test_f5_and_ctrl_r_start_a_sync(window, qtbot, key):
    win, loop = window
    assert {"F5", "Ctrl+R"} <= {k.toString() for k in win.sync_action.shortcuts()}
    win.fleet.table.setFocus()
    started: list[bool] = []
    finished: list[list] = []
    win.syncStarted.connect(lambda: started.append(True))
    win.syncFinished.connect(finished.append)
    _key(win, key)
    task = win._sync_task
    assert task is not None
    loop.run_until_complete(asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30))
    assert started == [True] and finished == [[]]  # no vendor account here: a sync of none
    assert started == [True] and win.sync_action.isEnabled()


def test_ctrl_c_copies_the_selected_row_as_the_visible_columns_tab_separated(window):
    win, loop = window
    tab = win.fleet
    header = tab.table.horizontalHeader()
    header.moveSection(header.visualIndex(8), 0)  # Note first
    header.setSectionHidden(7, True)  # Vendor status hidden
    row = 3
    tab.table.selectRow(row)
    tab.table.setFocus()
    QGuiApplication.clipboard().clear()
    _key(win, "Ctrl+C")
    model = tab.model
    expected = [model.cell_text(row, c) for c in visible_columns(header)]
    assert QGuiApplication.clipboard().text() == "\t".join(expected)
    assert expected[0] == model.cell_text(row, 8) and model.cell_text(row, 7) not in expected[1:]
    assert tab.current.iccid in expected and "1 row copied" in win.statusBar().currentMessage()
    # In the search box Ctrl+C is the text field's own copy, not the rows.
    _search(loop, tab, "tanaka")
    tab.search.setFocus()
    tab.search.selectAll()
    _key(win, "Ctrl+C")
    assert QGuiApplication.clipboard().text() == "tanaka"


def test_ctrl_p_prints_the_selected_esims_card(window, monkeypatch):
    win, loop = window
    tab = win.fleet
    shown: list[int] = []

    def exec_(dialog):  # the preview is modal: accepted as the agent's Print would
        shown.append(len(dialog.cards))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(QPrintPreviewDialog, "exec", exec_)
    model = tab.model
    row = next(r for r in range(WINDOW) if model.item(r).activation_code)
    tab.table.selectRow(row)
    loop.run_until_complete(asyncio.sleep(0.05))
    tab.table.setFocus()
    _key(win, "Ctrl+P")
    task = tab.card_actions.task
    assert task is not None
    loop.run_until_complete(task)
    assert shown == [1]
    assert "1 customer card sent to the printer" in win.statusBar().currentMessage()
    # An eSIM without a code: nothing printed, and the status line says why.
    row = next(r for r in range(WINDOW) if not model.item(r).activation_code)
    tab.table.selectRow(row)
    loop.run_until_complete(asyncio.sleep(0.05))
    _key(win, "Ctrl+P")
    assert shown == [1]
    assert "No activation code" in win.statusBar().currentMessage()


# --- CSV export ---------------------------------------------------------------------------------------
def _export(win, loop, qtbot, monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "CSV (*.csv)")))
    _key(win, "Ctrl+E")
    exporter = win.keys.exporter
    assert exporter is not None and exporter.task is not None
    return exporter


def _read(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def _store_rows(home, query: ListingQuery):
    from esimdesk.store import open_store

    store = open_store(home)
    try:
        total, _split = store.listing_count(query)
        ids = store.listing_ids(query)
        items = store.listing_items(query.table, ids)
        return total, [items[i] for i in ids]
    finally:
        store.close()


def test_export_writes_every_row_of_the_filtered_sorted_table(window, qtbot, monkeypatch, home, tmp_path):
    win, loop = window
    tab = win.fleet
    _search(loop, tab, "tanaka")
    tab.sort_by(1, Qt.SortOrder.DescendingOrder)  # ICCID, newest first
    settle_tab(loop, tab)
    query = tab.listing_query()
    total, items = _store_rows(home, query)
    assert total == len(range(0, N, TANAKA_EVERY)) > 2 * WINDOW  # more than the pages the table has read
    assert tab.model.rowCount() == total
    monkeypatch.setattr(export_service, "CHUNK", 97)  # several chunks, one not full
    progress: list[tuple[int, int]] = []
    path = tmp_path / "out" / "fleet.csv"
    path.parent.mkdir()
    exporter = _export(win, loop, qtbot, monkeypatch, path)
    exporter.progressed.connect(lambda done, all_: progress.append((done, all_)))
    assert loop.run_until_complete(exporter.task) == total
    rows = _read(path)
    columns = visible_columns(tab.table.horizontalHeader())
    assert rows[0] == [tab.model.columns[c].title for c in columns]
    body = rows[1:]
    assert len(body) == total
    assert [r[1] for r in body] == [e.iccid for e in items] == sorted((e.iccid for e in items), reverse=True)
    for row in range(WINDOW):  # each value as the table shows it
        assert body[row] == [tab.model.cell_text(row, c) for c in columns]
    note = rows[0].index("Note")
    assert all("Tanaka" in r[note] for r in body)
    assert progress[0] == (0, total) and progress[-1] == (total, total) and len(progress) > 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["fleet.csv"]  # no temporary file left
    assert f"{total:,} eSIMs exported" in win.statusBar().currentMessage()


def test_export_follows_the_columns_order_shown_and_a_sort_with_empty_values_last(window, qtbot, monkeypatch,
                                                                                 home, tmp_path):
    win, loop = window
    tab = win.fleet
    header = tab.table.horizontalHeader()
    header.moveSection(header.visualIndex(5), 0)  # Expires first
    tab.sort_by(5, Qt.SortOrder.DescendingOrder)
    settle_tab(loop, tab)
    total, items = _store_rows(home, tab.listing_query())
    path = tmp_path / "all.csv"
    exporter = _export(win, loop, qtbot, monkeypatch, path)
    assert loop.run_until_complete(exporter.task) == total == N
    rows = _read(path)
    assert rows[0][0] == "Expires (UTC)" and len(rows) == N + 1
    expires = [r[0] for r in rows[1:]]
    dated = [e for e in expires if e]
    assert dated == sorted(dated, reverse=True) and expires[len(dated):] == [""] * (N - len(dated))
    assert [r[header.visualIndex(1)] for r in rows[1:]] == [e.iccid for e in items]


@pytest.mark.parametrize(("key", "name", "filter_"), [
    ("Ctrl+1", "catalog", lambda tab: tab.country.setText("Japan")),
    ("Ctrl+2", "orders", lambda tab: tab.search.setText("tokyo")),  # a reference's words
])
def test_export_of_catalog_and_orders_is_the_tabs_whole_result(window, qtbot, monkeypatch, home, tmp_path,
                                                              key, name, filter_):
    win, loop = window
    _key(win, key)
    tab = getattr(win, name)
    settle_tab(loop, tab)
    filter_(tab)
    settle_tab(loop, tab)
    total, items = _store_rows(home, tab.listing_query())
    assert WINDOW < total < PLANS  # filtered, and more than a page
    path = tmp_path / f"{name}.csv"
    exporter = _export(win, loop, qtbot, monkeypatch, path)
    assert loop.run_until_complete(exporter.task) == total
    rows = _read(path)
    columns = visible_columns(tab.table.horizontalHeader())
    assert rows[0] == [tab.model.columns[c].title for c in columns] and len(rows) == total + 1
    for row in range(WINDOW):
        assert rows[1 + row] == [tab.model.cell_text(row, c) for c in columns]
    assert rows[1:] == [[tab.model.columns[c].text(item) for c in columns] for item in items]
    if name == "catalog":  # a price keeps its currency: "5.50 USD", never a bare number of mixed currencies
        titles = [tab.model.columns[c].title for c in columns]
        price = titles.index("Vendor price")
        assert {r[price].split()[-1] for r in rows[1:]} == {"USD", "HKD"}
        # the cost and the customer's price in the agent's currency, as the table shows them (issue 27)
        agent = tab.pricing.currency
        assert f"Cost ({agent})" in titles and f"Sell ({agent})" in titles
        for title in (f"Cost ({agent})", f"Sell ({agent})"):
            assert {r[titles.index(title)].split(" · ")[0].split()[-1] for r in rows[1:]} == {agent}


def test_a_cancelled_export_leaves_no_file(window, qtbot, monkeypatch, tmp_path):
    win, loop = window
    monkeypatch.setattr(export_service, "CHUNK", 50)
    path = tmp_path / "cancelled" / "fleet.csv"
    path.parent.mkdir()
    exporter = _export(win, loop, qtbot, monkeypatch, path)
    dialog = exporter.dialog
    seen: list[int] = []

    def progressed(done, _total):
        seen.append(done)
        if done >= 100:
            dialog.findChild(QPushButton).click()  # the agent's Cancel, after rows were written to the temporary file

    exporter.progressed.connect(progressed)
    assert loop.run_until_complete(exporter.task) is None
    assert max(seen) < N  # stopped before the end
    assert list(path.parent.iterdir()) == []  # neither the file nor its temporary part
    assert "cancelled" in win.statusBar().currentMessage()


def test_a_failed_export_says_why_and_keeps_the_file_that_was_there(window, qtbot, monkeypatch, tmp_path):
    win, loop = window
    (tmp_path / "failed").mkdir()
    path = tmp_path / "failed" / "kept.csv"
    path.write_text("the agent's older export\n")

    def broken(item):
        raise ValueError("a cell could not be read")

    exporter = _export(win, loop, qtbot, monkeypatch, path)
    exporter.cells = broken
    assert loop.run_until_complete(exporter.task) is None
    assert path.read_text() == "the agent's older export\n"
    assert [p.name for p in path.parent.iterdir()] == ["kept.csv"]
    assert "The CSV was not written: a cell could not be read" in win.statusBar().currentMessage()


def test_cells_that_start_like_a_formula_are_written_as_text(tmp_path, loop):
    from esimdesk.services.queries import QueryRunner
    from esimdesk.store import open_store

    store = open_store(tmp_path)
    store.upsert_esims([Esim("roumio", _iccid(1), EsimStatus.ACTIVE, "IN_USE")])
    store.set_note("roumio", _iccid(1), "=HYPERLINK(\"x\")")  # an agent's (or a pasted) note
    runner = QueryRunner(store)
    try:
        path = tmp_path / "f.csv"
        n = loop.run_until_complete(export_service.export_listing(
            runner, ListingQuery("esims"), ["ICCID", "Note"], lambda e: [e.iccid, e.note], path))
        assert n == 1
        assert _read(path)[1] == [_iccid(1), "'=HYPERLINK(\"x\")"]
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads it as UTF-8
    finally:
        runner.close()
        store.close()


# --- the remembered layout --------------------------------------------------------------------------
def _drag_edge(header, logical: int, dx: int) -> None:
    """The agent drags the right edge of a column's header."""
    viewport = header.viewport()
    x = header.sectionViewportPosition(logical) + header.sectionSize(logical) - 1
    y = header.height() // 2
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y))
    for step in range(1, 6):
        QTest.mouseMove(viewport, QPoint(x + dx * step // 5, y))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x + dx, y))


def test_layout_saved_then_restored_by_a_new_window(loop, qtbot, home):
    win, desk = _open(loop, qtbot, home)
    win.tabs.setCurrentWidget(win.fleet)
    loop.run_until_complete(win.startup(sync=False))
    settle_tab(loop, win.fleet)
    tab = win.fleet
    header = tab.table.horizontalHeader()
    fitted_status = header.sectionSize(2)
    before = header.sectionSize(1)
    _drag_edge(header, 1, 90)  # ICCID wider, by the agent's hand
    iccid_width = header.sectionSize(1)
    assert iccid_width > before + 40
    assert tab.kept_widths == {1: iccid_width}  # only the column the agent resized
    header.moveSection(header.visualIndex(8), 1)  # Note second
    order = [header.logicalIndex(v) for v in range(header.count())]
    tab.sort_by(3, Qt.SortOrder.DescendingOrder)  # Used, most first
    settle_tab(loop, tab)
    win.tabs.setCurrentWidget(win.orders)
    win.close()
    desk.close()
    saved = json.loads(str(win.settings.value("tables/Fleet/layout")))
    assert saved["widths"] == {"ICCID": iccid_width}
    assert saved["sort"] == {"column": "Used", "descending": True}

    second, desk2 = _open(loop, qtbot, home)
    reads: list[ListingQuery] = []
    for name in ("listing_head", "listing_open"):
        original = getattr(desk2, name)

        def counted(query, *a, _original=original, **k):
            reads.append(query)
            return _original(query, *a, **k)

        setattr(desk2, name, counted)
    try:
        assert second.tabs.currentWidget() is second.orders  # the last tab
        fleet = second.fleet
        header2 = fleet.table.horizontalHeader()
        assert [header2.logicalIndex(v) for v in range(header2.count())] == order
        assert header2.sortIndicatorSection() == 3
        assert header2.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        loop.run_until_complete(second.startup(sync=False))
        second.tabs.setCurrentWidget(fleet)
        settle_tab(loop, fleet)
        for tab_ in second.pages.values():
            settle_tab(loop, tab_)
        esim_reads = [q for q in reads if q.table == "esims"]
        assert [(q.sort, q.descending) for q in esim_reads] == [("used", True)]  # one query, already sorted
        assert header2.sectionSize(1) == iccid_width  # the agent's width, not the fit
        assert abs(header2.sectionSize(2) - fitted_status) <= 2  # the others still fitted
        used = [fleet.model.item(r).data_used_mb for r in range(50)]
        assert used == sorted(used, reverse=True)
    finally:
        second.close()
        desk2.close()


def test_a_damaged_saved_layout_leaves_the_default(loop, qtbot, home):
    from esimdesk.ui.app import ui_settings

    settings = ui_settings(home)
    settings.setValue("tables/Fleet/layout", "{not json")
    settings.setValue("tables/Orders/layout", json.dumps({"order": ["Gone", 3], "widths": {"Vendor": "x"},
                                                          "sort": {"column": "Plan"}}))
    settings.sync()
    win, desk = _open(loop, qtbot, home)
    try:
        header = win.fleet.table.horizontalHeader()
        assert [header.logicalIndex(v) for v in range(header.count())] == list(range(header.count()))
        assert header.sortIndicatorSection() == 5  # soonest expiry first, the default
        assert win.orders.kept_widths == {}
        assert win.orders.table.horizontalHeader().sortIndicatorSection() == 0
    finally:
        win.close()
        desk.close()

