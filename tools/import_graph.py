"""The import graph of esimdesk/: no circle, no import from a lower layer to a higher one (README → Architecture).

Every module of the package is parsed with ``ast`` (nothing is imported or run). Every ``import`` and
``from … import`` counts as an edge wherever it stands: at module level, inside a function, a method or a
``try``. Imports under ``if TYPE_CHECKING:`` are left out: they never run, so they make no dependency at
run time (they are for annotations only).

An edge goes to the module that is named: ``from esimdesk.store import rows`` to ``esimdesk.store.rows``
(a module), ``from esimdesk.domain import Esim`` to ``esimdesk.domain`` (the package's ``__init__``, which
re-exports it). The parent packages Python runs on the way (``esimdesk.store``'s ``__init__`` for
``esimdesk.store.rows``) are not edges: a package that re-exports its modules would otherwise be a circle
with each of them.

It fails (exit status 1, each listed) on:

- a circle: modules that import each other, directly or round a loop (a strongly connected component of
  more than one module, or a module importing itself);
- an upward import. The layers, lowest first: ``domain`` (imports nothing of ours); ``vendors`` and
  ``store`` (each only ``domain``; neither imports the other); ``services``; ``ui`` and ``cli``.
  ``esimdesk`` (the version) and ``esimdesk.resources`` are leaves anything above ``domain`` may import;
  ``esimdesk.__main__`` is the entry point;
- ``esimdesk.sandbox``: a separate program that imports nothing of ours outside itself and is imported
  only by what starts it, ``SANDBOX_STARTERS`` below (``--demo``: services/runtime.py's
  ``start_demo_sandbox``, which services/demo.py and the window reach through it; tests start it too, but
  tests are not part of the package);
- an import inside a function with no comment saying why it is not at the top (on its line, or on the
  line above it or above the run of imports it belongs to). Imports belong at the top, where they show
  what a module depends on; one stays in a function only for a measured start-up cost, which its comment
  names: what ``esimdesk --version`` and the listing commands must not load (services and the store,
  httpx, PySide6), psycopg outside team mode, the sandbox (starlette, uvicorn) outside ``--demo``, and
  dialogs the window's cold start (bench/cold_start.py) does not need. ``--lazy`` lists every import
  inside a function with its comment.

``python tools/import_graph.py [--lazy] [--root DIR] [--package NAME]``; ``tests/test_import_graph.py``
runs it on esimdesk/ and on small synthetic packages that must fail.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. vendors and store share a rank but must not import each other (FORBIDDEN_PAIRS).
RANK = {"domain": 0, "vendors": 1, "store": 1, "services": 2, "ui": 3, "cli": 3}
FORBIDDEN_PAIRS = {("vendors", "store"), ("store", "vendors")}
LEAVES = {"", "resources"}  # esimdesk itself (__version__) and esimdesk.resources: import nothing of ours
ENTRY = {"__main__"}
# The only modules that may import the sandbox: what --demo runs to start it (tests start it too).
SANDBOX_STARTERS = {"services.runtime"}


@dataclass
class Import:
    source: str  # importing module, e.g. esimdesk.store.sqlite_store
    target: str  # imported module of ours
    line: int
    in_function: bool


@dataclass
class LazyImport:
    module: str
    line: int
    text: str
    commented: bool


@dataclass
class Graph:
    package: str
    modules: dict[str, Path] = field(default_factory=dict)
    edges: list[Import] = field(default_factory=list)
    lazy: list[LazyImport] = field(default_factory=list)

    def targets(self, source: str) -> set[str]:
        return {e.target for e in self.edges if e.source == source and e.target != source} | (
            {source} if any(e.source == e.target == source for e in self.edges) else set())


def module_name(package_dir: Path, path: Path, package: str) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, lines: list[str]):
        self.module = module
        self.is_package = is_package
        self.lines = lines
        self.depth = 0  # functions we are inside
        self.found: list[tuple[str, int, bool, list[str]]] = []  # (base, line, in_function, names)
        self.lazy: list[LazyImport] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _note_lazy(self, node: ast.stmt) -> None:
        if not self.depth:
            return
        here = self.lines[node.lineno - 1]
        # Its own line, or the line above it or above the run of imports it is part of.
        row = node.lineno - 2
        while row >= 0 and self.lines[row].strip().startswith(("import ", "from ")):
            row -= 1
        commented = "#" in here or (row >= 0 and self.lines[row].strip().startswith("#"))
        self.lazy.append(LazyImport(self.module, node.lineno, here.strip(), commented))

    def visit_Import(self, node: ast.Import) -> None:
        self._note_lazy(node)
        for alias in node.names:
            self.found.append((alias.name, node.lineno, bool(self.depth), []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._note_lazy(node)
        base = node.module or ""
        if node.level:
            anchor = self.module.split(".")
            if not self.is_package:
                anchor = anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        self.found.append((base, node.lineno, bool(self.depth), [a.name for a in node.names]))


def build(package_dir: Path, package: str | None = None) -> Graph:
    package = package or package_dir.name
    graph = Graph(package)
    for path in sorted(package_dir.rglob("*.py")):
        graph.modules[module_name(package_dir, path, package)] = path
    for module, path in graph.modules.items():
        source = path.read_text(encoding="utf-8")
        collector = _Collector(module, path.name == "__init__.py", source.splitlines())
        collector.visit(ast.parse(source, str(path)))
        graph.lazy.extend(collector.lazy)
        for base, line, in_function, names in collector.found:
            if base != package and not base.startswith(package + "."):
                continue
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in graph.modules]
            if len(targets) < len(names) or not names:  # a name that is not a module comes from base itself
                targets.append(base)
            for target in targets:
                if target in graph.modules:
                    graph.edges.append(Import(module, target, line, in_function))
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (and modules importing themselves): Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    adjacency = {m: sorted(graph.targets(m)) for m in graph.modules}

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adjacency[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in adjacency[v]:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph.modules) + 100))
    try:
        for m in sorted(graph.modules):
            if m not in index:
                connect(m)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def _part(graph: Graph, module: str) -> str:
    """The layer's name (domain, vendors, …), '' for the package itself, or a root module's name."""
    rest = module[len(graph.package) + 1:] if module != graph.package else ""
    return rest.split(".")[0]


def layer_violations(graph: Graph) -> list[str]:
    found = []
    for e in graph.edges:
        src, dst = _part(graph, e.source), _part(graph, e.target)
        rel_src = e.source[len(graph.package) + 1:]
        why = None
        if src == dst:
            continue
        if dst == "sandbox":
            if rel_src not in SANDBOX_STARTERS:
                why = "the sandbox is imported only by what starts it (" + ", ".join(sorted(SANDBOX_STARTERS)) + ")"
        elif src == "sandbox":
            why = "the sandbox is a separate program: it imports nothing of ours outside itself"
        elif dst in ENTRY:
            why = "nothing imports the entry point"
        elif src == "domain":
            why = "domain imports nothing of ours"
        elif src in LEAVES:
            why = f"{e.source} is a leaf: it imports nothing of ours"
        elif (src, dst) in FORBIDDEN_PAIRS:
            why = f"{src} and {dst} do not import each other"
        elif src in RANK and dst in RANK and RANK[dst] > RANK[src]:
            why = f"{src} is below {dst}"
        if why:
            found.append(f"{e.source}:{e.line} imports {e.target}: {why}")
    return found


def check(package_dir: Path, package: str | None = None, list_lazy: bool = False, out=sys.stdout) -> int:
    graph = build(package_dir, package)
    loops = circles(graph)
    upward = layer_violations(graph)
    uncommented = [i for i in graph.lazy if not i.commented]
    print(f"{len(graph.modules)} modules, {len(graph.edges)} imports of ours "
          f"({sum(e.in_function for e in graph.edges)} inside functions); "
          f"{len(graph.lazy)} imports inside functions in all, {len(graph.lazy) - len(uncommented)} saying why",
          file=out)
    for loop in loops:
        print(f"circle: {' <-> '.join(loop)}", file=out)
        for e in graph.edges:
            if e.source in loop and e.target in loop:
                print(f"    {e.source}:{e.line} imports {e.target}", file=out)
    for line in upward:
        print(f"upward: {line}", file=out)
    for i in graph.lazy:
        where = f"{graph.modules[i.module].relative_to(package_dir.parent)}:{i.line}: {i.text}"
        if not i.commented:
            print(f"lazy, no comment saying why: {where}", file=out)
        elif list_lazy:
            print(f"lazy: {where}", file=out)
    failed = bool(loops or upward or uncommented)
    print(f"{len(loops)} circles, {len(upward)} upward imports, {len(uncommented)} unexplained imports inside "
          f"functions: {'FAILED' if failed else 'ok'}", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT / "esimdesk", help="the package's folder")
    parser.add_argument("--package", help="its import name (default: the folder's name)")
    parser.add_argument("--lazy", action="store_true", help="also list every import inside a function")
    args = parser.parse_args(argv)
    return check(args.root, args.package, args.lazy)


if __name__ == "__main__":
    sys.exit(main())
