"""Latency of telling the person (issue 10), on a real mosquitto (TLS) and a local HTTP endpoint.

1. Home Assistant command → plan: a target SoC published on the number's command topic until
   the vehicle's retained state shows the re-planned SoC at departure (the facade re-plans
   with the real planner on the shipped DE-LU prices), p50/p95 over `--count` commands; the
   issue asks for ≤ 2 s.
2. `AppriseNotifier.notify` hand-over (what the control loop waits for: a commit to the outbox
   in SQLite on disk), p50/p99; and notify → arrival at a `json://` endpoint, p50/p95.

    .venv/bin/python bench/bench_tell.py --count 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mqtt_broker import PASSWORD, USER, LocalBroker  # noqa: E402
from bench.planning_facade import Car, PlanningFacade  # noqa: E402
from optimizer.events import Notification, NotificationKind  # noqa: E402
from optimizer.ha_mqtt.entities import run_ha_entities  # noqa: E402
from optimizer.ha_mqtt.settings import MqttSettings  # noqa: E402
from optimizer.notify.sender import AppriseNotifier  # noqa: E402
from optimizer.notify.settings import NotifySettings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def ha_commands(count: int, workdir: Path) -> list[float]:
    broker = LocalBroker.create(workdir / "broker")
    broker.start()
    password_file = workdir / "mqtt-password"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o600)
    settings = MqttSettings(host="localhost", port=broker.tls_port, username=USER,
                            password_file=password_file, tls=True,
                            ca_file=broker.certs.ca_file)
    facade = PlanningFacade([Car("iX1", "WBA00000000000001")])
    task = asyncio.create_task(run_ha_entities(facade, settings))
    context = ssl.create_default_context(cafile=str(broker.certs.ca_file))
    latencies = []
    try:
        async with aiomqtt.Client("localhost", broker.tls_port, username=USER,
                                  password=PASSWORD, identifier="bench",
                                  tls_context=context) as client:
            await client.subscribe("ev-optimizer/ix1/state")
            messages = client.messages.__aiter__()
            await anext(messages)  # the retained state: the adapter is up
            for index in range(count):
                target = 50 + index % 40
                sent = time.perf_counter()
                await client.publish("ev-optimizer/ix1/target_soc/set", str(target))
                while True:
                    state = json.loads(bytes((await anext(messages)).payload))  # type: ignore[arg-type]
                    if abs(state["soc_at_departure_pct"] - target) < 0.01:
                        break
                latencies.append(time.perf_counter() - sent)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        broker.stop()
    return latencies


class _Sink(BaseHTTPRequestHandler):
    arrivals: ClassVar[dict[str, float]] = {}
    done = threading.Event()
    expected = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Sink.arrivals[body["message"]] = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if len(_Sink.arrivals) >= _Sink.expected:
            _Sink.done.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def notifications(count: int, workdir: Path) -> tuple[list[float], list[float]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sink.expected = count
    notifier = AppriseNotifier(workdir / "ev-optimizer.db", NotifySettings(
        urls=[f"json://127.0.0.1:{server.server_address[1]}/n"], max_per_hour=3600))
    sender = asyncio.create_task(notifier.run())
    handover, sent_at = [], {}
    now = datetime.now(UTC)
    for index in range(count):
        text = f"message {index}"
        start = time.perf_counter()
        await notifier.notify(Notification(NotificationKind.PLAN, "iX1", "plan", text,
                                           f"bench-{index}", now))
        handover.append(time.perf_counter() - start)
        sent_at[text] = start
        await asyncio.sleep(0.02)  # one plan change every 20 ms, far more than a service makes
    await asyncio.to_thread(_Sink.done.wait, 60)
    sender.cancel()
    server.shutdown()
    delivery = [_Sink.arrivals[text] - start for text, start in sent_at.items()]
    return handover, delivery


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="evopt-bench-"))
    workdir.chmod(0o711)  # mosquitto runs as its own user and must reach broker/ below it
    try:
        ha = await ha_commands(args.count, workdir)
        print(f"HA command -> re-planned state ({args.count} commands, TLS mosquitto): "
              f"p50 {percentile(ha, 0.5) * 1000:.1f} ms, p95 {percentile(ha, 0.95) * 1000:.1f} ms,"
              f" max {max(ha) * 1000:.1f} ms")
        handover, delivery = await notifications(args.count, workdir)
        print(f"notify() hand-over to the outbox ({args.count}): "
              f"p50 {statistics.median(handover) * 1000:.2f} ms, "
              f"p99 {percentile(handover, 0.99) * 1000:.2f} ms")
        print(f"notify() -> arrival at json:// ({args.count}): "
              f"p50 {percentile(delivery, 0.5) * 1000:.1f} ms, "
              f"p95 {percentile(delivery, 0.95) * 1000:.1f} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
