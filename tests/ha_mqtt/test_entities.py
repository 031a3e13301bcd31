"""The Home Assistant entities over a real mosquitto (TLS, password file): discovery, retained
state, commands that re-plan within 2 s, HA's birth message, the Last Will, reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from bench.mqtt_broker import LocalBroker
from bench.planning_facade import NOW, Car, PlanningFacade
from optimizer.errors import ConfigError
from optimizer.ha_mqtt.discovery import discovery_configs, parse_departure, state_document
from optimizer.ha_mqtt.entities import run_ha_entities
from optimizer.ha_mqtt.settings import MqttSettings
from tests.ha_mqtt.conftest import Watcher, mqtt_settings

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Berlin")
ENTITIES = {
    ("sensor", "soc"), ("sensor", "plan_start"), ("sensor", "plan_end"),
    ("sensor", "plan_cost"), ("sensor", "soc_at_departure"), ("sensor", "price_now"),
    ("sensor", "session_energy"), ("sensor", "session_saving"),
    ("binary_sensor", "plugged"), ("binary_sensor", "charging"),
    ("number", "target_soc"), ("text", "departure"), ("switch", "smart"), ("switch", "boost"),
}
VIN1, VIN2 = "WBA00000000000001", "WMW00000000000002"


def cars() -> list[Car]:
    return [Car("iX1", VIN1), Car("Mini Cooper SE", VIN2, soc_pct=55.0)]


def config_topics(watcher: Watcher) -> dict[str, dict[str, object]]:
    return {topic: json.loads(payload) for topic, payload, _ in watcher.messages
            if topic.startswith("homeassistant/") and topic.endswith("/config")}


@pytest.fixture
async def running(broker: LocalBroker, tmp_path: Path,
                  watch: tuple[Watcher, aiomqtt.Client]
                  ) -> AsyncIterator[tuple[PlanningFacade, Watcher, aiomqtt.Client]]:
    facade = PlanningFacade(cars())
    task = asyncio.create_task(run_ha_entities(facade, mqtt_settings(broker, tmp_path), tz=TZ,
                                               clock=lambda: NOW))
    watcher, client = watch
    await watcher.wait(lambda: len(config_topics(watcher)) == 2 * len(ENTITIES)
                       and watcher.latest("ev-optimizer/mini_cooper_se/state") is not None)
    yield facade, watcher, client
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_one_device_per_vehicle_with_every_entity() -> None:
    settings = MqttSettings()
    facade = PlanningFacade(cars())
    devices = set()
    for vehicle in facade.vehicles():
        configs = discovery_configs(settings, vehicle)
        found = {(topic.split("/")[1], topic.split("/")[3]) for topic in configs}
        assert found == ENTITIES
        ids = {tuple(c["device"]["identifiers"]) for c in configs.values()}  # type: ignore[index]
        assert len(ids) == 1
        devices |= ids
        assert len({c["unique_id"] for c in configs.values()}) == len(ENTITIES)
        commands = {c["command_topic"] for c in configs.values() if "command_topic" in c}
        assert len(commands) == 4
    assert len(devices) == 2


def test_the_state_document_carries_the_plan_and_the_band() -> None:
    vehicle = PlanningFacade(cars()).vehicles()[0]
    state = state_document(vehicle)
    slots = vehicle["plan"]["slots"]
    assert state["plan_start"] == slots[0]["start"] and state["plan_end"] == slots[-1]["end"]
    assert state["plan_cost"] == vehicle["plan"]["cost"]
    assert (state["soc_low_pct"], state["soc_pct"], state["soc_high_pct"]) == (31.0, 34.0, 37.0)
    assert (state["plugged"], state["charging"], state["smart"]) == ("ON", "OFF", "ON")


def test_departure_as_a_time_of_day_is_the_next_one() -> None:
    evening = datetime.fromisoformat("2024-03-05T18:00:00+01:00")
    assert parse_departure("07:30", evening, TZ).isoformat() == "2024-03-06T07:30:00+01:00"
    assert parse_departure("19:00", evening, TZ).isoformat() == "2024-03-05T19:00:00+01:00"
    assert parse_departure("2024-03-06T09:15", evening, TZ).isoformat() == \
        "2024-03-06T09:15:00+01:00"
    with pytest.raises(ValueError, match="neither HH:MM"):
        parse_departure("tomorrow", evening, TZ)


async def test_discovery_and_retained_state_reach_the_broker(
        running: tuple[PlanningFacade, Watcher, aiomqtt.Client], broker: LocalBroker) -> None:
    facade, watcher, _ = running
    configs = config_topics(watcher)
    soc = configs["homeassistant/sensor/ev_optimizer_wba00000000000001/soc/config"]
    assert soc["availability_topic"] == "ev-optimizer/status"
    assert soc["state_topic"] == "ev-optimizer/ix1/state"
    assert soc["json_attributes_topic"] == "ev-optimizer/ix1/state"
    assert watcher.latest("ev-optimizer/status") == "online"
    state = watcher.json("ev-optimizer/ix1/state")
    assert state == state_document(facade.vehicles()[0])
    # retained: a client that connects later still gets everything
    async with aiomqtt.Client("localhost", broker.tls_port, username="evopt",
                              password="s3cret-mqtt-Passw0rd", identifier="late",
                              tls_context=_tls(broker)) as late:
        await late.subscribe("ev-optimizer/ix1/state")
        message = await asyncio.wait_for(anext(late.messages.__aiter__()), 5)
        assert message.retain and json.loads(message.payload) == state  # type: ignore[arg-type]


def _tls(broker: LocalBroker) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(broker.certs.ca_file))


async def test_a_target_command_changes_the_plan_within_2_s(
        running: tuple[PlanningFacade, Watcher, aiomqtt.Client]) -> None:
    facade, watcher, client = running
    before = watcher.json("ev-optimizer/ix1/state")
    assert before["soc_at_departure_pct"] == pytest.approx(80.0)
    sent = time.monotonic()
    await client.publish("ev-optimizer/ix1/target_soc/set", "60")
    await watcher.wait(lambda: watcher.json("ev-optimizer/ix1/state")["target_soc_pct"] == 60,
                       timeout=2.0)
    assert time.monotonic() - sent < 2.0
    after = watcher.json("ev-optimizer/ix1/state")
    assert after["soc_at_departure_pct"] == pytest.approx(60.0)
    assert after["plan_cost"] < before["plan_cost"]
    assert facade.vehicles()[0]["plan"]["soc_at_departure_pct"] == pytest.approx(60.0)


async def test_departure_smart_and_boost_commands(
        running: tuple[PlanningFacade, Watcher, aiomqtt.Client]) -> None:
    facade, watcher, client = running
    await client.publish("ev-optimizer/mini_cooper_se/departure/set", "05:00")
    await client.publish("ev-optimizer/mini_cooper_se/smart/set", "OFF")
    await client.publish("ev-optimizer/mini_cooper_se/boost/set", "ON")
    topic = "ev-optimizer/mini_cooper_se/state"
    await watcher.wait(lambda: watcher.json(topic)["boost"] == "ON")
    state = watcher.json(topic)
    assert state["departure"] == "2024-03-06T05:00:00+01:00" and state["smart"] == "OFF"
    assert datetime.fromisoformat(state["plan_end"]) <= datetime.fromisoformat(
        "2024-03-06T05:00:00+01:00")
    assert [c[1] for c in facade.calls] == ["target", "smart", "boost"]


async def test_a_bad_command_is_refused_and_the_entities_stay(
        running: tuple[PlanningFacade, Watcher, aiomqtt.Client],
        caplog: pytest.LogCaptureFixture) -> None:
    facade, watcher, client = running
    await client.publish("ev-optimizer/ix1/target_soc/set", "lots")
    await client.publish("ev-optimizer/ix1/target_soc/set", "150")
    await client.publish("ev-optimizer/ix1/target_soc/set", "70")
    await watcher.wait(lambda: watcher.json("ev-optimizer/ix1/state")["target_soc_pct"] == 70)
    assert "'lots' is not a number" in caplog.text
    assert "not in (0, 100]" in caplog.text
    assert [c[2][0] for c in facade.calls] == [70.0]


async def test_home_assistant_coming_online_gets_the_configs_again(
        running: tuple[PlanningFacade, Watcher, aiomqtt.Client]) -> None:
    _, watcher, client = running
    seen = len(watcher.messages)
    await client.publish("homeassistant/status", "online")
    await watcher.wait(lambda: sum(1 for t, _, _ in watcher.messages[seen:]
                                   if t.endswith("/config")) == 2 * len(ENTITIES))


def _configs_after(watcher: Watcher, seen: int) -> Callable[[], bool]:
    """True once both vehicles' discovery configs arrived after message number `seen`."""
    return lambda: sum(1 for topic, _, _ in watcher.messages[seen:]
                       if topic.endswith("/config")) >= 2 * len(ENTITIES)


