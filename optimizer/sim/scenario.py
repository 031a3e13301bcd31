"""A whole household on the simulators: the config, the CarData login and the prices that the
demo and the end-to-end tests run the service with.

The shipped day-ahead prices are from 2024; `ShiftedPrices` moves them onto today by whole
weeks, so weekdays (and the shape of a working day's prices) stay as they were.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.cardata.tokens import TokenSet, TokenStore
from optimizer.model import PriceSlot
from optimizer.ports import PriceSource
from optimizer.sim.broker import free_port
from optimizer.sim.simulator import Simulator
from optimizer.sim.vehicle import SimVehicle

REPO = Path(__file__).resolve().parents[2]
TARIFF = REPO / "tariffs" / "de_dynamic.toml"
VIN = "WBA00000000000U11"
STATION_ID = "garage"


class ShiftedPrices:
    """A `PriceSource` that answers for `[start, end)` with the source's prices `shift` earlier."""

    def __init__(self, source: PriceSource, shift: timedelta) -> None:
        self.source = source
        self.shift = shift

    def price_slots(self, start: datetime, end: datetime) -> Sequence[PriceSlot]:
        return [PriceSlot(s.start + self.shift, s.end + self.shift, s.price)
                for s in self.source.price_slots(start - self.shift, end - self.shift)]


def weeks_back_into(today: datetime, last: datetime) -> timedelta:
    """The whole number of weeks that moves `today` to on or before `last` (a series' end)."""
    weeks = max(0, -(-(today - last).days // 7))
    return timedelta(weeks=weeks)


def sign_in(sim: Simulator, state_dir: Path, now: datetime) -> None:
    """What `ev-optimizer login` would have stored, without the browser step."""
    body = sim.cloud.issue_tokens("authenticate_user openid cardata:api:read "
                                  "cardata:streaming:read")
    sim.cloud.wait_gate_applied()
    TokenStore(state_dir).save(TokenSet.from_response(body, client_id=sim.config.client_id,
                                                      now=now))


def write_config(workdir: Path, sim: Simulator, *, http_port: int = 0,
                 ocpp_port: int | None = None, tariff: Path = TARIFF,
                 departure: str = "07:30", extra: str = "") -> tuple[Path, str, int]:
    """A config.toml for one car on one OCPP station; returns (path, station password, port)."""
    state = workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    secret = state / "ocpp-garage.password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    port = ocpp_port or free_port()
    days = "\n".join(f'{d} = "{departure}"' for d in ("mon", "tue", "wed", "thu", "fri",
                                                      "sat", "sun"))
    path = workdir / "config.toml"
    path.write_text("\n".join([
        'timezone = "Europe/Berlin"', 'state_dir = "state"', f"tariff = {json.dumps(str(tariff))}",
        "[service]", f"http_port = {http_port}", extra,
        "[[vehicles]]", 'name = "iX1"', f'vin = "{VIN}"', "capacity_kwh = 64.7",
        "target_soc_pct = 80", "min_soc_pct = 20", 'charger = "garage"',
        "[vehicles.departures]", days,
        "[[chargers]]", 'name = "garage"', 'kind = "ocpp"', "phases = 3", "max_current_a = 16",
        "[chargers.ocpp]", f'station_id = "{STATION_ID}"',
        'password_file = "state/ocpp-garage.password"', f"port = {port}",
        sim.config_toml(),
    ]), encoding="utf-8")
    return path, password, port


def price_csv(path: Path, cheap_from: datetime, cheap_hours: int, days: int = 3) -> Path:
    """Hourly spot prices around now: 0.30 EUR/kWh, except `cheap_hours` from `cheap_from`."""
    start = (cheap_from - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    lines = ["start,price"]
    for hour in range(24 * days):
        at = start + timedelta(hours=hour)
        cheap = cheap_from <= at + timedelta(minutes=59) and at < cheap_from + timedelta(
            hours=cheap_hours)
        lines.append(f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ},{0.05 if cheap else 0.30}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spot_tariff(workdir: Path, cheap_from: datetime, cheap_hours: int = 3) -> Path:
    price_csv(workdir / "spot.csv", cheap_from, cheap_hours)
    path = workdir / "tariff.toml"
    path.write_text('name = "test spot"\nkind = "dynamic"\ncurrency = "EUR"\n'
                    'timezone = "Europe/Berlin"\nmarkup_per_kwh = 0\nvat_pct = 0\n'
                    'charges_per_kwh = 0\n[spot]\ncsv = "spot.csv"\nunit = "EUR/kWh"\n',
                    encoding="utf-8")
    return path


def day_of_stream(car: SimVehicle, start: datetime, total: int) -> list[bytes]:
    """`total` stream messages of one busy day from `start`: arrival, plug-in, a full charge
    (with re-sends of every held value), unplug, then GPS fixes and re-sends."""
    step = timedelta(seconds=86_400 / total)
    at = start
    out = car.arrive(at) + car.plug_in(at) + car.start_charging(at)
    while car.charging and len(out) < total:
        at += timedelta(seconds=30)
        out += car.advance(at)
        if len(out) % 40 == 0:
            out.append(car.resend_all(at))
    out += car.unplug(at)
    while len(out) < total:
        at += step
        out += car.park(at, 48.137, 11.575) if len(out) % 7 == 0 else [car.resend_all(at)]
    return out[:total]
