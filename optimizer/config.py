"""config.toml: typed, validated once at the edge, with messages that name the culprit.

Every section is a pydantic model that forbids unknown keys, so a typo such as `taget_soc_pct`
is reported with the nearest known key instead of being silently ignored. `load_config` turns
every validation problem into one line `file: key: what is wrong (got X); what would be right`
and raises a single `ConfigError` carrying all of them.
"""

from __future__ import annotations

import difflib
import enum
import re
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optimizer import bounds
from optimizer.cardata.settings import CardataSettings
from optimizer.chargers.settings import HomeAssistantSettings, ModbusSettings, OcppSettings
from optimizer.errors import ConfigError, one_line
from optimizer.ha_mqtt.settings import MqttSettings
from optimizer.notify.settings import NotifySettings
from optimizer.planner import DEFAULT_EFFICIENCY, PlanOptions
from optimizer.planner.settings import SiteSettings
from optimizer.service.settings import ServiceSettings
from optimizer.textfiles import read_text

_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_PLAN = PlanOptions()
"""The planner's defaults, which `[planner]` keys left out take."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


class ChargerConfig(_Section):
    """A charging point. Its current range and phases set the power range the planner uses."""

    name: str = Field(min_length=1)
    kind: Literal["ocpp", "modbus", "homeassistant", "simulated"]
    phases: Literal[1, 3] = 3
    """A wallbox charges on one phase or on three; there are no two-phase wallboxes."""
    voltage_v: float = bounds.Range(100.0, 480.0, "V").field(230.0)
    min_current_a: float = bounds.Range(0.0, 80.0, "A").field(6.0)
    max_current_a: float = bounds.Range(0.0, 80.0, "A", low_open=True).field(16.0)
    ocpp: OcppSettings | None = None
    modbus: ModbusSettings | None = None
    homeassistant: HomeAssistantSettings | None = None

    @field_validator("phases", mode="before")
    @classmethod
    def _phases_are_numbers(cls, value: Any) -> Any:
        if isinstance(value, bool):  # `true` would otherwise pass as 1
            raise ValueError(f"{value!r} is not a number of phases; use 1 or 3")
        return value

    @model_validator(mode="after")
    def _check(self) -> ChargerConfig:
        if self.min_current_a > self.max_current_a:
            raise ValueError(
                f"min_current_a ({self.min_current_a:g}) is above max_current_a "
                f"({self.max_current_a:g}); set min_current_a <= max_current_a"
            )
        if self.kind != "simulated" and getattr(self, self.kind) is None:
            raise ValueError(
                f"kind is '{self.kind}' but the [chargers.{self.kind}] table is missing; "
                f"add it with the connection settings"
            )
        return self

    @property
    def min_power_kw(self) -> float:
        return self.min_current_a * self.voltage_v * self.phases / 1000.0

    @property
    def max_power_kw(self) -> float:
        return self.max_current_a * self.voltage_v * self.phases / 1000.0


class VehicleConfig(_Section):
    name: str = Field(min_length=1)
    vin: str
    capacity_kwh: float = bounds.CAPACITY_KWH.field()
    """Fallback usable capacity, used until CarData reports `maxEnergy`."""
    target_soc_pct: float = bounds.PERCENT.field(80.0)
    min_soc_pct: float = bounds.PERCENT.field(_PLAN.min_soc_pct)
    """Charged immediately, whatever the price."""
    efficiency: float = bounds.EFFICIENCY.field(DEFAULT_EFFICIENCY)
    priority: float = bounds.PRIORITY.field(0.0)
    """Under a `[site]` limit, when not every vehicle can reach its target: the minimum SoCs
    are charged in order of priority (higher first), as in `plan --fleet`."""
    departures: dict[Weekday, time] = Field(default_factory=dict)
    charger: str | None = None
    """The charger it uses; without one, `plan` needs `--max-power`."""

    @field_validator("departures", mode="before")
    @classmethod
    def _departures_are_times(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for day, at in value.items():
                if not isinstance(at, str | time):
                    raise ValueError(f"{day}: {at!r} is not a time of day; write e.g. \"07:30\"")
        return value

    @field_validator("vin", mode="before")
    @classmethod
    def _check_vin(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        vin = value.strip().upper()
        if not _VIN.fullmatch(vin):
            raise ValueError(
                f"{value!r} is not a VIN; a VIN has 17 letters and digits (no I, O or Q), "
                f"as shown in the MyBMW app or on the registration document"
            )
        return vin

    @model_validator(mode="after")
    def _check(self) -> VehicleConfig:
        if self.min_soc_pct > self.target_soc_pct:
            raise ValueError(
                f"min_soc_pct ({self.min_soc_pct:g}) is above target_soc_pct "
                f"({self.target_soc_pct:g}); set min_soc_pct <= target_soc_pct"
            )
        return self

    def next_departure(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The first configured departure strictly after `now`, or None without departures."""
        local = now.astimezone(tz)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            at = self.departures.get(WEEKDAYS[day.weekday()])
            if at is None:
                continue
            candidate = datetime.combine(day, at, tzinfo=tz)
            if candidate > now:
                return candidate
        return None


