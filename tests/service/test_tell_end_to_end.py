"""Issue 10's "Must show" through the real service: `ev-optimizer run --config FILE` as a
subprocess with `[mqtt]` on a real mosquitto (TLS, password file) and `[notify] urls` on a local
`json://` endpoint, against the CarData simulator and an `ocpp`-library station."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import httpx

from bench.mqtt_broker import PASSWORD, USER, LocalBroker
from optimizer.service.clock import WallClock
from optimizer.service.database import DATABASE_FILE
from tests.ha_mqtt.conftest import Watcher, broker, watch  # noqa: F401 (fixtures)
from tests.ha_mqtt.test_entities import ENTITIES, config_topics
from tests.notify.conftest import Receiver, receiver  # noqa: F401 (fixture)
from tests.service.conftest import evening, plug_in, start_process, until_vehicle, wait_api

TZ = ZoneInfo("Europe/Berlin")
PLAN_NOTIFICATION_S = 5.0
EXTERNAL_URL = re.compile(r"(?:https?:)?//(?!127\.0\.0\.1|localhost)[\w.-]+\.[a-z]{2,}", re.I)


def tell_sections(mqtt_broker: LocalBroker, endpoint: Receiver, workdir: Path) -> str:
    password_file = workdir / "mqtt-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    return "\n".join([
        "[notify]", f"urls = [{json.dumps(endpoint.url('ev'))}]",
        "[mqtt]", 'host = "localhost"', f"port = {mqtt_broker.tls_port}", f'username = "{USER}"',
        f"password_file = {json.dumps(str(password_file))}", "tls = true",
        f"ca_file = {json.dumps(str(mqtt_broker.certs.ca_file))}"])


async def test_run_tells_the_person_by_mqtt_notifications_and_the_dashboard(
        make_household: Any, tmp_path: Path, broker: LocalBroker,  # noqa: F811
        receiver: Receiver, watch: tuple[Watcher, aiomqtt.Client]) -> None:  # noqa: F811
    watcher, mqtt = watch
    household, _ = evening(make_household, tmp_path,
                           extra=tell_sections(broker, receiver, tmp_path))
    process = start_process(household)
    clock = WallClock()
    try:
        base, token = await wait_api(household, process)
        # discovery: one device with every entity of issue 10
        await watcher.wait(lambda: len(config_topics(watcher)) == len(ENTITIES), 15)
        configs = config_topics(watcher)
        assert {(t.split("/")[1], t.split("/")[3]) for t in configs} == ENTITIES
        assert len({json.dumps(c["device"], sort_keys=True) for c in configs.values()}) == 1

        plugged = await plug_in(household, clock)
        assert await asyncio.to_thread(receiver.wait_for, 1, PLAN_NOTIFICATION_S), \
            f"no notification within {PLAN_NOTIFICATION_S} s of plug-in: {process.output()}"
        assert time.monotonic() - plugged.plugged_at < PLAN_NOTIFICATION_S
        plan_message = receiver.acknowledged[0]
        assert plan_message["title"] == "iX1: charging plan"
        assert re.fullmatch(r"iX1 charges \S+–\d\d:\d\d, [\d.]+ kWh for [\d.]+ EUR: "
                            r"\d+ % at \d\d:\d\d", plan_message["message"]), plan_message

        before = await until_vehicle(base, token, lambda v: v["plan"] is not None, 5)
        assert before["target_soc_pct"] == 80
        assert before["currency"] == "EUR" and before["prices"]
        assert before["expected_saving"] > 0  # the cheap hours, not the dear ones now
        await mqtt.publish("ev-optimizer/ix1/target_soc/set", "60")
        after = await until_vehicle(base, token, lambda v: v["target_soc_pct"] == 60, 2)
        assert after["plan"]["energy_kwh"] < before["plan"]["energy_kwh"]
        assert after["plan_version"] > before["plan_version"]

        async with httpx.AsyncClient(base_url=base) as stranger:
            page = await stranger.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert '<script src="/dashboard/app.js">' in page.text  # ours, not a CDN's
            for text in [page.text] + [(await stranger.get(f"/dashboard/{asset}")).text
                                       for asset in ("app.js", "app.css")]:
                assert not EXTERNAL_URL.search(text), EXTERNAL_URL.search(text)
            assert (await stranger.get("/api/vehicles")).status_code == 401
        plugged.station_task.cancel()
        # a dashboard left open (its event stream) must not hold the stop up
        async with httpx.AsyncClient(base_url=base, timeout=30) as viewer, viewer.stream(
                "GET", "/dashboard/events",
                headers={"Authorization": f"Bearer {token}"}) as stream:
            lines = stream.aiter_lines()
            assert await anext(lines) == "event: snapshot"
            await process.stop()
        # a clean stop says so to Home Assistant (a Last Will only covers a crash)
        await watcher.wait(lambda: watcher.latest("ev-optimizer/status") == "offline", 5)
    finally:
        if process.popen.poll() is None:
            process.popen.kill()
    output = process.output()
    assert PASSWORD not in output and token not in output
    assert "Traceback" not in output


async def test_sigterm_while_a_notification_hangs_still_exits_0_within_10_s(
        make_household: Any, tmp_path: Path, broker: LocalBroker,  # noqa: F811
        receiver: Receiver) -> None:  # noqa: F811
    """The endpoint reads the plan notification and never answers: the stop does not wait on
    it beyond apprise's own read timeout (4 s), and the message stays in the outbox."""
    receiver.hold_at = 1
    household, _ = evening(make_household, tmp_path,
                           extra=tell_sections(broker, receiver, tmp_path))
    process = start_process(household)
    try:
        await wait_api(household, process)
        plugged = await plug_in(household, WallClock())
        assert await asyncio.to_thread(receiver.held.wait, PLAN_NOTIFICATION_S)
        await process.stop()
        plugged.station_task.cancel()
    finally:
        if process.popen.poll() is None:
            process.popen.kill()
    with sqlite3.connect(household.config.state_dir / DATABASE_FILE) as db:
        assert db.execute("SELECT state FROM notify_outbox WHERE kind = 'plan'").fetchall() \
            == [("pending",)]  # not delivered: sent again at the next start
