"""Keep a tariff's live prices fresh: the loop the service runs as one asyncio task.

It asks the feed only when the schedule says so (after publication until tomorrow is there,
backing off after failures; then at the next publication), and calls `on_update` whenever the
known prices grew, which is the moment to re-plan: a plan made on the forecast is provisional
until then. The clock and the sleep are injected, so tests and accelerated demos drive it
without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from optimizer.ports import Clock
from optimizer.prices.live import FeedStatus
from optimizer.prices.source import TariffPrices

if TYPE_CHECKING:
    import httpx

MIN_WAIT_S = 1.0
MAX_WAIT_S = 3600.0
"""Wake at least hourly, so a changed clock or a suspended laptop cannot stall the feed."""


async def keep_fresh(
    prices: TariffPrices,
    client: httpx.AsyncClient,
    clock: Clock,
    on_update: Callable[[FeedStatus], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rounds: int | None = None,
) -> None:
    """Run until cancelled (or for `rounds` wake-ups, for tests)."""
    known: datetime | None = prices.known_until
    done = 0
    while rounds is None or done < rounds:
        done += 1
        status = await prices.refresh(client, clock.now())
        if status is None:
            return  # a CSV or fixed tariff: nothing to keep fresh
        if status.known_until is not None and (known is None or status.known_until > known):
            known = status.known_until
            await on_update(status)
        wait = (status.next_fetch - clock.now()).total_seconds()
        await sleep(min(MAX_WAIT_S, max(MIN_WAIT_S, wait)))
