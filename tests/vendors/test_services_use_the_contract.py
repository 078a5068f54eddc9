"""What lies above ``vendors/`` asks an adapter only what ``VendorAdapter`` declares (issue 31).

A member probed by name (``getattr(adapter, "find_orders", None)``) turns silently into "this vendor
cannot" the day the method is renamed; a member the base does not declare is a contract nobody checks.
So: no ``getattr``/``hasattr``/``setattr``/``delattr`` on an adapter, its class or its factory's result,
and every attribute read on one is a public member of ``VendorAdapter`` (a method, a class attribute
with its default, ``supports`` or ``absent_reason``). Read from the source with ``ast``; no sandbox.

An expression is taken for an adapter when it is a name bound to one — a parameter annotated
``VendorAdapter`` or ``type[VendorAdapter]``, ``x = adapter_class(...)``/``build_adapter(...)``,
``async with make_adapter(...) as x`` or ``... self.adapter_factory(...) as x`` — the name ``adapter``,
a call of one of those factories, or ``type()`` of an adapter.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from esimdesk.vendors import VendorAdapter

ROOT = Path(__file__).resolve().parents[2] / "esimdesk"
ABOVE_VENDORS = ("services", "cli", "ui")  # every layer that reaches adapters through services or directly
FACTORIES = {"adapter_class", "build_adapter", "make_adapter", "adapter_factory"}
PROBES = {"getattr", "hasattr", "setattr", "delattr"}
DECLARED = {name for name in dir(VendorAdapter) if not name.startswith("_")}


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _annotated_adapter(annotation: ast.AST | None) -> bool:
    return annotation is not None and "VendorAdapter" in ast.unparse(annotation)


class _Scope:
    """The names one function (with what it nests) binds to adapters."""

    def __init__(self, fn: ast.AST):
        self.names = {"adapter"}
        args = getattr(fn, "args", None)
        if args is not None:
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                if _annotated_adapter(arg.annotation):
                    self.names.add(arg.arg)
        # Bindings can chain (x = adapter_class(v); y = x): repeat until nothing new is learnt.
        while True:
            before = len(self.names)
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and self.is_adapter(node.value):
                    self.names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and (
                        _annotated_adapter(node.annotation) or (node.value is not None and self.is_adapter(node.value))):
                    self.names.add(node.target.id)
                elif isinstance(node, ast.With | ast.AsyncWith):
                    for item in node.items:
                        if isinstance(item.optional_vars, ast.Name) and self.is_adapter(item.context_expr):
                            self.names.add(item.optional_vars.id)
            if len(self.names) == before:
                return

    def is_adapter(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.names
        if isinstance(node, ast.Await):
            return self.is_adapter(node.value)
        name = _called_name(node)
        if name in FACTORIES:
            return True
        if name == "type" and isinstance(node, ast.Call) and node.args:
            return self.is_adapter(node.args[0])
        return False


def violations(source: str, where: str = "<source>") -> list[str]:
    """Every probe of an adapter by name, and every undeclared member read on one, in ``source``."""
    tree = ast.parse(source)
    found: list[str] = []
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)]
    for fn in [tree, *functions]:
        scope = _Scope(fn)
        body = fn.body if isinstance(fn.body, list) else [fn.body]
        for stmt in body:
            for node in ast.walk(stmt):
                if _called_name(node) in PROBES and isinstance(node.func, ast.Name) and node.args \
                        and scope.is_adapter(node.args[0]):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)} probes an adapter by name")
                elif isinstance(node, ast.Attribute) and scope.is_adapter(node.value) \
                        and node.attr not in DECLARED:
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}: '{node.attr}' is not declared "
                                 "by VendorAdapter")
    return sorted(set(found))


def _modules() -> list[Path]:
    files = [p for layer in ABOVE_VENDORS for p in sorted((ROOT / layer).rglob("*.py"))]
    assert len(files) > 20, files  # the layers are where this test thinks they are
    return files


def test_nothing_above_vendors_probes_an_adapter_or_reads_an_undeclared_member():
    found = [v for path in _modules()
             for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT.parent)))]
    assert found == [], "declare it on VendorAdapter (a method raising Unsupported, a capability or a " \
                        "class attribute with its default) and ask supports():\n" + "\n".join(found)


def test_services_do_reach_adapters_through_the_contract():
    """The scan sees real adapter use (else the test above would pass on nothing)."""
    seen: set[str] = set()
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            scope = _Scope(fn)
            seen.update(n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute) and scope.is_adapter(n.value))
    # What the probes became: capabilities asked, methods called, class attributes read.
    assert {"supports", "capabilities", "needs_start_date", "order_by_reference", "find_orders",
            "list_plan_topups", "share_link", "free_stock", "allocation_seconds", "incremental_plans",
            "orders_carry_fleet", "place_order", "get_order"} <= seen, sorted(seen)


# --- the checker itself fails where it should ---------------------------------------------------------
BAD = {
    "getattr on an adapter parameter": """
        async def f(adapter: VendorAdapter):
            finder = getattr(adapter, "find_orders", None)
    """,
    "hasattr on an adapter class": """
        def f(vendor):
            return hasattr(adapter_class(vendor), "share_link")
    """,
    "getattr on a factory's adapter": """
        async def f(self, config):
            async with self.adapter_factory(config) as a:
                return getattr(a, "allocation_seconds", 0.0)
    """,
    "getattr on a class bound to a name": """
        def f(vendor):
            cls = adapter_class(vendor)
            klass = cls
            return getattr(klass, "incremental_plans", False)
    """,
    "an undeclared method": """
        async def f(cfg):
            async with make_adapter(cfg) as vendor_api:
                return await vendor_api.list_orders()
    """,
    "an undeclared attribute of the class": """
        def f(vendor):
            return adapter_class(vendor).page_size
    """,
    "a private member": """
        async def f(x: type[VendorAdapter]):
            return x._unsupported("top up")
    """,
    "getattr on type(adapter)": """
        def f(adapter):
            return getattr(type(adapter), "free_stock", None)
    """,
}
GOOD = """
    async def f(self, config, vendor, esim, action):
        cls = adapter_class(vendor)
        if Capability.SHARE_LINK in cls.capabilities and cls.refusal(esim, action) is None:
            async with self.adapter_factory(config) as adapter:
                if adapter.supports(Capability.FIND_ORDERS):
                    return await adapter.find_orders("p", 1, None, None), adapter.allocation_seconds
        reason = getattr(exc, "reason", "config")  # not an adapter
        return getattr(sys, "frozen", False), hasattr(os, "nice"), cls.absent_reason(Capability.TOPUP)
"""


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_check_finds(case):
    found = violations(textwrap.dedent(BAD[case]))
    assert len(found) == 1, found


def test_the_check_lets_the_contract_pass():
    assert violations(textwrap.dedent(GOOD)) == []
