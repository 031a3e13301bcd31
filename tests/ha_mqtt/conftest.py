"""Fixtures: a real mosquitto (TLS 1.2+, password file), the settings that reach it, and a
watcher client that records every message under both prefixes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from bench.mqtt_broker import PASSWORD, USER, LocalBroker
from optimizer.ha_mqtt.settings import MqttSettings
from optimizer.sim.broker import MOSQUITTO


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    if not os.path.exists(MOSQUITTO) or shutil.which("openssl") is None:
        pytest.skip("these tests need mosquitto and openssl")
    # not under tmp_path: mosquitto runs as its own user and cannot enter pytest's 0700 dirs
    workdir = Path(tempfile.mkdtemp(prefix="evopt-mqtt-"))
    local = LocalBroker.create(workdir)
    local.start()
    yield local
    local.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def mqtt_settings(broker: LocalBroker, tmp_path: Path) -> MqttSettings:
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    return MqttSettings(host="localhost", port=broker.tls_port, username=USER,
                        password_file=password_file, tls=True, ca_file=broker.certs.ca_file)


@dataclass
class Watcher:
    """Everything published under the two prefixes, in arrival order."""

    messages: list[tuple[str, str, bool]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def latest(self, topic: str) -> str | None:
        for name, payload, _ in reversed(self.messages):
            if name == topic:
                return payload
        return None

    def json(self, topic: str) -> Any:
        payload = self.latest(topic)
        return None if payload is None else json.loads(payload)

    def topics(self, prefix: str) -> set[str]:
        return {name for name, _, _ in self.messages if name.startswith(prefix)}

    async def wait(self, predicate: Any, timeout: float = 10.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(predicate), timeout)


@pytest.fixture
async def watch(broker: LocalBroker) -> AsyncIterator[tuple[Watcher, aiomqtt.Client]]:
    context = ssl.create_default_context(cafile=str(broker.certs.ca_file))
    watcher = Watcher()
    async with aiomqtt.Client("localhost", broker.tls_port, username=USER, password=PASSWORD,
                              identifier="test-watcher", tls_context=context) as client:
        await client.subscribe("homeassistant/#")
        await client.subscribe("ev-optimizer/#")

        async def record() -> None:
            async for message in client.messages:
                payload = message.payload
                text = payload.decode() if isinstance(payload, bytes) else str(payload)
                async with watcher.changed:
                    watcher.messages.append((str(message.topic), text, message.retain))
                    watcher.changed.notify_all()

        task = asyncio.create_task(record())
        yield watcher, client
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
