"""The service database on a real SQLite file: migrations, round trips, the bounded log."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from optimizer.service.database import DATABASE_FILE, ServiceDatabase
from optimizer.session import (
    Decision,
    MakePlan,
    PlanReady,
    Plugged,
    SavePlan,
    SocReport,
    VehicleState,
    step,
)
from optimizer.store import MIGRATIONS, SqliteStore, StoreError
from tests.service.test_session import T0, fresh, prices, run_plan, spec


def planned_state() -> tuple[VehicleState, list[Decision]]:
    state, _ = step(fresh(), SocReport(30, 29.5, 30.5, T0), T0)
    state, decisions = step(state, Plugged("car"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    state, decisions = step(state, PlanReady(run_plan(state, make, T0), make.reason), T0)
    return state, decisions


def test_state_with_session_and_plan_survives_reopening(tmp_path: Path) -> None:
    state, decisions = planned_state()
    with ServiceDatabase(tmp_path) as db:
        db.save_state("iX1", state, T0)
        assert state.session is not None
        db.save_session(state.session)
        db.save_plan(next(d for d in decisions if isinstance(d, SavePlan)), T0)
        db.save_prices(prices())
    with ServiceDatabase(tmp_path) as again:
        loaded = again.load_state(spec())
        assert loaded is not None
        assert loaded.session == state.session and loaded.plan == state.plan
        assert loaded.soc == state.soc and loaded.plan_version == 1
        assert again.load_prices() == prices()
        assert state.session is not None
        plans = again.plans(state.session.id)
        assert [p["version"] for p in plans] == [1] and "plugged in" in plans[0]["reason"]
        assert again.sessions()[0]["id"] == state.session.id
        assert again.load_state(spec(name="other")) is None


def test_wal_and_schema_version(tmp_path: Path) -> None:
    with ServiceDatabase(tmp_path):
        pass
    db = sqlite3.connect(tmp_path / DATABASE_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_an_old_store_is_migrated_and_keeps_its_documents(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILE
    old = sqlite3.connect(path)  # what SqliteStore wrote before it had migrations
    old.execute("CREATE TABLE documents (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "updated_at TEXT)")
    old.execute("INSERT INTO documents VALUES ('soc/learned/X', '{\"a\": 1}', NULL)")
    old.commit()
    old.close()
    with ServiceDatabase(tmp_path) as db:
        assert db.load("soc/learned/X") == {"a": 1}
        assert db.sessions() == []


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this program"):
        SqliteStore(path)


def test_event_log_is_bounded(tmp_path: Path) -> None:
    with ServiceDatabase(tmp_path, event_log_rows=50) as db:
        for i in range(200):
            db.log_event(T0 + timedelta(seconds=i), "iX1", "Tick", {"i": i})
        events = db.events(limit=1000)
        assert 50 <= len(events) <= 55
        assert events[0]["detail"] == {"i": 199}


def test_the_notification_outbox_is_a_numbered_migration_of_the_service_database(
        tmp_path: Path) -> None:
    """The outbox lives in the service's own file (one database, one backup) and comes with
    its schema version; a database of the version before gets it on open."""
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / DATABASE_FILE) as conn:  # a database of the service's first wave
        for number, script in enumerate(MIGRATIONS[:2], start=1):
            conn.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
    for state_dir in (tmp_path, old):
        with ServiceDatabase(state_dir) as db:
            tables = {row[0] for row in db._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = db._db.execute("PRAGMA user_version").fetchone()[0]
        assert "notify_outbox" in tables and version == len(MIGRATIONS) == 3
