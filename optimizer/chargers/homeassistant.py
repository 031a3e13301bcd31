"""Anything Home Assistant can switch, as a charger: REST service calls with a long-lived token.

`start`/`stop` call the configured turn_on/turn_off services of the switch entity,
`set_current_limit` calls `number.set_value`/`input_number.set_value` on the current entity, and
each call is checked by reading the entity's state back. A refused token (401), an unknown
entity (404) and an unreachable Home Assistant each get their own message; connection problems
and 5xx answers are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.meter import TO_KILO, MeterFeed
from optimizer.chargers.settings import HomeAssistantSettings
from optimizer.events import ChargerState, ChargerStatus, MeterReading
from optimizer.ports import Clock

Sleep = Callable[[float], Awaitable[None]]

SWITCH_STATES: dict[str, ChargerState] = {
    "on": ChargerState.CHARGING,
    "off": ChargerState.AVAILABLE,
    "unavailable": ChargerState.FAULT,
}
"""A switch cannot tell plugged from idle; 'on' means charging is allowed and expected."""


class HomeAssistantCharger:
    def __init__(
        self,
        name: str,
        settings: HomeAssistantSettings,
        token: str,
        limits: CurrentRange,
        clock: Clock,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.limits = limits
        self._clock = clock
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._url = settings.url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self._url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.timeout_s,
            transport=transport,
        )
        self._feed = MeterFeed()

    async def close(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HomeAssistantCharger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- REST ----------------------------------------------------------------------------

    async def _request(self, method: str, path: str, entity: str,
                       body: dict[str, Any] | None = None) -> Any:
        problem = ""
        for attempt in range(self._retries + 1):
            if attempt:
                await self._sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                response = await self._client.request(method, path, json=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code == 401:
                raise ChargerError(
                    f"charger '{self.name}': Home Assistant at {self._url} refused the token "
                    f"(401); create a long-lived access token (HA profile > Security) and put "
                    f"it in {self.settings.token_file}"
                )
            if response.status_code == 404:
                raise ChargerError(
                    f"charger '{self.name}': Home Assistant has no entity '{entity}' (404); "
                    f"check the entity id under Settings > Entities"
                )
            if response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise ChargerError(
                    f"charger '{self.name}': Home Assistant answered {method} {path} with "
                    f"HTTP {response.status_code}: {response.text[:200]}"
                )
            return response.json()
        raise ChargerError(
            f"charger '{self.name}': cannot reach Home Assistant at {self._url} after "
            f"{self._retries + 1} attempts ({problem}); is it running?"
        )

    async def state(self, entity: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/api/states/{entity}", entity)
        return result

    async def call_service(self, service: str, entity: str, **data: Any) -> None:
        domain, _, action = service.partition(".")
        await self._request("POST", f"/api/services/{domain}/{action}", entity,
                            {"entity_id": entity, **data})

    def _service(self, configured: str | None, entity: str, action: str) -> str:
        return configured or f"{entity.partition('.')[0]}.{action}"

    async def _switch(self, on: bool) -> None:
        entity = self.settings.switch_entity
        configured = self.settings.turn_on_service if on else self.settings.turn_off_service
        await self.call_service(self._service(configured, entity, "turn_on" if on else "turn_off"),
                                entity)
        state = (await self.state(entity))["state"]
        if state != ("on" if on else "off"):
            raise ChargerError(
                f"charger '{self.name}': {entity} is '{state}' after switching it "
                f"{'on' if on else 'off'}"
            )

    # -- Charger -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._switch(True)

    async def stop(self) -> None:
        await self._switch(False)

    async def set_current_limit(self, current_a: float) -> None:
        current_a = self.limits.clamp_a(current_a)
        if current_a == 0:
            await self.stop()
            return
        entity = self.settings.current_entity
        if entity is not None:
            service = self._service(self.settings.current_service, entity, "set_value")
            await self.call_service(service, entity, value=current_a)
            applied = (await self.state(entity))["state"]
            if _number(applied) != current_a:
                raise ChargerError(
                    f"charger '{self.name}': set {entity} to {current_a:g} A but it reads "
                    f"'{applied}'"
                )
        await self.start()

    async def _sensor_kilo(self, entity: str | None) -> float | None:
        if entity is None:
            return None
        data = await self.state(entity)
        value = _number(data["state"])
        unit = str(data.get("attributes", {}).get("unit_of_measurement", ""))
        if value is None or unit not in TO_KILO:
            return None
        return value * TO_KILO[unit]

    async def status(self) -> ChargerStatus:
        switch = (await self.state(self.settings.switch_entity))["state"]
        limit_a = None
        if self.settings.current_entity is not None:
            limit_a = _number((await self.state(self.settings.current_entity))["state"])
        power_kw = await self._sensor_kilo(self.settings.power_entity)
        energy_kwh = await self._sensor_kilo(self.settings.energy_entity)
        if power_kw is not None or energy_kwh is not None:
            self._feed.publish(MeterReading(self.name, self._clock.now(), energy_kwh, power_kw))
        return ChargerStatus(
            state=SWITCH_STATES.get(switch, ChargerState.UNKNOWN),
            power_kw=power_kw,
            energy_kwh=energy_kwh,
            current_limit_a=limit_a,
            details={"url": self._url, "switch_entity": self.settings.switch_entity,
                     "switch_state": switch},
        )

    def readings(self) -> AsyncIterator[MeterReading]:
        return self._feed.readings()


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
