"""`AppriseNotifier`: the `Notifier` port, an outbox in SQLite and a sender task.

`notify` only filters by kind and commits the notification to the outbox (well under a
millisecond), so the control loop never waits on a network. `run` is the sender: it delivers
what is due through apprise in a worker thread, one URL at a time (each URL's success is
recorded at once, so a URL that failed is retried without repeating the message to the
others), keeps to the rate limit and retries failures with a doubling delay.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import apprise

from optimizer.aio import result_within
from optimizer.errors import ConfigError
from optimizer.events import Notification
from optimizer.notify.outbox import Outbox, OutboxRow, url_fingerprint
from optimizer.notify.settings import NotifySettings

log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(hours=1)
MAX_RETRY_DELAY = timedelta(hours=1)
BATCH = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Target:
    """One apprise URL, with the fingerprint that names it in the outbox."""

    def __init__(self, index: int, url: str) -> None:
        self.fingerprint = url_fingerprint(url)
        self.scheme = urlsplit(url).scheme or "?"
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            # the URL itself holds secrets, so only its scheme is named
            raise ConfigError(f"[notify] urls[{index}]: apprise does not accept this "
                              f"'{self.scheme}://' URL; see the apprise wiki for its format")

    def send(self, title: str, body: str) -> bool:
        return bool(self._apprise.notify(title=title, body=body))


def open_outbox_db(path: Path) -> sqlite3.Connection:
    """The service database (WAL, so the service's own connection and ours do not block)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across a process kill
    return conn


class AppriseNotifier:
    def __init__(self, db_path: Path, settings: NotifySettings,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.settings = settings
        self._targets = [_Target(i, url) for i, url in enumerate(settings.all_urls())]
        self._events = frozenset(settings.events)
        self._clock = clock
        self._conn = open_outbox_db(db_path)
        self.outbox = Outbox(self._conn)
        self._wake = asyncio.Event()

    def close(self) -> None:
        self._conn.close()

    async def notify(self, notification: Notification) -> None:
        if notification.kind not in self._events:
            log.debug("notification %s not sent: kind %s is not in [notify] events",
                      notification.dedupe_key, notification.kind.value)
            return
        if self.outbox.enqueue(notification, self._clock()):
            self._wake.set()
        else:
            log.debug("notification %s already known; not sent again", notification.dedupe_key)

    async def run(self) -> None:
        """The sender task: deliver until cancelled."""
        while True:
            await self.send_due()
            now = self._clock()
            wake_at = self._next_wake(now)
            self._wake.clear()
            timeout = None if wake_at is None else max(0.0, (wake_at - now).total_seconds())
            await result_within(self._wake.wait(), timeout)

    async def send_due(self) -> int:
        """Deliver every due message the rate limit allows now; the number delivered."""
        sent = 0
        while True:
            now = self._clock()
            allowed = self._allowance(now)
            rows = self.outbox.due(now, min(allowed, BATCH)) if allowed > 0 else []
            if not rows:
                self.outbox.prune(now, timedelta(days=self.settings.keep_days))
                return sent
            for row in rows:
                if await self._deliver(row):
                    sent += 1

    async def _deliver(self, row: OutboxRow) -> bool:
        message = row.notification
        failed = []
        for target in self._targets:
            if target.fingerprint in row.delivered_to:
                continue
            try:
                ok = await asyncio.to_thread(target.send, message.title, message.body)
            except Exception:  # an apprise plugin bug must not end the sender
                log.exception("notification %s: %s:// raised", message.dedupe_key, target.scheme)
                ok = False
            if ok:
                self.outbox.delivered(row.id, target.fingerprint)
            else:
                failed.append(target.scheme)
        now = self._clock()
        if not failed:
            self.outbox.finished(row.id, now)
            return True
        attempts = row.attempts + 1
        give_up = attempts >= self.settings.max_attempts
        delay = min(timedelta(seconds=self.settings.retry_s * 2 ** (attempts - 1)),
                    MAX_RETRY_DELAY)
        self.outbox.retry_later(row.id, now + delay, give_up)
        if give_up:
            log.error("notification %s: %s:// failed %d times; giving up",
                      message.dedupe_key, ", ".join(failed), attempts)
        else:
            log.warning("notification %s: %s:// failed (attempt %d); retrying in %.0f s",
                        message.dedupe_key, ", ".join(failed), attempts, delay.total_seconds())
        return False

    def _allowance(self, now: datetime) -> int:
        return self.settings.max_per_hour - len(self.outbox.sent_since(now - RATE_WINDOW))

    def _next_wake(self, now: datetime) -> datetime | None:
        """When a pending message may go: its retry time, or when the rate window frees."""
        due = self.outbox.next_attempt_at()
        if due is None:
            return None
        if self._allowance(now) > 0:
            return due
        oldest = self.outbox.sent_since(now - RATE_WINDOW)[0]
        return max(due, oldest + RATE_WINDOW)
