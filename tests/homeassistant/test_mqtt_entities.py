"""The MQTT discovery entities in a real Home Assistant 2025.4.4: they appear (one device per
vehicle, with their states), a command from HA changes the plan within 2 s, and a screenshot
of the device page in HA's own UI from headless Chromium.

HA reaches the broker on a plain loopback listener (its TLS needs a certificate upload through
the UI); the service side uses the TLS listener with its password file, as in production."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from bench.mqtt_broker import HA_PASSWORD, HA_USER, PASSWORD, USER, LocalBroker
from bench.planning_facade import Car, PlanningFacade
from optimizer.ha_mqtt.entities import run_ha_entities
from optimizer.ha_mqtt.settings import MqttSettings
from tests.homeassistant.conftest import HomeAssistant, login_tokens
from tests.web.conftest import ARTEFACTS, CHROMIUM, CHROMIUM_FLAGS

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "ha-entities.png"
VIN = "WBA00000000000001"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def broker(home_assistant: HomeAssistant) -> Iterator[LocalBroker]:
    workdir = Path(tempfile.mkdtemp(prefix="evopt-ha-mqtt-"))
    local = LocalBroker.create(workdir, plain=True)
    local.start()
    with httpx.Client(base_url=home_assistant.url, timeout=30,
                      headers={"Authorization": f"Bearer {home_assistant.token}"}) as http:
        flow = http.post("/api/config/config_entries/flow", json={"handler": "mqtt"}).json()
        done = http.post(f"/api/config/config_entries/flow/{flow['flow_id']}", json={
            "broker": "127.0.0.1", "port": local.plain_port, "username": HA_USER,
            "password": HA_PASSWORD}).json()
        assert done["type"] == "create_entry", done
    yield local
    local.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def settings(broker: LocalBroker, tmp_path: Path) -> MqttSettings:
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o600)
    return MqttSettings(host="localhost", port=broker.tls_port, username=USER,
                        password_file=password_file, tls=True, ca_file=broker.certs.ca_file)


async def _state(http: httpx.AsyncClient, entity: str,
                 until: Any = lambda s: s["state"] not in ("unknown", "unavailable"),
                 timeout: float = WAIT_S) -> dict[str, Any]:
    """Poll HA (an external process; its REST API is all there is to wait on), bounded."""
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(f"/api/states/{entity}")
        if response.status_code == 200 and until(response.json()):
            return dict(response.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"{entity}: {response.status_code} {response.text}")
        await asyncio.sleep(0.1)


async def test_the_entities_appear_and_a_command_changes_the_plan(
        home_assistant: HomeAssistant, broker: LocalBroker, tmp_path: Path) -> None:
    facade = PlanningFacade([Car("iX1", VIN), Car("Cooper SE", "WMW00000000000002")])
    task = asyncio.create_task(run_ha_entities(facade, settings(broker, tmp_path)))
    plan = facade.vehicles()[0]["plan"]
    try:
        async with httpx.AsyncClient(
                base_url=home_assistant.url, timeout=10,
                headers={"Authorization": f"Bearer {home_assistant.token}"}) as http:
            soc = await _state(http, "sensor.ix1_soc")
            assert float(soc["state"]) == 34.0
            assert soc["attributes"]["soc_low_pct"] == 31.0
            assert soc["attributes"]["soc_high_pct"] == 37.0
            assert soc["attributes"]["unit_of_measurement"] == "%"
            start = await _state(http, "sensor.ix1_plan_start")
            assert start["attributes"]["device_class"] == "timestamp"
            assert start["state"].startswith(plan["slots"][0]["start"][:10])
            cost = await _state(http, "sensor.ix1_plan_cost")
            assert float(cost["state"]) == pytest.approx(plan["cost"], abs=0.01)
            assert (await _state(http, "binary_sensor.ix1_plugged"))["state"] == "on"
            assert (await _state(http, "binary_sensor.ix1_charging"))["state"] == "off"
            assert (await _state(http, "switch.ix1_smart"))["state"] == "on"
            assert float((await _state(http, "number.ix1_target_soc"))["state"]) == 80.0
            for entity in ("sensor.ix1_plan_end", "sensor.ix1_soc_at_departure",
                           "sensor.ix1_price_now", "sensor.ix1_session_energy",
                           "text.ix1_departure", "switch.ix1_boost",
                           "sensor.cooper_se_soc"):
                await _state(http, entity, until=lambda s: True)

            sent = time.monotonic()
            answer = await http.post("/api/services/number/set_value", json={
                "entity_id": "number.ix1_target_soc", "value": 60})
            assert answer.status_code == 200
            at_departure = await _state(
                http, "sensor.ix1_soc_at_departure",
                until=lambda s: s["state"] not in ("unknown", "unavailable")
                and abs(float(s["state"]) - 60.0) < 0.01, timeout=2.0)
            assert time.monotonic() - sent < 2.0, "HA did not show the new plan within 2 s"
            assert facade.cars["iX1"].target_soc_pct == 60.0
            assert float(at_departure["state"]) == pytest.approx(60.0)
            await http.post("/api/services/switch/turn_on",
                            json={"entity_id": "switch.ix1_boost"})
            await _state(http, "switch.ix1_boost", until=lambda s: s["state"] == "on")
            assert facade.cars["iX1"].boost
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    devices = _devices(home_assistant)
    assert {d["name"] for d in devices} == {"iX1", "Cooper SE"}


def _devices(ha: HomeAssistant) -> list[dict[str, Any]]:
    with connect(ha.url.replace("http://", "ws://") + "/api/websocket") as ws:
        ws.recv()
        ws.send(json.dumps({"type": "auth", "access_token": ha.token}))
        ws.recv()
        ws.send(json.dumps({"id": 1, "type": "config/device_registry/list"}))
        answer = json.loads(ws.recv())
    return [d for d in answer["result"]
            if any(i[0] == "mqtt" and i[1].startswith("ev_optimizer_")
                   for i in d["identifiers"])]


def test_screenshot_of_the_entities_in_home_assistant(
        home_assistant: HomeAssistant, broker: LocalBroker, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    process = subprocess.Popen([sys.executable, "-m", "tests.ha_mqtt.adapter_proc",
                                settings(broker, tmp_path).model_dump_json()], cwd=ROOT)
    try:
        (device,) = [d for d in _devices(home_assistant) if d["name"] == "iX1"]
        tokens = login_tokens(home_assistant.url)
        stored = {"hassUrl": home_assistant.url, "clientId": f"{home_assistant.url}/",
                  "access_token": tokens["access_token"],
                  "refresh_token": tokens["refresh_token"],
                  "expires_in": tokens["expires_in"],
                  "expires": int(time.time() * 1000) + int(tokens["expires_in"]) * 1000}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1100},
                                          timezone_id="Europe/Berlin", locale="en-GB")
            # what HA's own login page stores, so the app opens without the login form
            context.add_init_script(
                f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(stored))});")
            page = context.new_page()
            page.goto(f"{home_assistant.url}/config/devices/device/{device['id']}")
            expect(page.get_by_text("Estimated SoC").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Target SoC").first).to_be_visible()
            expect(page.get_by_text("Smart charging").first).to_be_visible()
            expect(page.get_by_text("Plugged").first).to_be_visible()
            expect(page.get_by_text("34%").first).to_be_visible(timeout=20_000)
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTEFACTS / "ha-entities.png"), full_page=True)
            browser.close()
    finally:
        process.kill()
        process.wait(10)
