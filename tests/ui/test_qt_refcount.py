"""Guard against a Qt binding that corrupts refcounts on signal emission (PySide6 6.12.0 does:
each Python-side emit drops a reference to True, and a long session dies with 'bool_dealloc')."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal

from esimdesk.ui.table_model import Column, WindowedModel


class _Emitter(QObject):
    happened = Signal(list)


def test_signal_emission_keeps_refcounts(qapp):
    emitter = _Emitter()
    emitter.happened.connect(lambda items: None)
    model = WindowedModel([Column("n", str, "n")])
    model.set_result(10, 0, [(i, i) for i in range(10)], None, None)
    gc.collect()  # objects of earlier tests freed mid-loop would lower the counts legitimately
    gc.disable()
    try:
        before = sys.getrefcount(True), sys.getrefcount(False)
        for _ in range(2000):
            emitter.happened.emit([1])
            model.sort(0)
        after = sys.getrefcount(True), sys.getrefcount(False)
    finally:
        gc.enable()
    # A leaking binding loses one reference per emit (thousands here); normal churn is a few dozen.
    assert after[0] >= before[0] - 100 and after[1] >= before[1] - 100, (before, after)
