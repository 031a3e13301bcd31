"""`ev-optimizer demo`: the whole service on simulators, an evening to a morning in a minute.

No BMW account and no wallbox needed: the CarData simulator (a real mosquitto with TLS), a
simulated OCPP 1.6J station on the `ocpp` library and the shipped 2024 day-ahead prices moved
onto today run on a clock `--speed` times faster than the wall clock. The car arrives at 18:00
with 30 %, the service plans, the station gets the plan as a charging profile, the car charges
in the cheap hours and leaves at 07:30; the session is saved with its cost and saving.
`--json` prints one JSON object per line instead of text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from optimizer.config import load_config
from optimizer.errors import InputError
from optimizer.events import Notification
from optimizer.service.app import ServiceOptions, Started, run_service
from optimizer.service.clock import ScaledClock
from optimizer.sim.cloud import SimConfig
from optimizer.sim.scenario import (
    STATION_ID,
    TARIFF,
    VIN,
    ShiftedPrices,
    sign_in,
    weeks_back_into,
    write_config,
)
from optimizer.sim.simulator import Simulator
from optimizer.sim.station import connect_station
from optimizer.sim.world import ChargingWorld
from optimizer.tariffs import load_tariff
from optimizer.web.auth import LoginCodes

TZ = ZoneInfo("Europe/Berlin")
ARRIVAL = time(18, 0)
DEPARTURE = "07:30"
DEFAULT_SPEED = 800.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="the whole service on simulators: plug-in at 18:00 to departure at 07:30")
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED,
                        help=f"simulated seconds per wall-clock second (default "
                             f"{DEFAULT_SPEED:g}: the night in about a minute)")
    parser.add_argument("--soc", type=float, default=30.0, help="SoC at arrival, %%")
    parser.add_argument("--port", type=int, default=0, help="HTTP API port (default: free)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=run)


class Printer:
    """Prints what happens; also the service's notifier, so plans and sessions show up."""

    def __init__(self, clock: ScaledClock, as_json: bool) -> None:
        self.clock = clock
        self.as_json = as_json

    def line(self, event: str, text: str, **detail: Any) -> None:
        now = self.clock.now()
        if self.as_json:
            print(json.dumps({"time": now.isoformat(), "event": event, **detail}), flush=True)
        else:
            print(f"{now.astimezone(TZ):%a %H:%M}  {text}", flush=True)

    async def notify(self, notification: Notification) -> None:
        self.line(notification.kind.value, f"{notification.title}: {notification.body}",
                  title=notification.title, body=notification.body)


def run(args: argparse.Namespace) -> int:
    if not 1.0 <= args.speed <= 20_000.0:
        raise InputError(f"--speed {args.speed:g} is out of range; use 1..20000")
    if not 0.0 <= args.soc < 80.0:
        raise InputError(f"--soc {args.soc:g} is out of range; use 0..79 (the target is 80)")
    if not args.debug:
        logging.getLogger("optimizer").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="ev-optimizer-demo-") as tmp:
        asyncio.run(_demo(Path(tmp), args))
    return 0


