"""The service's SQLite database, `<state_dir>/ev-optimizer.db`: vehicle state, sessions,
every plan version with its reason, a bounded event log, the last prices, and (as documents of
the `SqliteStore` underneath) the learned estimator parameters and the CarData container id.

Each write is one transaction, committed before the service acts on it, so a kill -9 at any
moment leaves the last committed state: the restart reloads it (the same open session, plan
and meter position) instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from optimizer.model import PriceSlot
from optimizer.service.codec import plan_to_dict, session_to_dict, state_from_dict, state_to_dict
from optimizer.session import SavePlan, Session, VehicleSpec, VehicleState
from optimizer.store import SqliteStore

DATABASE_FILE = "ev-optimizer.db"
EVENT_LOG_ROWS = 10_000


class ServiceDatabase(SqliteStore):
    def __init__(self, state_dir: Path, *, event_log_rows: int = EVENT_LOG_ROWS) -> None:
        super().__init__(state_dir / DATABASE_FILE)
        self.event_log_rows = event_log_rows
        self._events_since_trim = 0

    # -- vehicle state -------------------------------------------------------------------

    def save_state(self, name: str, state: VehicleState, now: datetime) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO vehicles (name, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at",
                (name, json.dumps(state_to_dict(state)), now.isoformat()))

    def load_state(self, spec: VehicleSpec) -> VehicleState | None:
        row = self._db.execute("SELECT state FROM vehicles WHERE name = ?",
                               (spec.name,)).fetchone()
        return None if row is None else state_from_dict(json.loads(row[0]), spec)

    # -- sessions and plans --------------------------------------------------------------

    def save_session(self, session: Session) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO sessions (id, vehicle, started_at, ended_at, energy_kwh, cost, "
                "cost_on_arrival, saving, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET ended_at = excluded.ended_at, "
                "energy_kwh = excluded.energy_kwh, cost = excluded.cost, "
                "cost_on_arrival = excluded.cost_on_arrival, saving = excluded.saving, "
                "data = excluded.data",
                (session.id, session.vehicle, session.started_at.isoformat(),
                 session.ended_at.isoformat() if session.ended_at else None,
                 session.energy_kwh, session.cost, session.cost_on_arrival, session.saving,
                 json.dumps(session_to_dict(session))))

    def sessions(self, limit: int = 500) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, vehicle, started_at, ended_at, energy_kwh, cost, cost_on_arrival, "
            "saving FROM sessions ORDER BY started_at DESC LIMIT ?", (limit,)).fetchall()
        keys = ("id", "vehicle", "started_at", "ended_at", "energy_kwh", "cost",
                "cost_on_arrival", "saving")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def save_plan(self, decision: SavePlan, now: datetime) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO plans (vehicle, session_id, version, made_at, reason, plan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (decision.vehicle, decision.session_id, decision.version, now.isoformat(),
                 decision.reason, json.dumps(plan_to_dict(decision.plan))))

    def plans(self, session_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT version, made_at, reason, plan FROM plans WHERE session_id = ? "
            "ORDER BY version", (session_id,)).fetchall()
        return [{"version": v, "made_at": at, "reason": reason, "plan": json.loads(plan)}
                for v, at, reason, plan in rows]

    # -- event log and prices ------------------------------------------------------------

    def log_event(self, at: datetime, vehicle: str | None, kind: str,
                  detail: dict[str, Any]) -> None:
        """Append to the event log, keeping only the newest `event_log_rows` rows."""
        with self._db:
            self._db.execute("INSERT INTO events (at, vehicle, kind, detail) VALUES (?, ?, ?, ?)",
                             (at.isoformat(), vehicle, kind, json.dumps(detail, default=str)))
            self._events_since_trim += 1
            if self._events_since_trim >= max(1, self.event_log_rows // 10):
                self._events_since_trim = 0
                self._db.execute(
                    "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?",
                    (self.event_log_rows,))

    def events(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT at, vehicle, kind, detail FROM events ORDER BY id DESC LIMIT ?",
            (limit,)).fetchall()
        return [{"at": at, "vehicle": v, "kind": k, "detail": json.loads(d)}
                for at, v, k, d in rows]

    def save_prices(self, prices: Sequence[PriceSlot]) -> None:
        with self._db:
            self._db.execute("DELETE FROM prices")
            self._db.executemany(
                "INSERT INTO prices (start, end, price) VALUES (?, ?, ?)",
                [(p.start.isoformat(), p.end.isoformat(), p.price) for p in prices])

    def load_prices(self) -> tuple[PriceSlot, ...]:
        rows = self._db.execute("SELECT start, end, price FROM prices ORDER BY start").fetchall()
        return tuple(PriceSlot(datetime.fromisoformat(a), datetime.fromisoformat(b), p)
                     for a, b, p in rows)
