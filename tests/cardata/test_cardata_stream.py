"""The stream client against a real mosquitto (TLS 1.3, password file) run by the simulator.

Waiting happens on conditions (the simulator's view of mosquitto's log, the collector's
count), never on sleeps. The client's reconnect delays run in scaled time: the policy decides
"10 s", the test waits 10 × scale real seconds, and the decided delays are asserted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiomqtt
import httpx
import pytest

from optimizer.cardata.auth import TokenManager
from optimizer.cardata.stream import CardataStream, StreamBusy, StreamMessage
from optimizer.cardata.tokens import TokenStore
from optimizer.ports import WallClock
from optimizer.sim.cloud import Cloud
from optimizer.sim.simulator import Simulator

from .conftest import SCOPE, VIN, login_tokens, scaled_sleep, write_config

real_clock = WallClock()


class Collector:
    def __init__(self) -> None:
        self.messages: list[StreamMessage] = []
        self.cond = asyncio.Condition()

    async def __call__(self, message: StreamMessage) -> None:
        async with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    async def wait_count(self, count: int, timeout: float = 10.0) -> None:
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: len(self.messages) >= count),
                                   timeout)


def subscribed(connections: int) -> Callable[[Cloud], bool]:
    def check(cloud: Cloud) -> bool:
        return cloud.stats.connections >= connections and any(
            s.subscribed for s in cloud.sessions.values())
    return check


@asynccontextmanager
async def running_stream(sim: Simulator, state_dir: Path, *, scale: float = 0.01,
                         margin: timedelta | None = None
                         ) -> AsyncIterator[tuple[CardataStream, Collector]]:
    login_tokens(sim, state_dir, real_clock.now())
    async with httpx.AsyncClient() as http:
        manager = TokenManager(sim.settings(), TokenStore(state_dir), http, clock=real_clock,
                               **({"margin": margin} if margin is not None else {}))
        stream = CardataStream(sim.settings(), manager, clock=real_clock,
                               sleep=scaled_sleep(scale))
        collector = Collector()
        task = asyncio.create_task(stream.run(collector))
        try:
            yield stream, collector
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert not task.done() or task.cancelled() or task.exception() is None


async def publish_fix(sim: Simulator, index: int) -> list[bytes]:
    """A GPS fix (two messages, lat then lon) from the car."""
    car = sim.vehicles[VIN]
    messages = car.park(real_clock.now(), 48.0 + index / 100, 11.5)
    await asyncio.to_thread(sim.publish, car, messages)
    return messages


async def test_stream_reconnects_with_a_fresh_token_before_expiry(make_sim, tmp_path: Path,
                                                                  caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(token_lifetime_s=8)
    sent: list[bytes] = []
    async with running_stream(sim, tmp_path) as (stream, collector):
        for session in (1, 2, 3):
            await sim.until(subscribed(session))
            sent += await publish_fix(sim, session)
            await collector.wait_count(len(sent))
    # every message sent after each reconnect arrived, in order, none lost
    assert [m.payload for m in collector.messages] == sent
    stats = sim.cloud.stats
    assert stats.max_concurrent == 1  # never two connections at once
    assert len(set(stats.tokens_seen)) == len(stats.tokens_seen) >= 3  # a new token each time
    assert stream.stats.planned_reconnects >= 2
    assert stats.closed_at_expiry == 0  # the client left before BMW would have closed it
    # no log line (ours, aiomqtt's, paho's, httpx's) holds any token that was issued
    secrets = [*sim.cloud.id_tokens, *sim.cloud.access, *sim.cloud.refresh]
    assert len(secrets) >= 9
    assert caplog.text and not [s for s in secrets if s in caplog.text]


async def test_stream_survives_the_broker_closing_it_at_token_expiry(make_sim,
                                                                     tmp_path: Path) -> None:
    sim = make_sim(token_lifetime_s=4)
    sent: list[bytes] = []
    # a refresh margin past expiry: the client keeps the session until the broker closes it
    async with running_stream(sim, tmp_path, margin=timedelta(seconds=-5)) as (stream,
                                                                              collector):
        await sim.until(subscribed(1))
        sent += await publish_fix(sim, 1)
        await collector.wait_count(len(sent))
        await sim.until(lambda cloud: cloud.stats.closed_at_expiry >= 1)
        await sim.until(subscribed(2))
        sent += await publish_fix(sim, 2)
        await collector.wait_count(len(sent))
    assert [m.payload for m in collector.messages] == sent
    assert stream.stats.refused_rc5 + stream.stats.failures >= 1
    assert len(set(sim.cloud.stats.tokens_seen)) == 2  # came back with a refreshed token


async def test_stream_survives_a_broker_restart(make_sim, tmp_path: Path) -> None:
    sim = make_sim(token_lifetime_s=3600)
    sent: list[bytes] = []
    async with running_stream(sim, tmp_path) as (stream, collector):
        await sim.until(subscribed(1))
        sent += await publish_fix(sim, 1)
        await collector.wait_count(len(sent))
        outages = []
        for restart in (1, 2):
            first_delay = len(stream.stats.delays_s)
            await asyncio.to_thread(sim.restart_broker)
            await sim.until(subscribed(1 + restart))
            outages.append(stream.stats.delays_s[first_delay:])
            for index in (2, 3):
                sent += await publish_fix(sim, 10 * restart + index)
            await collector.wait_count(len(sent))
    assert [m.payload for m in collector.messages] == sent
    assert stream.stats.failures >= 2
    # exponential backoff from 5 s (with upward jitter), capped at 300 s, and starting from
    # 5 s again for the second outage
    for delays in outages:
        assert delays and 5.0 <= delays[0] <= 6.0
        assert all(5.0 <= d <= 300.0 for d in delays)
        assert all(b >= a for a, b in itertools.pairwise(delays))
    assert sim.cloud.stats.max_concurrent == 1


async def test_rc5_after_a_disconnect_waits_10_s_and_refreshes(make_sim,
                                                                tmp_path: Path) -> None:
    # BMW refuses a reconnect right after a disconnect: here always, for 0.3 s real time
    sim = make_sim(token_lifetime_s=8, reconnect_refusal_probability=1.0,
                   reconnect_refusal_s=0.3)
    async with running_stream(sim, tmp_path, scale=0.02) as (stream, collector):
        await sim.until(subscribed(1))
        await sim.until(lambda cloud: cloud.stats.refusals >= 1, timeout=15)
        await sim.until(subscribed(2), timeout=15)
        sent = await publish_fix(sim, 1)
        await collector.wait_count(len(sent))
    assert stream.stats.refused_rc5 >= 1
    assert sim.cloud.stats.refusals >= stream.stats.refused_rc5  # real CONNACK 5s
    assert stream.stats.delays_s and all(d >= 10.0 for d in stream.stats.delays_s)
    # each attempt after a refusal used a freshly refreshed token
    assert len(set(sim.cloud.stats.tokens_seen)) == len(sim.cloud.stats.tokens_seen)
    assert sim.cloud.stats.max_concurrent == 1


async def test_second_connection_is_refused_and_one_stream_per_account(make_sim,
                                                                        tmp_path: Path) -> None:
    sim = make_sim()
    async with running_stream(sim, tmp_path) as (stream, collector):
        await sim.until(subscribed(1))
        # another app logged in to the same account connects while our session is live
        other = await asyncio.to_thread(sim.cloud.issue_tokens, SCOPE)
        context = ssl.create_default_context(cafile=str(sim.certs.ca_file))
        with pytest.raises(aiomqtt.MqttCodeError) as refused:
            async with aiomqtt.Client("localhost", sim.broker.port, username=sim.config.gcid,
                                      password=other["id_token"], identifier="other-app",
                                      protocol=aiomqtt.ProtocolVersion.V311,
                                      tls_context=context):
                pass
        assert getattr(refused.value.rc, "value", refused.value.rc) in (5, 135)
        # and this process refuses to open a second stream for the account at all
        with pytest.raises(StreamBusy, match="one connection per account"):
            await CardataStream(sim.settings(), stream.tokens, clock=real_clock).run(collector)
        sent = await publish_fix(sim, 1)
        await collector.wait_count(len(sent))
    assert sim.cloud.stats.max_concurrent == 1


async def test_tls_below_1_3_is_refused(make_sim) -> None:
    sim = make_sim()
    context = ssl.create_default_context(cafile=str(sim.certs.ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("localhost", sim.broker.port, username="x", password="y",
                                  tls_context=context, timeout=5):
            pass


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_untrusted_or_misnamed_broker_is_not_accepted(make_sim, tmp_path: Path,
                                                             host: str) -> None:
    sim = make_sim()
    login_tokens(sim, tmp_path, real_clock.now())
    # localhost without the simulator's CA: untrusted; 127.0.0.1 with it: the certificate is
    # for `localhost` only, so the hostname check must refuse it
    settings = sim.settings().model_copy(update={
        "stream_host": host, "ca_file": None if host == "localhost" else sim.certs.ca_file})
    waited = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waited.set()
        await asyncio.Future()  # park here; the test ends the stream

    async with httpx.AsyncClient() as http:
        manager = TokenManager(settings, TokenStore(tmp_path), http, clock=real_clock)
        stream = CardataStream(settings, manager, clock=real_clock, sleep=sleep)
        task = asyncio.create_task(stream.run(Collector()))
        await asyncio.wait_for(waited.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stream.stats.connections == 0 and stream.stats.failures == 1
    assert sim.cloud.stats.connections == 0


async def test_invalid_messages_are_counted_never_fatal(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    login_tokens(sim, tmp_path, real_clock.now())
    car = sim.vehicles[VIN]
    async with httpx.AsyncClient() as http:
        manager = TokenManager(sim.settings(), TokenStore(tmp_path), http, clock=real_clock)
        stream = CardataStream(sim.settings(), manager, clock=real_clock)
        events = stream.events()
        first = asyncio.ensure_future(anext(events))
        await sim.until(subscribed(1))
        await asyncio.to_thread(sim.publish, car, [b"{not json", b'{"vin": 1}',
                                                   *car.plug_in(real_clock.now())])
        event = await asyncio.wait_for(first, 10)
        await events.aclose()
    assert event.vin == VIN and event.field == "plugged" and event.value is True
    assert stream.stats.invalid_messages == 2


def test_cli_stream_prints_one_json_line_per_message(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    config = write_config(tmp_path, sim)
    login_tokens(sim, tmp_path / "state", real_clock.now())
    car = sim.vehicles[VIN]
    process = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "stream", "--config", str(config), "--json",
         "--count", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.wait_for(subscribed(1), timeout=20), process.stderr
        now = real_clock.now()
        sim.publish(car, [*car.plug_in(now), b"garbage", *car.start_charging(now)])
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    plug, start = (json.loads(line) for line in out.splitlines())
    assert {"vin", "received_at", "measured_at"} <= set(plug) and plug["vin"] == VIN
    assert plug["plugged"] is True and plug["charging_status"] == "waiting"
    assert start["soc_pct"] == 50.0 and start["charging_status"] == "charging"
    assert start["charging_power_kw"] == pytest.approx(11.0, abs=0.01)
    assert start["capacity_kwh"] == pytest.approx(63.4) and start["target_soc_pct"] == 80.0
    assert "skipped invalid message #1" in err


def test_cli_stream_records_raw_messages_that_replay_and_estimate_read(make_sim,
                                                                       tmp_path: Path) -> None:
    sim = make_sim()
    config = write_config(tmp_path, sim)
    login_tokens(sim, tmp_path / "state", real_clock.now())
    car = sim.vehicles[VIN]
    record = tmp_path / "recorded.jsonl"
    now = real_clock.now()
    published = [*car.plug_in(now), b"garbage", *car.start_charging(now + timedelta(seconds=20))]
    at = now + timedelta(seconds=20)
    while car.charging:
        at += timedelta(minutes=2)
        published += car.advance(at)
    process = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "stream", "--config", str(config), "--json",
         "--record", str(record), "--count", str(len(published))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.wait_for(subscribed(1), timeout=60), process.stderr
        sim.publish(car, published, timeout=60)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert record.read_text().splitlines() == [m.decode() for m in published]
    assert record.stat().st_mode & 0o077 == 0  # positions inside: owner only
    replay = subprocess.run([sys.executable, "-m", "optimizer", "stream", "--replay",
                             str(record), "--json"], capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    live = [json.loads(line) for line in out.splitlines()]
    replayed = [json.loads(line) for line in replay.stdout.splitlines()]
    drop = ("received_at",)  # live: arrival time; replay: the envelope's time
    assert [{k: v for k, v in r.items() if k not in drop} for r in replayed] == \
           [{k: v for k, v in r.items() if k not in drop} for r in live]
    estimate = subprocess.run([sys.executable, "-m", "optimizer", "estimate", "--stream",
                               str(record), "--every", "300", "--json"],
                              capture_output=True, text=True, timeout=60)
    assert estimate.returncode == 0, estimate.stderr
    socs = [json.loads(line)["soc_pct"] for line in estimate.stdout.splitlines()]
    assert socs == sorted(socs) and socs[0] >= 50.0 and socs[-1] > 75.0  # 50 % -> 80 %
