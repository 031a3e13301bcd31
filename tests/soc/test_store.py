"""SqliteStore: the Store port on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from optimizer.ports import Store
from optimizer.store import SqliteStore, StoreError


def test_round_trip_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "store.sqlite"
    with SqliteStore(path) as store:
        assert isinstance(store, Store)
        assert store.load("soc/learned/X") is None
        store.save("soc/learned/X", {"efficiency": [0.9, 0.88], "n": 2})
        store.save("soc/learned/X", {"efficiency": [0.87], "n": 3},
                   now=datetime(2026, 1, 1, tzinfo=UTC))
        store.save("quota", [1, 2, 3])
    with SqliteStore(path) as again:
        assert again.load("soc/learned/X") == {"efficiency": [0.87], "n": 3}
        assert again.keys("soc/") == ["soc/learned/X"]


def test_values_that_are_not_json_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as store:
        store.save("k", {"ok": 1})
        with pytest.raises(StoreError, match="'k'"):
            store.save("k", {"bad": float("nan")})
        assert store.load("k") == {"ok": 1}


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    path = tmp_path / "not.sqlite"
    path.write_text("hello, this is not a database" * 100)
    with pytest.raises(StoreError, match=r"not\.sqlite"):
        SqliteStore(path)
