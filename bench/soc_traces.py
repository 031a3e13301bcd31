"""Realistic CarData charging traces with a known true SoC, for evaluating SoC estimators.

Built from real data in `shared/data/real` (see its SOURCES.md):

* charge curves: the measured BMW iX1 power blocks (two IONITY DC sessions give the DC curve,
  three 22 kW AC sessions give the real power-over-time wobble, including a drop to 11 kW),
  and Open EV Data DC curves of the i3, i4, i5 and iX3;
* sessions: Caltech/JPL ACN sessions (arrival time of day, how long the car stays plugged in,
  how much energy it takes) and the iX1's real MyBMW sessions (start/end SoC, times).

The physics here is deliberately richer than the estimator's model, which never sees it:
per-car grid → battery efficiency with a per-session temperature factor, a car power sensor
that is off by a per-car and a per-session error, an auxiliary load
(battery conditioning, cabin) subtracted from the battery side, a true capacity that differs
from the reported `maxEnergy` (which also drifts, 76 → 77 kWh style), AC taper near full with a
per-car knee, DC power limited by the car's real curve and the charger, power reports that read
a little off and arrive every few minutes, SoC reported only at start and end (rounded to whole
percent), smart-charging pauses reported as 0 W while the status stays "charging", stale
re-sends with old timestamps, late messages, and the odd implausible value.

Messages are CarData wire envelopes (reference/cardata.md §2.4, descriptors from §3), so the
same traces feed the `estimate` CLI; the harness also turns them into events directly.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np


def _find_real_data() -> Path:
    """`shared/data/real` in the nearest folder above this checkout that has one (a worktree
    may sit deeper than the main checkout); `build_trace(data_dir=...)` takes another one."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder / "shared" / "data" / "real"
        if (candidate / "SOURCES.md").is_file():
            return candidate
    return here.parents[2] / "shared" / "data" / "real"


DATA_DIR = _find_real_data()

SOC = "vehicle.drivetrain.batteryManagement.header"
MAX_ENERGY = "vehicle.drivetrain.batteryManagement.maxEnergy"
POWER = "vehicle.powertrain.electric.battery.charging.power"
STATUS = "vehicle.drivetrain.electricEngine.charging.status"
PORT = "vehicle.body.chargingPort.status"
PLUGGED = "vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged"
TARGET = "vehicle.powertrain.electric.battery.stateOfCharge.target"

STEP_S = 10.0
"""Truth integration step: much finer than any report, so it is the reference."""


@dataclass(frozen=True, slots=True)
class Car:
    """A simulated car. Only `vin` and what it reports reach the estimator."""

    name: str
    vin: str
    capacity_kwh: float
    """True usable energy: SoC % is the share of this."""
    max_energy_kwh: float
    """What `maxEnergy` says at first; drifts by `max_energy_drift_kwh` over the sessions."""
    max_energy_drift_kwh: float
    ac_max_kw: float
    ac_knee_pct: float
    ac_end_ratio: float
    dc_curve: tuple[tuple[float, float], ...]
    efficiency_ac: float
    efficiency_dc: float
    power_report_bias: float
    """The car's power reports read this factor of the grid power (its own measurement)."""
    streams_power: bool = True
    """i3s and PHEVs often send no `charging.power` at all (JjyKsi #11)."""


@dataclass(slots=True)
class Session:
    """One simulated charge, with its truth and whether a wallbox meter watched it."""

    vin: str
    kind: str
    """`ac11`, `ac22` or `dc` (the evaluation groups by it)."""
    metered: bool
    truth_t: np.ndarray = field(repr=False)
    truth_soc: np.ndarray = field(repr=False)
    truth_charging: np.ndarray = field(repr=False)
    no_power: bool = False
    """The car sent no power reports (a separate scenario: not in the issue's trace list)."""
    grid_energy_kwh: float = 0.0
    soc_start_pct: float = 0.0
    soc_end_pct: float = 0.0

    def true_soc(self, t: float) -> float:
        return float(np.interp(t, self.truth_t, self.truth_soc))

    def charging_at(self, t: float) -> bool:
        i = int(np.searchsorted(self.truth_t, t, side="right")) - 1
        return 0 <= i < len(self.truth_t) - 1 and bool(self.truth_charging[i])


