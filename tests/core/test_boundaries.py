"""What may import what: benchmarks never reach into the tests, and the installed package never
reads data that only exists next to a development checkout (`shared/data/real`)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_bench_does_not_import_tests() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in _imported_modules(path)
                                            if m == "tests" or m.startswith("tests."))
        for path in sorted((REPO / "bench").glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_package_reads_no_development_data() -> None:
    readers = [str(path.relative_to(REPO)) for path in sorted((REPO / "optimizer").rglob("*.py"))
               if '"shared"' in path.read_text(encoding="utf-8")
               or "shared/data" in path.read_text(encoding="utf-8")]
    assert readers == []


def test_the_moved_harness_still_finds_the_real_data() -> None:
    from bench.soc_traces import DATA_DIR

    assert (DATA_DIR / "SOURCES.md").is_file()
