"""Telling the person, wired into the service from the config: `[notify]` and `[mqtt]`.

`open_tell(config, db_path)` gives the notifiers (an `AppriseNotifier` on the service's own
database, its sender running as a task until the context closes) and the adapters (the Home
Assistant entities). `vehicle_extras` adds what the dashboard draws to each vehicle's view: the
price curve to departure, the expected saving and the currency. Kept out of `app.py`/`core.py`
so they only hold the call lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from optimizer.aio import stop_tasks
from optimizer.config import Config
from optimizer.ha_mqtt.entities import run_ha_entities
from optimizer.notify.sender import AppriseNotifier
from optimizer.ports import Notifier
from optimizer.session import VehicleState, cost_at_once, remaining
from optimizer.web.facade import ServiceFacade

log = logging.getLogger(__name__)

PRICE_HORIZON_WITHOUT_DEPARTURE = timedelta(hours=24)


@dataclass
class Tell:
    notifiers: list[Notifier] = field(default_factory=list)
    adapters: list[Callable[[ServiceFacade], Awaitable[None]]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def open_tell(config: Config, db_path: Path) -> AsyncIterator[Tell]:
    """The notifiers and adapters `[notify]` and `[mqtt]` ask for; the sender stops on exit
    (what it had not sent yet stays in the outbox for the next start)."""
    tell = Tell()
    notifier: AppriseNotifier | None = None
    sender: asyncio.Task[None] | None = None
    urls = config.notify.all_urls()  # a urls_file that is not 0600 is refused here
    if urls:
        notifier = AppriseNotifier(db_path, config.notify)
        sender = asyncio.create_task(notifier.run(), name="notification sender")
        tell.notifiers.append(notifier)
        log.info("notifications: %d apprise URL(s)", len(urls))  # never the URLs: secrets
    if config.mqtt is not None:
        mqtt, tz = config.mqtt, config.tz

        async def home_assistant_entities(facade: ServiceFacade) -> None:
            await run_ha_entities(facade, mqtt, tz=tz)

        tell.adapters.append(home_assistant_entities)
    try:
        yield tell
    finally:
        if sender is not None:
            await stop_tasks([sender])
        if notifier is not None:
            notifier.close()


def vehicle_extras(state: VehicleState, now: datetime, currency: str) -> dict[str, Any]:
    """`prices` from now to departure, `expected_saving` (the session's cost so far plus what
    the plan still costs, against charging all of it at once on arrival) and `currency`."""
    departure = state.session_departure(now)
    until = departure if departure is not None and departure > now \
        else now + PRICE_HORIZON_WITHOUT_DEPARTURE
    prices = [{"start": s.start.isoformat(), "end": s.end.isoformat(), "price": s.price}
              for s in state.prices if s.end > now and s.start < until]
    saving = None
    session, plan = state.session, state.plan
    if session is not None and plan is not None:
        energy_kwh, cost = remaining(plan, now)
        reference = cost_at_once(state.prices, session.started_at,
                                 session.energy_kwh + energy_kwh, state.spec.max_power_kw)
        if reference is not None:
            saving = round(reference - (session.cost + cost), 4)
    return {"prices": prices, "expected_saving": saving, "currency": currency}