@dataclass(slots=True)
class Trace:
    """Wire messages in arrival order, meter readings per VIN, and the truth per session."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    """(arrival time, envelope), sorted by arrival."""
    meter: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """VIN → (measured time, cumulative kWh) of the wallbox that car uses at home."""
    sessions: list[Session] = field(default_factory=list)
    cars: list[Car] = field(default_factory=list)

    def jsonl_lines(self) -> Iterator[str]:
        for _, envelope in self.messages:
            yield json.dumps(envelope, separators=(",", ":"))


def _iso(t: float, ms: bool = False) -> str:
    stamp = datetime.fromtimestamp(t, UTC)
    if ms:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- real data loaders


def _ix1_blocks(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "charge_curves" / "bmw_ix1_u11_mybmw_power_blocks_2023-09.csv"
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def ix1_dc_curve(data_dir: Path) -> tuple[tuple[float, float], ...]:
    """The iX1's DC curve from its two IONITY sessions: mean block power per 5 % of SoC."""
    bins: dict[int, list[float]] = {}
    for row in _ix1_blocks(data_dir):
        power = float(row["avg_power_grid_kw"])
        if row["charging_type"] == "DC" and power > 30.0:  # skip the ramp-up seconds
            bins.setdefault(int(float(row["soc_end_est_pct"]) // 5 * 5), []).append(power)
    points = [(k + 2.5, sum(v) / len(v)) for k, v in sorted(bins.items())]
    return ((0.0, points[0][1]), *points, (100.0, min(15.0, points[-1][1])))


def ix1_ac_templates(data_dir: Path) -> list[list[tuple[float, float]]]:
    """Real 22 kW AC power over time: per session, (seconds from start, kW relative to the
    session's peak) for each block; keeps the real wobble and the drop to 11 kW."""
    sessions: dict[str, list[tuple[float, float]]] = {}
    for row in _ix1_blocks(data_dir):
        if row["charging_type"] == "AC_HIGH" and float(row["duration_s"]) > 5:
            sessions.setdefault(row["session_id"], []).append(
                (float(row["duration_s"]), float(row["avg_power_grid_kw"])))
    templates = []
    for blocks in sessions.values():
        peak = max(p for _, p in blocks)
        elapsed, out = 0.0, []
        for duration, power in blocks:
            out.append((elapsed, power / peak))
            elapsed += duration
        templates.append(out)
    return templates


def open_ev_curve(data_dir: Path, vehicle_id: str) -> tuple[tuple[float, float], ...]:
    path = data_dir / "charge_curves" / "open_ev_data_dc_charging_curves.csv"
    with path.open(newline="") as f:
        points = [(float(r["soc_pct"]), float(r["power_kw"])) for r in csv.DictReader(f)
                  if r["vehicle_id"] == vehicle_id]
    if not points:
        raise ValueError(f"no Open EV Data curve {vehicle_id} in {path}")
    return tuple(sorted(points))


def acn_sessions(data_dir: Path) -> list[tuple[float, float]]:
    """(arrival hour of day local, hours plugged in) of real sessions that took 4-60 kWh."""
    path = data_dir / "sessions" / "acn_caltech_jpl_sessions_2019-2021.csv"
    out = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            arrival = datetime.fromisoformat(row["arrival_utc"].replace("Z", "+00:00"))
            departure = datetime.fromisoformat(row["departure_utc"].replace("Z", "+00:00"))
            hours = (departure - arrival).total_seconds() / 3600.0
            energy = float(row["delivered_energy_kwh"] or 0.0)
            local_hour = int(row["arrival_local"][11:13]) + int(row["arrival_local"][14:16]) / 60
            if 1.0 <= hours <= 14.0 and 4.0 <= energy <= 60.0:
                out.append((local_hour, hours))
    return out


def fleet(data_dir: Path) -> list[Car]:
    """Six BMWs with different capacities, curves and (hidden) efficiencies; the last one
    streams no charging power."""
    return [
        Car("iX1 xDrive30", "WBA11AA0000000001", 64.7, 64.0, 0.4, 22.0, 92.0, 0.35,
            ix1_dc_curve(data_dir), 0.925, 0.965, 1.012),
        Car("i4 eDrive40", "WBA11AA0000000002", 80.7, 79.6, 0.3, 11.0, 90.0, 0.30,
            open_ev_curve(data_dir, "6d89611f-5622-f983-8949-fc6dedaf4b1a"), 0.905, 0.955, 0.99),
        Car("i5 eDrive40", "WBA11AA0000000003", 77.4, 76.0, 1.0, 11.0, 93.0, 0.40,
            open_ev_curve(data_dir, "bb3b6b53-da51-45c9-a4c4-e557d432daf5"), 0.915, 0.96, 1.0),
        Car("iX3", "WBA11AA0000000004", 74.0, 73.1, 0.2, 11.0, 88.0, 0.30,
            open_ev_curve(data_dir, "cf9d35a6-8c61-44da-97fc-e1212b0f8fbd"), 0.895, 0.95, 1.02),
        Car("i3 120 Ah", "WBA11AA0000000005", 37.9, 37.6, 0.2, 11.0, 90.0, 0.25,
            open_ev_curve(data_dir, "e59115ea-4d72-094c-2941-1494f8005ae2"), 0.86, 0.94, 0.985),
        # last, so the five cars above get the same random draws with or without it
        Car("i3 94 Ah (no power telemetry)", "WBA11AA0000000006", 27.2, 27.0, 0.1, 11.0, 90.0,
            0.3, open_ev_curve(data_dir, "0ec3f440-136c-49f1-8917-c629a27146c7"), 0.87, 0.94,
            1.0, streams_power=False),
    ]


# ---------------------------------------------------------------------- the simulation


@dataclass(slots=True)
class _Plan:
    kind: str
    start_t: float
    depart_t: float
    soc_start: float
    target: float
    charger_kw: float
    metered: bool
    template: list[tuple[float, float]] | None = None
    pause: tuple[float, float] | None = None
    """(start offset s, duration s) of a smart-charging pause."""


class _Emitter:
    """Turns what the car does into wire messages, with BMW's delivery quirks."""

    def __init__(self, car: Car, rng: np.random.Generator, messages: list[tuple[float, dict[
            str, Any]]]) -> None:
        self.car = car
        self.rng = rng
        self.messages = messages
        self.last: dict[str, tuple[float, Any, str | None]] = {}

    def send(self, t: float, values: dict[str, tuple[Any, str | None]],
             measured: dict[str, float] | None = None, restale: bool = False) -> None:
        data: dict[str, Any] = {}
        if restale:  # BMW re-sends everything selected, with the old timestamps
            for name, (mt, value, unit) in self.last.items():
                data[name] = {"timestamp": _iso(mt), "value": value} | (
                    {"unit": unit} if unit else {})
        for name, (value, unit) in values.items():
            mt = (measured or {}).get(name, t)
            self.last[name] = (mt, value, unit)
            data[name] = {"timestamp": _iso(mt), "value": value} | ({"unit": unit} if unit else {})
        delay = float(self.rng.uniform(0.5, 3.0))
        if self.rng.random() < 0.08:
            delay += float(self.rng.uniform(60.0, 300.0))  # delivered late: out of order
        sent = t + delay
        envelope = {"vin": self.car.vin, "entityId": "00000000-sim0-4000-8000-000000000000",
                    "topic": self.car.vin, "timestamp": _iso(sent, ms=True), "data": data}
        self.messages.append((sent, envelope))


def _ac_limit(car: Car, soc: float) -> float:
    if soc <= car.ac_knee_pct:
        return car.ac_max_kw
    share = (soc - car.ac_knee_pct) / (100.0 - car.ac_knee_pct)
    return car.ac_max_kw * (1.0 - (1.0 - car.ac_end_ratio) * share)


def _curve(points: tuple[tuple[float, float], ...], soc: float) -> float:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return float(np.interp(soc, xs, ys))


def _simulate_session(car: Car, plan: _Plan, max_energy: float, emit: _Emitter,
                      rng: np.random.Generator, meter: list[tuple[float, float]],
                      meter_total: list[float]) -> Session:
    """Integrate the truth in 10 s steps and emit what the car would report."""
    temperature = float(rng.normal(1.0, 0.012))
    # the car's own power sensor: a fixed per-car error plus one that changes with the supply
    # (voltage, phase balance) from session to session; a wallbox meter has neither
    report_bias = car.power_report_bias * float(rng.normal(1.0, 0.012))
    aux_kw = float(rng.uniform(0.1, 0.45)) if plan.kind != "dc" else float(rng.uniform(0.3, 1.2))
    efficiency = (car.efficiency_dc if plan.kind == "dc" else car.efficiency_ac) * temperature
    wobble_t = 0.0
    wobble = 1.0
    t = plan.start_t
    soc = plan.soc_start
    ts, socs, flags = [t], [soc], []
    # the start message: status, plug, SoC (measured a little earlier), capacity and target
    header_t = t - float(rng.uniform(0.0, 60.0))
    emit.send(t, {STATUS: ("CHARGINGACTIVE", None), PORT: ("CONNECTED", None),
                  SOC: (round(soc), "%"), MAX_ENERGY: (round(max_energy, 1), "kWh"),
                  TARGET: (plan.target, "%")}, measured={SOC: header_t, MAX_ENERGY: header_t})
    next_power = t + float(rng.uniform(60.0, 180.0))
    grid_energy = 0.0
    ended_by_target = False
    paused_reported = False
    while t < plan.depart_t:
        elapsed = t - plan.start_t
        paused = plan.pause is not None and plan.pause[0] <= elapsed < sum(plan.pause)
        if t >= wobble_t:  # slow random wobble of the supply (voltage, other loads)
            wobble = float(np.clip(rng.normal(1.0, 0.012), 0.96, 1.03))
            wobble_t = t + float(rng.uniform(300.0, 1200.0))
        if plan.kind == "dc":
            power = min(plan.charger_kw, _curve(car.dc_curve, soc)) * wobble
            if elapsed < 60.0:
                power *= elapsed / 60.0  # DC ramp-up
        else:
            supply = plan.charger_kw * wobble
            if plan.template is not None:
                supply *= _template_at(plan.template, elapsed)
            power = min(supply, _ac_limit(car, soc) * wobble)
        if paused:
            power = 0.0
        battery_kw = max(0.0, efficiency * power - aux_kw) if power > 0 else 0.0
        dt = min(STEP_S, plan.depart_t - t)
        soc_next = soc + battery_kw * dt / 3600.0 / car.capacity_kwh * 100.0
        if soc_next >= plan.target:
            # the car stops exactly at its target
            need = (plan.target - soc) / (soc_next - soc) * dt if soc_next > soc else 0.0
            grid_energy += power * need / 3600.0
            t += need
            soc = plan.target
            ts.append(t)
            socs.append(soc)
            flags.append(True)
            ended_by_target = True
            break
        grid_energy += power * dt / 3600.0
        flags.append(power > 0)
        t += dt
        soc = soc_next
        ts.append(t)
        socs.append(soc)
        if plan.metered:
            meter_total[0] += power * dt / 3600.0
            if not meter or t - meter[-1][0] >= 60.0:
                meter.append((t, round(meter_total[0], 3)))
        if car.streams_power and paused and not paused_reported and rng.random() < 0.2:
            emit.send(t, {POWER: (0, "W")})
            paused_reported = True
        if t >= next_power:
            reported = power * report_bias * float(rng.normal(1.0, 0.008))
            emit.send(t, {POWER: (int(round(reported * 1000.0, -1)), "W")},
                      restale=rng.random() < 0.25)
            next_power = t + float(rng.uniform(120.0, 360.0))
            paused_reported = paused
    end_soc = round(soc)
    stop_power = {POWER: (0, "W")} if car.streams_power else {}
    if rng.random() < 0.03:
        # an implausible SoC sentinel mid-charge (a newer report the estimator must survive)
        emit.send(plan.start_t + (t - plan.start_t) / 2, {SOC: (0, "%")})
    if ended_by_target:
        emit.send(t, {STATUS: ("CHARGINGENDED", None), **stop_power, SOC: (end_soc, "%"),
                      PORT: ("CONNECTED", None)})
        if plan.metered:
            meter.append((t + 1.0, round(meter_total[0], 3)))
        ts.append(plan.depart_t)
        socs.append(soc)
        flags.append(False)
    else:
        emit.send(t, {STATUS: ("NOCHARGING", None), **stop_power, SOC: (end_soc, "%")})
        if plan.metered:
            meter.append((t, round(meter_total[0], 3)))
    emit.send(plan.depart_t + 30.0, {PLUGGED: (False, None), PORT: ("DISCONNECTED", None)})
    return Session(car.vin, plan.kind, plan.metered, np.array(ts), np.array(socs),
                   np.array([*flags, False]), not car.streams_power, grid_energy,
                   plan.soc_start, soc)


def _individual(car: Car, rng: np.random.Generator) -> Car:
    """The same model, a different car: its own efficiency, power sensor and true capacity."""
    return replace(
        car,
        capacity_kwh=car.max_energy_kwh * float(rng.uniform(0.99, 1.03)),
        efficiency_ac=car.efficiency_ac + float(rng.uniform(-0.025, 0.025)),
        efficiency_dc=car.efficiency_dc + float(rng.uniform(-0.015, 0.015)),
        power_report_bias=float(rng.uniform(0.98, 1.025)),
    )


def _template_at(template: list[tuple[float, float]], elapsed: float) -> float:
    i = 0
    for j, (start, _) in enumerate(template):
        if start <= elapsed:
            i = j
    return template[i][1]


def build_trace(data_dir: Path = DATA_DIR, sessions_per_car: int = 12, seed: int = 1,
                start: datetime = datetime(2025, 3, 3, tzinfo=UTC)) -> Trace:
    """Several weeks of charging for the fleet, all VINs in one stream."""
    if not (data_dir / "SOURCES.md").is_file():
        raise FileNotFoundError(f"real data not found in {data_dir} (expected shared/data/real "
                                f"above the checkout; pass data_dir=...)")
    rng = np.random.default_rng(seed)
    individual = np.random.default_rng([seed, 7])  # apart, so adding a car shifts nothing
    cars = [_individual(car, individual) for car in fleet(data_dir)]
    acn = acn_sessions(data_dir)
    templates = ix1_ac_templates(data_dir)
    trace = Trace(cars=cars)
    for car_index, car in enumerate(cars):
        emit = _Emitter(car, rng, trace.messages)
        meter: list[tuple[float, float]] = []
        meter_total = [float(rng.uniform(1000.0, 9000.0))]
        soc = float(rng.uniform(30.0, 60.0))
        day = start.timestamp() + car_index * 3600.0 * 0.37
        n_dc = max(1, sessions_per_car // 5)
        kinds = ["dc" if i % 5 == 2 else "ac" for i in range(sessions_per_car)][:sessions_per_car]
        if kinds.count("dc") < n_dc:
            kinds[-1] = "dc"
        for i, kind in enumerate(kinds):
            max_energy = car.max_energy_kwh + car.max_energy_drift_kwh * i / max(
                1, sessions_per_car - 1)
            # driving since the last charge: the SoC falls and the car reports it at trip end
            soc = float(np.clip(soc - rng.uniform(15.0, 45.0), 6.0, 70.0))
            day += 86400.0 * float(rng.integers(1, 3))
            trip_end = day + 3600.0 * float(rng.uniform(6.0, 8.0))
            emit.send(trip_end, {SOC: (round(soc), "%")})
            plan = _plan(car, kind, i, day, soc, rng, acn, templates)
            if plan.start_t <= trip_end:
                plan.start_t = trip_end + 600.0
                plan.depart_t = max(plan.depart_t, plan.start_t + 3600.0)
            emit.send(plan.start_t - 40.0, {PLUGGED: (True, None), PORT: ("CONNECTED", None)})
            if rng.random() < 0.05:
                emit.send(plan.start_t + 900.0, {MAX_ENERGY: (round(max_energy / 10, 1),
                                                              "kWh")})  # an implausible value
            session = _simulate_session(car, plan, max_energy, emit, rng, meter, meter_total)
            trace.sessions.append(session)
            soc = session.soc_end_pct
            day = plan.depart_t
        if meter:
            trace.meter[car.vin] = meter
    trace.messages.sort(key=lambda m: m[0])
    return trace


def _plan(car: Car, kind: str, index: int, day: float, soc: float, rng: np.random.Generator,
          acn: list[tuple[float, float]], templates: list[list[tuple[float, float]]]
          ) -> _Plan:
    midnight = math.floor(day / 86400.0) * 86400.0
    if kind == "dc":
        start = midnight + 3600.0 * float(rng.uniform(9.0, 17.0))
        target = float(rng.choice([80.0, 90.0, 100.0]))
        charger = float(rng.choice([50.0, 150.0, 300.0]))
        return _Plan("dc", start, start + 3600.0 * 1.5, soc, target, charger, False)
    hour, hours = acn[int(rng.integers(len(acn)))]
    start = midnight + 3600.0 * (hour if hour >= 6 else hour + 12)
    hours = max(hours, 1.5)
    target = float(rng.choice([80.0, 90.0, 100.0], p=[0.5, 0.3, 0.2]))
    public = car.ac_max_kw > 11.0 and index % 2 == 1
    if public:  # the iX1 on a public 22 kW post, with a real power-over-time profile
        template = templates[index // 2 % len(templates)]
        return _Plan("ac22", start, start + 3600.0 * hours, soc, target, 22.0, False, template)
    pause = None
    if rng.random() < 0.25:
        pause = (float(rng.uniform(1200.0, 3600.0)), float(rng.uniform(1200.0, 3600.0)))
    return _Plan("ac11", start, start + 3600.0 * hours, soc, target,
                 float(rng.uniform(10.6, 11.2)), True, None, pause)
