"""A simulated BMW that speaks CarData: charging physics plus the stream's real habits.

The physics follow a real charge curve (Open EV Data, shipped in optimizer/sim/data/)
with conversion losses; the messages follow what reference/cardata.md §2.4-2.5 reports about
BMW's stream:

* SoC (`batteryManagement.header`) only at charge start and stop on the "legacy" profile;
  the "level" profile also sends `charging.level` at every whole percent, and the "nk" profile
  (Neue Klasse, Countryman E) has no `header` at all but `stateOfCharge.displayed`;
* power in W whenever it changes, `charging.status` flips on plug, start and stop;
* on a charging-speed change every held value is re-sent with its old timestamp (stale);
* `phaseNumber` drops to `1-PHASES` at the end of every charge, and the port status is
  re-stamped `CONNECTED` at start and stop although the cable never moved;
* latitude and longitude arrive in two messages about a second apart;
* descriptor timestamps have second precision, the envelope's milliseconds.

Everything takes `now`; the model never reads a clock, so a demo can run it faster than life.
"""

from __future__ import annotations

import bisect
import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from optimizer.model import TaperPoint

CURVES_CSV = Path(__file__).resolve().parent / "data" / "open_ev_data_bmw_mini_curves.csv"
"""The BMW and MINI curves of Open EV Data, shipped with the package (see data/README.md)."""

_BM = "vehicle.drivetrain.batteryManagement"
_E = "vehicle.drivetrain.electricEngine.charging"
_P = "vehicle.powertrain.electric.battery"
_LOC = "vehicle.cabin.infotainment.navigation.currentLocation"
HEADER = f"{_BM}.header"
MAX_ENERGY = f"{_BM}.maxEnergy"
LEVEL = f"{_E}.level"
DISPLAYED = f"{_P}.stateOfCharge.displayed"
TARGET = f"{_P}.stateOfCharge.target"
STATUS = f"{_E}.status"
HV_STATUS = f"{_E}.hvStatus"
PHASES = f"{_E}.phaseNumber"
METHOD = f"{_E}.method"
AC_VOLTAGE = f"{_E}.acVoltage"
AC_AMPERE = f"{_E}.acAmpere"
POWER = f"{_P}.charging.power"
PLUGGED = "vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged"
PORT = "vehicle.body.chargingPort.status"
RANGE = "vehicle.drivetrain.electricEngine.kombiRemainingElectricRange"
ODOMETER = "vehicle.vehicle.travelledDistance"
LATITUDE = f"{_LOC}.latitude"
LONGITUDE = f"{_LOC}.longitude"

Profile = Literal["legacy", "level", "nk"]
STEP = timedelta(seconds=10)
"""Integration step of the charging physics."""
SPEED_CHANGE_KW = 1.0
"""A power step at least this big is a 'charging-speed change': BMW then re-sends everything."""


@dataclass(frozen=True, slots=True)
class ChargeCurve:
    """Battery-side power limit by SoC, plus the car's AC limits and usable capacity."""

    name: str
    points: tuple[TaperPoint, ...]
    usable_kwh: float
    ac_max_kw: float
    ac_phases: int

    def power_limit_kw(self, soc_pct: float) -> float:
        socs = [p.soc_pct for p in self.points]
        i = bisect.bisect_right(socs, soc_pct)
        if i == 0:
            return self.points[0].power_kw
        if i == len(self.points):
            return self.points[-1].power_kw
        a, b = self.points[i - 1], self.points[i]
        share = (soc_pct - a.soc_pct) / (b.soc_pct - a.soc_pct)
        return a.power_kw + share * (b.power_kw - a.power_kw)


