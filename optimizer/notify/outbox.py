"""The notification outbox: a table in the service's SQLite database.

A notification is committed here before `notify` returns, and a delivery is recorded per URL
the moment that URL has accepted it. So a kill -9 loses nothing that was handed over, and a
URL that confirmed a message never gets it again. The one case that cannot be decided is a
request in flight at the kill (the receiver may have read it without answering): such a
delivery counts as not made and is repeated at the next start, since a lost warning ("the
car will not be full") is worse than a repeated one.

The UNIQUE `dedupe_key` is the de-duplication: a second notification with the same key is
ignored for as long as the first row is kept (`keep_days`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from optimizer.events import Notification, NotificationKind

PENDING, SENT, FAILED = "pending", "sent", "failed"

OUTBOX_SCHEMA = """
-- the notification outbox (optimizer/notify/outbox.py)
CREATE TABLE IF NOT EXISTS notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    vehicle TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_to TEXT NOT NULL DEFAULT '[]',
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS notify_outbox_sent ON notify_outbox (sent_at);
"""


def migrate_outbox(conn: sqlite3.Connection) -> None:
    """Create the outbox table and its indexes on a database of its own; the service's
    database gets them as its numbered migration 3 (`optimizer/store.py`), so on that file
    this is a no-op."""
    conn.executescript(OUTBOX_SCHEMA)


def url_fingerprint(url: str) -> str:
    """Names a URL in the table without storing its secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    notification: Notification
    attempts: int
    delivered_to: frozenset[str]


class Outbox:
    """Reads and writes the outbox table; every method is one short transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._db = conn
        migrate_outbox(conn)

    def enqueue(self, notification: Notification, now: datetime) -> bool:
        """Store a notification for delivery; False when its `dedupe_key` is already known."""
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO notify_outbox (dedupe_key, kind, vehicle, title, body, "
                "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (notification.dedupe_key, notification.kind.value, notification.vehicle,
                 notification.title, notification.body,
                 notification.created_at.astimezone(UTC).isoformat(), now.timestamp()))
        return cursor.rowcount == 1

    def due(self, now: datetime, limit: int) -> list[OutboxRow]:
        rows = self._db.execute(
            "SELECT id, kind, vehicle, title, body, dedupe_key, created_at, attempts, "
            "delivered_to FROM notify_outbox WHERE state = ? AND next_attempt_at <= ? "
            "ORDER BY id LIMIT ?", (PENDING, now.timestamp(), limit)).fetchall()
        return [OutboxRow(
            id=row[0],
            notification=Notification(
                kind=NotificationKind(row[1]), vehicle=row[2], title=row[3], body=row[4],
                dedupe_key=row[5], created_at=datetime.fromisoformat(row[6])),
            attempts=row[7], delivered_to=frozenset(json.loads(row[8]))) for row in rows]

    def next_attempt_at(self) -> datetime | None:
        row = self._db.execute("SELECT min(next_attempt_at) FROM notify_outbox WHERE state = ?",
                               (PENDING,)).fetchone()
        return None if row[0] is None else datetime.fromtimestamp(row[0], UTC)

    def delivered(self, row_id: int, fingerprint: str) -> None:
        """Record at once that one URL accepted the message."""
        with self._db:
            (current,) = self._db.execute(
                "SELECT delivered_to FROM notify_outbox WHERE id = ?", (row_id,)).fetchone()
            done = sorted({*json.loads(current), fingerprint})
            self._db.execute("UPDATE notify_outbox SET delivered_to = ? WHERE id = ?",
                             (json.dumps(done), row_id))

    def finished(self, row_id: int, now: datetime) -> None:
        with self._db:
            self._db.execute(
                "UPDATE notify_outbox SET state = ?, sent_at = ?, attempts = attempts + 1 "
                "WHERE id = ?", (SENT, now.timestamp(), row_id))

    def retry_later(self, row_id: int, at: datetime, give_up: bool) -> None:
        with self._db:
            self._db.execute(
                "UPDATE notify_outbox SET state = ?, attempts = attempts + 1, "
                "next_attempt_at = ? WHERE id = ?",
                (FAILED if give_up else PENDING, at.timestamp(), row_id))

    def sent_since(self, since: datetime) -> list[datetime]:
        """When the messages delivered after `since` went out, oldest first (rate limit)."""
        rows = self._db.execute(
            "SELECT sent_at FROM notify_outbox WHERE sent_at > ? ORDER BY sent_at",
            (since.timestamp(),)).fetchall()
        return [datetime.fromtimestamp(row[0], UTC) for row in rows]

    def prune(self, now: datetime, keep: timedelta) -> int:
        """Forget delivered and abandoned rows older than `keep` (their keys may recur)."""
        with self._db:
            cursor = self._db.execute(
                "DELETE FROM notify_outbox WHERE state != ? AND next_attempt_at < ? "
                "AND coalesce(sent_at, next_attempt_at) < ?",
                (PENDING, (now - keep).timestamp(), (now - keep).timestamp()))
        return cursor.rowcount

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, count(*) FROM notify_outbox GROUP BY state")
        return {state: count for state, count in rows}
