"""The windowed table model keeps Qt's model contract (pytest-qt's model tester: Qt's own checks)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from esimdesk.ui.table_model import Column, WindowedModel


def _model() -> WindowedModel:
    model = WindowedModel([Column("n", str, "n"), Column("twice", lambda i: str(2 * i), "twice", align_right=True)])
    rows = [(i, i) for i in range(100)]
    model.set_result(100, 0, rows, None, lambda offset, limit: [(i, i) for i in range(offset, min(offset + limit, 250))])
    return model


def test_the_model_keeps_qts_contract_through_a_count_that_grows_and_shrinks(qtmodeltester):
    model = _model()
    qtmodeltester.check(model, force_py=True)  # and it watches every change after
    model.set_total(250)  # counted after its first page was shown
    assert model.rowCount() == 250
    model.set_total(180)  # the store lost rows meanwhile
    assert model.rowCount() == 180 and model.item(179) == 179 and model.data(model.index(179, 1)) == "358"


def test_an_invalid_index_has_no_data_and_asks_for_no_page(qapp):
    model = _model()
    assert model.data(QModelIndex()) is None
    assert model.data(QModelIndex(), Qt.ItemDataRole.TextAlignmentRole) is None
    assert not model._wanted