async def _demo(workdir: Path, args: argparse.Namespace) -> None:
    today = datetime.now(TZ).date()
    arrival = datetime.combine(today, ARRIVAL, tzinfo=TZ)
    clock = ScaledClock(arrival, args.speed, running=False)
    printer = Printer(clock, args.json)
    sim_config = SimConfig(auto_approve=True, reconnect_refusal_probability=0.0)
    with Simulator(workdir / "sim", sim_config) as sim:
        car = sim.add_vehicle(VIN, soc_pct=args.soc, target_soc_pct=100.0, profile="level")
        path, password, ocpp_port = write_config(workdir, sim, http_port=args.port,
                                                 departure=DEPARTURE)
        config = load_config(path)
        sign_in(sim, config.state_dir, datetime.now(UTC))
        tariff = load_tariff(TARIFF)
        assert tariff.known_until is not None
        prices = ShiftedPrices(tariff, weeks_back_into(arrival, tariff.known_until
                                                       - timedelta(days=2)))
        started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        codes = LoginCodes()
        service = asyncio.ensure_future(run_service(config, ServiceOptions(
            clock=clock, prices=prices, notifiers=[printer], stop=stop, charger_base=workdir,
            on_started=started.set_result, login_codes=codes)))
        try:
            waiting: list[asyncio.Future[Any]] = [started, service]
            await asyncio.wait(waiting, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if service.done():
                service.result()
            info = await started
            printer.line("started", f"service up: API {info.api_url} (bearer token in "
                         f"{info.token_file}); speed x{args.speed:g}", api_url=info.api_url,
                         speed=args.speed)
            dashboard = info.api_url.removesuffix("/api") + "/"
            link = codes.link(dashboard)
            printer.line("dashboard", f"dashboard: {dashboard} (log in once with {link})",
                         url=dashboard, login_link=link)
            await _night(info, printer, clock, sim, car, password, ocpp_port, arrival, stop)
        finally:
            stop.set()
            await asyncio.wait_for(service, 15)


async def _night(info: Started, printer: Printer, clock: ScaledClock, sim: Simulator,
                 car: Any, password: str, ocpp_port: int, arrival: datetime,
                 stop: asyncio.Event) -> None:
    """One evening to morning; ends early, quietly, when the service is stopped (Ctrl-C)."""
    station, receiver = await connect_station(f"ws://127.0.0.1:{ocpp_port}/ocpp", STATION_ID,
                                              password, clock)
    try:
        await station.send_status("Available")
        await sim.until(lambda cloud: any(s.subscribed for s in cloud.sessions.values()), 30)

        def told(what: str, detail: dict[str, Any]) -> None:
            texts = {"plugged_in": f"plug-in: the car arrives with {detail['soc_pct']:.0f} %",
                     "unplugged": f"unplug at departure with {detail['soc_pct']:.0f} %",
                     "drawing": f"the car draws {detail.get('power_kw', 0):.1f} kW "
                                f"({detail['soc_pct']:.0f} %)",
                     "paused_by_station": f"the station pauses the car at "
                                          f"{detail['soc_pct']:.0f} %",
                     "car_full": f"the car stops at {detail['soc_pct']:.0f} %"}
            printer.line(what, texts[what], **detail)

        world = ChargingWorld(sim, car, station, clock, listener=told)
        await world.arrive_and_plug_in()
        clock.run()  # everything is connected and the car is in: let the evening begin
        departure = datetime.combine(arrival.date() + timedelta(days=1), time(7, 30),
                                     tzinfo=TZ)
        service = info.service
        next_report = arrival + timedelta(hours=1)
        while clock.now() < departure and not stop.is_set():
            await world.step()
            if clock.now() >= next_report:
                next_report += timedelta(hours=1)
                view = service.vehicles()[0]
                if view["soc_pct"] is not None:
                    printer.line("soc", f"SoC {view['soc_pct']:.1f} % (estimate "
                                 f"{view['soc_low_pct']:.1f}-{view['soc_high_pct']:.1f}), "
                                 f"{'charging' if view['charging'] else 'waiting'}",
                                 soc_pct=view["soc_pct"], charging=view["charging"],
                                 car_soc_pct=round(car.soc_pct, 1))
            await asyncio.sleep(0.05)
        if stop.is_set():  # SIGINT/SIGTERM: the service has stopped, the night with it
            printer.line("stopped", "stopped before departure")
            return
        await world.unplug()
        for _ in range(200):
            if not service.vehicles()[0]["plugged"]:
                break
            await asyncio.sleep(0.02)
        sessions = service.sessions()
        if sessions:
            s = sessions[0]
            saving = s["saving"]
            printer.line("session", f"session {s['id']} saved: {s['energy_kwh']:.1f} kWh, cost "
                         f"{s['cost']:.2f} EUR, "
                         + (f"saving {saving:.2f} EUR against charging on arrival"
                            if saving is not None else "saving unknown"), **s)
        else:
            print("warning: no session was saved", file=sys.stderr)
    finally:
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