def load_curve(model: str, variant: str | None = None, *, brand: str = "BMW",
               path: Path = CURVES_CSV) -> ChargeCurve:
    """The Open EV Data curve of `brand model [variant]` (first match)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle)
                    if r["brand"] == brand and r["model"] == model
                    and (variant is None or r["variant"] == variant)]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: charge curve data not found") from None
    if not rows:
        raise ValueError(f"no charge curve for {brand} {model} {variant or ''} in {path}")
    first = rows[0]["vehicle_id"]
    rows = [r for r in rows if r["vehicle_id"] == first]
    points = tuple(sorted((TaperPoint(float(r["soc_pct"]), float(r["power_kw"])) for r in rows),
                          key=lambda p: p.soc_pct))
    head = rows[0]
    return ChargeCurve(name=f"{brand} {model} {head['variant']}".strip(), points=points,
                       usable_kwh=float(head["usable_battery_kwh"]),
                       ac_max_kw=float(head["ac_max_kw"]),
                       ac_phases=int(head["ac_usable_phases"] or 3))


def _stamp(at: datetime) -> str:
    """Descriptor timestamps: second precision, as cars send them."""
    return at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope_stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class SimVehicle:
    """One car. Methods return the stream messages (JSON bytes) that the event produces."""

    vin: str
    gcid: str
    curve: ChargeCurve
    soc_pct: float = 50.0
    target_soc_pct: float = 80.0
    profile: Profile = "legacy"
    efficiency: float = 0.9
    """Grid to battery, AC."""
    charger_kw: float = 11.0
    voltage_v: float = 230.0
    capacity_kwh: float = 0.0
    """`maxEnergy`: a little below the nominal usable capacity, as BMW reports it."""
    odometer_km: float = 12_345.0
    km_per_pct: float = 4.2
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugged: bool = False
    charging: bool = False
    grid_kw: float = 0.0
    energy_grid_kwh: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    """Finished charging sessions, as REST `chargingHistory` reports them."""
    _last: datetime | None = None
    _session_start: tuple[datetime, float, float] | None = None

    def __post_init__(self) -> None:
        if not self.capacity_kwh:
            self.capacity_kwh = round(self.curve.usable_kwh * 0.98, 1)

    # -- message building ----------------------------------------------------------------------

    def _entry(self, descriptor: str, value: Any, at: datetime, unit: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"timestamp": _stamp(at), "value": value}
        if unit is not None:
            entry["unit"] = unit
        self.held[descriptor] = entry
        return entry

    def _message(self, sent_at: datetime, data: dict[str, dict[str, Any]]) -> bytes:
        return json.dumps({"vin": self.vin, "entityId": self.gcid, "topic": self.vin,
                           "timestamp": _envelope_stamp(sent_at), "data": data}).encode()

    def _soc_entries(self, at: datetime) -> dict[str, dict[str, Any]]:
        soc = round(self.soc_pct, 1)
        if self.profile == "nk":
            return {DISPLAYED: self._entry(DISPLAYED, round(soc), at, "%")}
        return {HEADER: self._entry(HEADER, soc, at, "%")}

    def _power_entries(self, at: datetime) -> dict[str, dict[str, Any]]:
        phases = self.curve.ac_phases if self.grid_kw > 0 else 1
        current = self.grid_kw * 1000.0 / (self.voltage_v * phases)
        return {
            POWER: self._entry(POWER, round(self.grid_kw * 1000.0), at, "W"),
            AC_VOLTAGE: self._entry(AC_VOLTAGE, self.voltage_v, at, "V"),
            AC_AMPERE: self._entry(AC_AMPERE, round(current), at, "A"),
        }

    # -- events ----------------------------------------------------------------------------------

    def arrive(self, now: datetime) -> list[bytes]:
        """The end of a trip: the car reports its SoC, capacity, target and range once."""
        return [self._message(now, {
            **self._soc_entries(now),
            MAX_ENERGY: self._entry(MAX_ENERGY, self.capacity_kwh, now, "kWh"),
            TARGET: self._entry(TARGET, self.target_soc_pct, now, "%"),
            RANGE: self._entry(RANGE, round(self.soc_pct * self.km_per_pct), now, "km"),
        })]

    def plug_in(self, now: datetime) -> list[bytes]:
        self.plugged = True
        return [self._message(now, {
            PLUGGED: self._entry(PLUGGED, True, now, None),
            PORT: self._entry(PORT, "CONNECTED", now, None),
            STATUS: self._entry(STATUS, "INITIALIZATION", now, None),
            HV_STATUS: self._entry(HV_STATUS, "WAITING_FOR_CHARGING", now, None),
        })]

    def start_charging(self, now: datetime) -> list[bytes]:
        if not self.plugged:
            raise ValueError(f"{self.vin}: cannot start charging unplugged")
        self.charging = True
        self._last = now
        self._session_start = (now, self.soc_pct, self.energy_grid_kwh)
        self.grid_kw = self._grid_power_kw()
        data = {
            STATUS: self._entry(STATUS, "CHARGINGACTIVE", now, None),
            HV_STATUS: self._entry(HV_STATUS, "CHARGING", now, None),
            PORT: self._entry(PORT, "CONNECTED", now, None),
            PHASES: self._entry(PHASES, f"{self.curve.ac_phases}-PHASES", now, None),
            METHOD: self._entry(METHOD, "AC_TYPE2PLUG", now, None),
            MAX_ENERGY: self._entry(MAX_ENERGY, self.capacity_kwh, now, "kWh"),
            TARGET: self._entry(TARGET, self.target_soc_pct, now, "%"),
            **self._soc_entries(now),
            **self._power_entries(now),
        }
        if self.profile != "legacy":
            data[LEVEL] = self._entry(LEVEL, round(self.soc_pct), now, "%")
        return [self._message(now, data)]

    def _grid_power_kw(self) -> float:
        """What the car draws: the wallbox and on-board charger limit, tapered by the curve
        (battery side) near full."""
        ac_kw = min(self.charger_kw, self.curve.ac_max_kw)
        battery_kw = min(ac_kw * self.efficiency, self.curve.power_limit_kw(self.soc_pct))
        return battery_kw / self.efficiency

    def advance(self, now: datetime) -> list[bytes]:
        """Charge until `now`; returns the messages the car sent on the way (power changes,
        charging.level steps, the stop at the target)."""
        messages: list[bytes] = []
        if not self.charging or self._last is None:
            self._last = now
            return messages
        while self._last < now and self.charging:
            step_end = min(now, self._last + STEP)
            hours = (step_end - self._last).total_seconds() / 3600.0
            self.energy_grid_kwh += self.grid_kw * hours
            before = self.soc_pct
            self.soc_pct = min(100.0, self.soc_pct +
                               self.grid_kw * self.efficiency * hours / self.capacity_kwh * 100)
            self._last = step_end
            if self.soc_pct >= self.target_soc_pct:
                self.soc_pct = max(before, self.target_soc_pct)
                messages.extend(self.stop_charging(step_end))
                break
            if self.profile != "legacy" and int(self.soc_pct) != int(before):
                messages.append(self._message(step_end, {
                    LEVEL: self._entry(LEVEL, int(self.soc_pct), step_end, "%")}))
            new_kw = self._grid_power_kw()
            if abs(new_kw - self.grid_kw) >= 0.1:
                speed_change = abs(new_kw - self.grid_kw) >= SPEED_CHANGE_KW
                self.grid_kw = new_kw
                messages.append(self._message(step_end, self._power_entries(step_end)))
                if speed_change:
                    messages.append(self.resend_all(step_end))
        return messages

    def stop_charging(self, now: datetime) -> list[bytes]:
        self.charging = False
        self.grid_kw = 0.0
        if self._session_start is not None:
            started, soc, energy = self._session_start
            self.history.append({
                "startTime": int(started.timestamp()), "endTime": int(now.timestamp()),
                "displayedStartSoc": round(soc), "displayedSoc": round(self.soc_pct),
                "totalChargingDurationSec": int((now - started).total_seconds()),
                "energyConsumedFromPowerGridKwh": self.energy_grid_kwh - energy,
                "isPreconditioningActivated": False, "mileage": round(self.odometer_km),
                "mileageUnits": "MileageUnits.KM", "timeZone": "Europe/Berlin",
                "chargingBlocks": [], "businessErrors": []})
            self._session_start = None
        data = {
            STATUS: self._entry(STATUS, "CHARGINGENDED", now, None),
            HV_STATUS: self._entry(HV_STATUS, "FINISHED_NOT_FULL" if self.soc_pct < 100
                                   else "FINISHED_FULLY_CHARGED", now, None),
            PORT: self._entry(PORT, "CONNECTED", now, None),
            PHASES: self._entry(PHASES, "1-PHASES", now, None),
            RANGE: self._entry(RANGE, round(self.soc_pct * self.km_per_pct), now, "km"),
            **self._soc_entries(now),
            **self._power_entries(now),
        }
        if self.profile != "legacy":
            data[LEVEL] = self._entry(LEVEL, round(self.soc_pct), now, "%")
        return [self._message(now, data)]

    def unplug(self, now: datetime) -> list[bytes]:
        messages = self.stop_charging(now) if self.charging else []
        self.plugged = False
        messages.append(self._message(now, {
            PLUGGED: self._entry(PLUGGED, False, now, None),
            PORT: self._entry(PORT, "DISCONNECTED", now, None),
            STATUS: self._entry(STATUS, "NOCHARGING", now, None),
            HV_STATUS: self._entry(HV_STATUS, "NOT_CHARGING", now, None),
        }))
        return messages

    def park(self, now: datetime, latitude: float, longitude: float) -> list[bytes]:
        """A GPS fix: latitude and longitude in two messages, the second about 1 s later."""
        return [
            self._message(now, {LATITUDE: self._entry(LATITUDE, latitude, now, "degrees")}),
            self._message(now + timedelta(seconds=1),
                          {LONGITUDE: self._entry(LONGITUDE, longitude, now, "degrees"),
                           ODOMETER: self._entry(ODOMETER, self.odometer_km, now, "km")}),
        ]

    def resend_all(self, now: datetime) -> bytes:
        """Every held value again, each with the timestamp it was first sent with (stale)."""
        return self._message(now, {name: dict(entry) for name, entry in self.held.items()})

    # -- REST views ------------------------------------------------------------------------------

    def telematic_data(self, descriptors: list[str]) -> dict[str, dict[str, str | None]]:
        """REST `telematicData`: every value a string, never-seen keys all null."""
        out: dict[str, dict[str, str | None]] = {}
        for name in descriptors:
            entry = self.held.get(name)
            if entry is None:
                out[name] = {"timestamp": None, "unit": None, "value": None}
                continue
            value = entry["value"]
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            out[name] = {"timestamp": entry["timestamp"].replace("Z", ".000Z"),
                         "unit": entry.get("unit"), "value": text}
        return out

    def basic_data(self) -> dict[str, Any]:
        return {"vin": self.vin, "brand": "BMW", "isTelematicsCapable": True,
                "modelName": self.curve.name.removeprefix("BMW ").strip(),
                "driveTrain": "BEV", "propulsionType": "EL", "chargingModes": ["AC_LOW"],
                "hvsMaxEnergyAbsolute": self.curve.usable_kwh, "simStatus": "ACTIVE",
                "countryCodeISO": "DE", "constructionDate": "2023-03-01T00:00:00.000+0000"}