class PlannerConfig(_Section):
    """Planner options; see optimizer/planner/README.md for what each one does."""

    mode: Literal["cheapest", "block"] = _PLAN.mode
    min_run_minutes: int = bounds.MINUTES.field(_PLAN.min_run_minutes)
    start_penalty: float = bounds.START_PENALTY.field(_PLAN.start_penalty)
    buffer_minutes: int = bounds.MINUTES.field(_PLAN.buffer_minutes)
    opportunistic_limit_soc_pct: float | None = bounds.OPPORTUNISTIC_LIMIT.field(
        _PLAN.opportunistic_limit_soc_pct)
    opportunistic_price_cap: float = bounds.PRICE.field(_PLAN.opportunistic_price_cap)
    unknown_price: float | None = bounds.PRICE.field(_PLAN.unknown_price)


class Config(_Section):
    timezone: str = "Europe/Berlin"
    state_dir: Path = Path("state")
    tariff: Path
    planner: PlannerConfig = PlannerConfig()
    vehicles: list[VehicleConfig] = Field(min_length=1)
    chargers: list[ChargerConfig] = Field(default_factory=list)
    """None for a planning-only config (`plan --max-power`, no wallbox to drive)."""
    cardata: CardataSettings = CardataSettings()
    site: SiteSettings = SiteSettings()
    service: ServiceSettings = ServiceSettings()
    notify: NotifySettings = NotifySettings()
    mqtt: MqttSettings | None = None

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not an IANA time zone; use a name such as 'Europe/Berlin'"
            ) from None
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        for kind, names in (
            ("vehicle", [v.name for v in self.vehicles]),
            ("charger", [c.name for c in self.chargers]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; '{dupes[0]}' appears twice")
        known = [c.name for c in self.chargers]
        for index, vehicle in enumerate(self.vehicles):
            if vehicle.charger is not None and vehicle.charger not in known:
                choices = (f"use one of {', '.join(repr(n) for n in known)}" if known
                           else "add it as [[chargers]] or leave the key out")
                raise ValueError(
                    f"vehicles[{index}].charger: '{vehicle.charger}' is not a configured charger; "
                    f"{choices}"
                )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def vehicle(self, name: str | None) -> VehicleConfig:
        """The named vehicle, or the only/first one when `name` is None."""
        if name is None:
            return self.vehicles[0]
        for vehicle in self.vehicles:
            if vehicle.name == name or vehicle.vin == name.upper():
                return vehicle
        known = ", ".join(v.name for v in self.vehicles)
        raise ConfigError(f"no vehicle named '{name}' in the config; configured: {known}")

    def charger(self, name: str | None) -> ChargerConfig:
        """The named charger; a vehicle without one (a planning-only config) cannot be driven."""
        if name is None:
            raise ConfigError(
                "a vehicle has no charger; the service and backtest need `charger = ...` on "
                "every [[vehicles]] entry, naming one of the [[chargers]]"
            )
        for charger in self.chargers:
            if charger.name == name:
                return charger
        raise ConfigError(f"no charger named '{name}' in the config")


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad dict key; the key itself is named
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at `loc`, used to suggest known keys."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _section_type(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _section_type(annotation: Any) -> Any:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        for inner in getattr(candidate, "__args__", ()):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _describe(error: Any) -> str:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind = error["type"]
    where = _location(loc)
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        known = sorted(owner.model_fields) if owner else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return f"{where}: unknown key; {hint}"
    if kind == "missing":
        return f"{where}: required key is missing; add it"
    message = str(error["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        return f"{where}: {message}" if loc else message  # a whole-file check names its keys
    return f"{where}: {message} (got {error.get('input')!r})"


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """Validate an already-parsed TOML document; raise `ConfigError` listing every mistake."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(one_line([_describe(error) for error in exc.errors()], source)) from None


def _config_data(path: Path) -> dict[str, Any]:
    """The TOML document in `path`, not yet validated."""
    raw = read_text(path, "config file", error=ConfigError,
                    missing_hint="; pass --config with the path to your config.toml")
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None


def missing_files(path: Path) -> list[str]:
    """The files the chargers need (station passwords, TLS files, tokens) that are not where
    the config says, relative paths taken from the config's folder: `run` would stop on each
    when it opens that charger. Call it on a config `load_config` accepted."""
    try:
        Config.model_validate(_config_data(path), context={"config_dir": path.resolve().parent})
    except ValidationError as exc:
        return [_describe(error) for error in exc.errors()]
    return []


def load_config(path: Path) -> Config:
    """Read and validate config.toml; relative paths inside it are relative to the file."""
    config = parse_config(_config_data(path), str(path))
    base = path.resolve().parent
    return config.model_copy(
        update={
            "tariff": (base / config.tariff.expanduser()).resolve(),
            "state_dir": (base / config.state_dir.expanduser()).resolve(),
        }
    )
