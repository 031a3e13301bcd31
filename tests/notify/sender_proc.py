"""A process that hands N notifications to an AppriseNotifier and sends them all, for the
kill -9 test: `python -m tests.notify.sender_proc DB URL N`. Enqueueing is idempotent (by
`dedupe_key`), so running it again after a kill is what a restarted service does."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from optimizer.events import Notification, NotificationKind
from optimizer.notify.sender import AppriseNotifier
from optimizer.notify.settings import NotifySettings


async def main(db: Path, url: str, count: int) -> None:
    notifier = AppriseNotifier(db, NotifySettings(urls=[url], max_per_hour=1000))
    now = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    for index in range(count):
        await notifier.notify(Notification(NotificationKind.PLAN, "iX1", "plan",
                                           f"message {index}", f"key-{index}", now))
    while notifier.outbox.counts().get("pending", 0):
        await notifier.send_due()
    notifier.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
