"""`run_ha_entities`: keeps Home Assistant's view of every vehicle current over MQTT.

On each connection it publishes `online` on the availability topic (whose Last Will is
`offline`), the retained discovery configs and the retained state of every vehicle; then it
follows the facade's snapshots and turns commands from HA into the facade's `set_*` calls.
When HA restarts (`<discovery_prefix>/status` says `online`) the configs are sent again.
A dropped broker connection comes back by itself, with a growing pause. When the facade's
changes end (the service is stopping) it publishes `offline` and returns.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

import aiomqtt

from optimizer.aio import stop_tasks
from optimizer.ha_mqtt.discovery import (
    availability_topic,
    discovery_configs,
    dumps,
    parse_command_topic,
    parse_departure,
    parse_switch,
    state_document,
    state_topic,
)
from optimizer.ha_mqtt.settings import MqttSettings
from optimizer.web.facade import ServiceFacade, VehicleView

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
KEEPALIVE_S = 15
ACK_TIMEOUT_S = 5.0
"""A CONNACK, SUBACK or PUBACK later than this means the connection is dead: reconnect. (A
socket that died under aiomqtt can stay unnoticed until then, or until the keepalive.)"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def run_ha_entities(facade: ServiceFacade, settings: MqttSettings, *,
                          tz: tzinfo | None = None,
                          clock: Callable[[], datetime] = _utc_now) -> None:
    """Run until cancelled; `tz` reads a departure given as "HH:MM" (default: local).

    Each connection runs in a task of its own, so a cancel here always ends this coroutine
    within a few seconds, even when aiomqtt inside the connection misses one (optimizer/aio.py).
    """
    password = settings.password()
    local_tz = tz or datetime.now().astimezone().tzinfo or UTC
    delay = RECONNECT_MIN_S

    async def serve() -> None:
        nonlocal delay
        async with _client(settings, password) as client:
            log.info("MQTT: connected to %s:%d for Home Assistant", settings.host,
                     settings.port)
            delay = RECONNECT_MIN_S
            await _Link(client, facade, settings, local_tz, clock).run()

    while True:
        connection = asyncio.create_task(serve())
        try:
            await asyncio.wait([connection])
        finally:
            await stop_tasks([connection])
        error = connection.exception()
        if error is None:
            return  # the service is stopping (its changes ended)
        if not isinstance(error, aiomqtt.MqttError):
            raise error
        log.warning("MQTT: %s:%d: %s; reconnecting in %.0f s", settings.host,
                    settings.port, error, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)


def _client(settings: MqttSettings, password: str | None) -> aiomqtt.Client:
    context = None
    if settings.tls:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None)
    return aiomqtt.Client(
        settings.host, settings.port, username=settings.username, password=password,
        identifier=settings.topic_prefix.replace("/", "-"), tls_context=context,
        protocol=aiomqtt.ProtocolVersion.V311, keepalive=KEEPALIVE_S, timeout=ACK_TIMEOUT_S,
        will=aiomqtt.Will(availability_topic(settings), "offline", qos=1, retain=True))


class _Link:
    """One broker connection: what was published on it, and the two loops that use it."""

    def __init__(self, client: aiomqtt.Client, facade: ServiceFacade, settings: MqttSettings,
                 tz: tzinfo, clock: Callable[[], datetime]) -> None:
        self.client = client
        self.facade = facade
        self.settings = settings
        self.tz = tz
        self.clock = clock
        self._published: dict[str, str] = {}
        self._announced: set[str] = set()
        self._vehicles: list[VehicleView] = []

    async def run(self) -> None:
        await self.client.subscribe(f"{self.settings.topic_prefix}/+/+/set", qos=1)
        await self.client.subscribe(f"{self.settings.discovery_prefix}/status", qos=1)
        await self.client.publish(availability_topic(self.settings), "online", qos=1, retain=True)
        await self.publish(self.facade.vehicles())
        loops = [asyncio.create_task(self._follow()), asyncio.create_task(self._commands())]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a dropped connection: raises MqttError, and we reconnect
        finally:
            await stop_tasks(loops)
        # the facade's changes ended: the service is stopping. A clean disconnect sends no
        # Last Will, so say `offline` ourselves
        await self.client.publish(availability_topic(self.settings), "offline", qos=1,
                                  retain=True)

    async def publish(self, vehicles: list[VehicleView], announce: bool = False) -> None:
        """Discovery for vehicles not yet announced (or all, after HA's birth), then state."""
        self._vehicles = vehicles
        for vehicle in vehicles:
            if announce or vehicle["name"] not in self._announced:
                for topic, config in discovery_configs(self.settings, vehicle).items():
                    await self.client.publish(topic, dumps(config), qos=1, retain=True)
                self._announced.add(vehicle["name"])
            topic, payload = state_topic(self.settings, vehicle), dumps(state_document(vehicle))
            if self._published.get(topic) != payload:
                await self.client.publish(topic, payload, qos=1, retain=True)
                self._published[topic] = payload

    async def _follow(self) -> None:
        async for vehicles in self.facade.changes():
            await self.publish(vehicles)

    async def _commands(self) -> None:
        birth = f"{self.settings.discovery_prefix}/status"
        async for message in self.client.messages:
            topic = str(message.topic)
            payload = _text(message.payload)
            if topic == birth:
                if payload == "online":
                    log.info("MQTT: Home Assistant is back; announcing the entities again")
                    self._published.clear()
                    await self.publish(self.facade.vehicles(), announce=True)
                continue
            found = parse_command_topic(self.settings, topic, self._vehicles)
            if found is None:
                log.warning("MQTT: ignored a message on %s (no such vehicle or command)",
                            topic)
                continue
            name, command = found
            try:
                await self._apply(name, command, payload)
            except (KeyError, ValueError) as exc:
                log.warning("MQTT: %s command for %s refused: %s", command, name, exc)
                # HA shows what it sent until the state says otherwise: send the real state
                self._published.clear()
                await self.publish(self.facade.vehicles())

    async def _apply(self, name: str, command: str, payload: str) -> None:
        if command == "target_soc":
            try:
                soc_pct = float(payload)
            except ValueError:
                raise ValueError(f"target {payload!r} is not a number") from None
            await self.facade.set_target(name, soc_pct, None)
        elif command == "departure":
            departure = parse_departure(payload, self.clock(), self.tz)
            await self.facade.set_target(name, None, departure)
        elif command == "smart":
            await self.facade.set_smart(name, parse_switch(payload))
        else:
            await self.facade.set_boost(name, parse_switch(payload))


def _text(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        return payload.decode("utf-8", "replace")
    return str(payload)
