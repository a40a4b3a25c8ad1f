"""The benchmark modules import one another without a cycle (what they share lives in bench/stage.py)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_imports(path: Path) -> set[str]:
    """Every bench module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bench."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bench.")}
    return found


def test_the_benchmarks_import_one_another_without_a_cycle() -> None:
    graph = {f"bench.{p.stem}": _bench_imports(p) for p in BENCH.glob("*.py")}
    assert graph["bench.run"] and graph["bench.orchestration"], graph  # the scan sees imports inside functions
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"bench modules import each other in a cycle: {err.args[1]}") from None
    assert order.index("bench.stage") < order.index("bench.orchestration") < order.index("bench.run")
