"""`SqliteStore`: the `Store` port as named JSON documents in one SQLite file on disk.

Small state (what the SoC estimator learned per vehicle, a quota ledger, the last plan) must
survive restarts, and a half-written file must never replace a good one. SQLite gives atomic
commits and a single file without running a server; each document is one row, so writers of
different keys never clobber each other. Values are stored as JSON text so the file stays
readable with the `sqlite3` shell.

The file is versioned: `MIGRATIONS` is the numbered list of schema steps and `PRAGMA
user_version` says how many have run, so an old file is brought up to date on open and a file
from a newer version is refused instead of being misread. WAL journaling lets the HTTP side read
while the service writes, and a kill -9 loses only a transaction that had not committed.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Self

from optimizer.errors import InputError
from optimizer.model import require_aware
from optimizer.notify.outbox import OUTBOX_SCHEMA

MIGRATIONS: tuple[str, ...] = (
    # 1: named JSON documents (learned estimator parameters, small ledgers)
    """
    CREATE TABLE IF NOT EXISTS documents (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT
    );
    """,
    # 2: the charging service (optimizer/service/database.py)
    """
    CREATE TABLE vehicles (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        vehicle TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        energy_kwh REAL NOT NULL,
        cost REAL NOT NULL,
        cost_on_arrival REAL,
        saving REAL,
        data TEXT NOT NULL
    );
    CREATE INDEX sessions_by_start ON sessions (started_at);
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vehicle TEXT NOT NULL,
        session_id TEXT,
        version INTEGER NOT NULL,
        made_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        plan TEXT NOT NULL
    );
    CREATE INDEX plans_by_session ON plans (session_id, version);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        vehicle TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE prices (
        start TEXT PRIMARY KEY,
        end TEXT NOT NULL,
        price REAL
    );
    """,
    # 3: the notification outbox, so a notification is neither lost nor sent twice
    OUTBOX_SCHEMA,
)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Run the migrations this file has not seen yet, each in its own transaction."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise StoreError(
            f"store {path}: schema version {version} is newer than this program knows "
            f"({len(MIGRATIONS)}); update ev-optimizer or use another state_dir")
    for number in range(version + 1, len(MIGRATIONS) + 1):
        db.executescript(
            f"BEGIN; {MIGRATIONS[number - 1]} PRAGMA user_version = {number}; COMMIT;")


class StoreError(InputError):
    """The store file cannot be opened or holds something that is not our JSON."""


class SqliteStore:
    """Load and save named JSON documents in an SQLite file (created on first use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit off (the default): each save is its own transaction, committed at once
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            migrate(self._db, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: cannot open as SQLite ({exc})") from None

    def load(self, key: str) -> object | None:
        """The document saved under `key`, or None if there is none."""
        row = self._db.execute("SELECT value FROM documents WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            value: object = json.loads(row[0])
        except ValueError as exc:
            raise StoreError(f"store {self.path}: document {key!r} is not valid JSON ({exc})"
                             ) from None
        return value

    def save(self, key: str, value: object, now: datetime | None = None) -> None:
        """Replace the document under `key` atomically; `now` (if given) is kept for humans."""
        if now is not None:
            require_aware("now", now)
        try:
            text = json.dumps(value, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"store: document {key!r} cannot be saved as JSON ({exc})") from None
        with self._db:  # one transaction: commit on success, roll back on error
            self._db.execute(
                "INSERT INTO documents (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, text, now.isoformat() if now is not None else None),
            )

    def keys(self, prefix: str = "") -> list[str]:
        """The keys saved so far that start with `prefix`, sorted."""
        rows = self._db.execute(
            "SELECT key FROM documents WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