async def test_one_cancel_stops_it_while_publishes_are_in_flight(
        broker: LocalBroker, tmp_path: Path, watch: tuple[Watcher, aiomqtt.Client]) -> None:
    """A shutdown right after a burst (HA's birth: every config again, each awaiting its
    PUBACK) hung in this test's first version: aiomqtt's `wait_for` dropped the cancel when
    it met a PUBACK (see optimizer/aio.py). That meeting is a race, so a round catches the
    old fault only sometimes; three rounds make it likelier."""
    watcher, client = watch
    for _ in range(3):
        task = asyncio.create_task(run_ha_entities(PlanningFacade(cars()),
                                                   mqtt_settings(broker, tmp_path)))
        await watcher.wait(_configs_after(watcher, len(watcher.messages)))
        seen = len(watcher.messages)
        await client.publish("homeassistant/status", "online")
        await watcher.wait(_configs_after(watcher, seen))
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert done, "run_ha_entities did not stop on cancel"


async def test_the_last_will_says_offline_when_the_service_dies(
        broker: LocalBroker, tmp_path: Path, watch: tuple[Watcher, aiomqtt.Client]) -> None:
    watcher, _ = watch
    settings = mqtt_settings(broker, tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "tests.ha_mqtt.adapter_proc",
                                settings.model_dump_json()], cwd=ROOT)
    try:
        await watcher.wait(lambda: watcher.latest("ev-optimizer/status") == "online"
                           and watcher.latest("ev-optimizer/ix1/state") is not None, 20)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        # mosquitto notices the dead socket at once (RST) and publishes the will
        await watcher.wait(lambda: watcher.latest("ev-optimizer/status") == "offline", 10)
    finally:
        process.kill()
        process.wait(10)


