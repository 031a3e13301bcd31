"""A whole household on the simulators: the config, the CarData login and the prices that the
demo and the end-to-end tests run the service with.

The shipped day-ahead prices are from 2024; `ShiftedPrices` moves them onto today by whole
weeks, so weekdays (and the shape of a working day's prices) stay as they were.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from optimizer.cardata.tokens import TokenSet, TokenStore
from optimizer.model import PriceSlot
from optimizer.ports import PriceSource
from optimizer.sim.broker import free_port
from optimizer.sim.simulator import Simulator

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