async def test_it_reconnects_and_republishes_after_a_broker_restart(
        broker: LocalBroker, tmp_path: Path) -> None:
    facade = PlanningFacade(cars())
    task = asyncio.create_task(run_ha_entities(facade, mqtt_settings(broker, tmp_path), tz=TZ))
    try:
        for _ in range(2):
            async with aiomqtt.Client("localhost", broker.tls_port, username="evopt",
                                      password="s3cret-mqtt-Passw0rd", identifier="probe",
                                      tls_context=_tls(broker)) as probe:
                await probe.subscribe("ev-optimizer/status")
                # the first round is retained; later ones come with the reconnect, which
                # may wait for the keepalive (1.5 x 15 s) when aiomqtt missed the dead socket
                async with asyncio.timeout(40):
                    async for message in probe.messages:
                        if message.payload == b"online":
                            break
            broker.stop()  # persistence is off: the retained messages are gone with it
            broker.start()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_readable_password_file_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    settings = mqtt_settings(broker, tmp_path)
    assert settings.password_file is not None
    settings.password_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"mqtt-password.*chmod 600"):
        settings.password()


def test_unknown_mqtt_keys_are_named() -> None:
    with pytest.raises(ValueError, match="discovery"):
        MqttSettings.model_validate({"discovery": "ha"})
