"""Register maps: one TOML file per wallbox model in `maps/`, validated here.

A map says where each value lives (table, address, data type, word order, scale), how the box
is switched (current setpoint, enable flag or 0 A), how its status registers decode to our
states, and which keep-alive writes or reads stop it from falling back to its failsafe current.
Adding a model means adding a file, not code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optimizer.errors import ConfigError
from optimizer.events import ChargerState

MAPS_DIR = Path(__file__).with_name("maps")

DataType = Literal["uint16", "int16", "uint32", "int32", "uint64", "float32", "float64", "string"]
Table = Literal["coil", "discrete", "holding", "input"]

REGISTER_WORDS: dict[str, int] = {
    "uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "uint64": 4, "float32": 2, "float64": 4,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Register(_Strict):
    table: Table
    address: int = Field(ge=0, le=65535)
    type: DataType = "uint16"
    count: int | None = Field(default=None, ge=1, le=64)
    """Registers of a string; numbers take their size from `type`."""
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    """Register units per physical unit: per A for currents, per kW for power, per kWh for
    energy (a setpoint in mA has 1000, a power in W has 1000, an energy in 0.1 kWh has 10)."""
    shift: int = Field(default=0, ge=0, le=63)
    mask: int | None = None
    """Status fields packed in a register: value = (raw >> shift) & mask."""
    write: Literal["single", "multiple", "coil"] | None = None
    """Function code used to write: FC06, FC16 or FC05. None = read-only."""
    low: float | None = Field(default=None, alias="min")
    high: float | None = Field(default=None, alias="max")
    """The physical range (after scale, shift and mask) a working box reports; outside it the
    driver reports a device fault instead of passing the value on. Vendors' tables give the
    codes and ratings; a 0xFFFF filler or a 4,295 kW "power" is what this catches."""

    @property
    def words(self) -> int:
        if self.table in ("coil", "discrete"):
            return 1
        if self.type == "string":
            return self.count or 1
        return REGISTER_WORDS[self.type]

    @model_validator(mode="after")
    def _check(self) -> Register:
        if self.type == "string" and self.count is None:
            raise ValueError("a string register needs `count` (number of 16-bit registers)")
        if self.write == "coil" and self.table != "coil":
            raise ValueError("write = 'coil' only works on table = 'coil'")
        if self.write in ("single", "multiple") and self.table != "holding":
            raise ValueError("only holding registers can be written with FC06/FC16")
        if self.write == "single" and self.words != 1:
            raise ValueError("FC06 writes one register; use write = 'multiple' for this type")
        if self.type == "string" and (self.low is not None or self.high is not None):
            raise ValueError("min/max apply to numbers, not to a string register")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"min ({self.low:g}) is above max ({self.high:g})")
        return self

    def in_range(self, physical: float) -> bool:
        return ((self.low is None or physical >= self.low)
                and (self.high is None or physical <= self.high))

    def range_text(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{low}..{high}"


class StatusRule(_Strict):
    """First matching rule wins: `equals` one of the values, `at_least` a value, or `bit` set."""

    source: str = Field(alias="register")
    state: ChargerState
    equals: list[int | str] | None = None
    at_least: float | None = None
    bit: int | None = Field(default=None, ge=0, le=63)

    @model_validator(mode="after")
    def _one_test(self) -> StatusRule:
        tests = [t for t in (self.equals, self.at_least, self.bit) if t is not None]
        if len(tests) != 1:
            raise ValueError("a status rule needs exactly one of equals, at_least, bit")
        return self

    def matches(self, value: int | float | str) -> bool:
        if self.equals is not None:
            return value in self.equals
        if isinstance(value, str):
            return False
        if self.at_least is not None:
            return value >= self.at_least
        return bool(int(value) >> (self.bit or 0) & 1)


class Status(_Strict):
    rules: list[StatusRule] = Field(min_length=1)
    default: ChargerState = ChargerState.UNKNOWN


class Meter(_Strict):
    power: str | None = None
    energy: str | None = None


class Control(_Strict):
    current: str
    """Register that takes the current limit (scaled by its `scale`)."""
    pause: Literal["zero_current", "enable_flag"]
    enable: str | None = None
    """With pause = 'enable_flag': the register/coil written 1 to allow charging, 0 to pause."""
    readback: str | None = None
    """Register to read the applied limit from; defaults to `current` (some are write-only)."""


class HeartbeatAction(_Strict):
    """Write `value` to `write` ("setpoint" = the last current again, "timeout" = the timeout
    read from the box), or read `read`; any of these resets the box's watchdog."""

    write: str | None = None
    value: int | Literal["setpoint", "timeout"] | None = None
    read: str | None = None

    @model_validator(mode="after")
    def _check(self) -> HeartbeatAction:
        if (self.write is None) == (self.read is None):
            raise ValueError("a heartbeat action either writes or reads one register")
        if self.write is not None and self.value is None:
            raise ValueError("a heartbeat write needs a value")
        return self


class Heartbeat(_Strict):
    period_s: float = Field(gt=0)
    """Used as is, or as the fallback when the timeout register cannot be read."""
    timeout_register: str | None = None
    timeout_scale: float = 1.0
    """Timeout register units per second (1000 for ms)."""
    timeout_divisor: float = Field(default=1.0, ge=1.0)
    """Period = timeout / divisor (vendors ask for timeout/2 or timeout/4)."""
    actions: list[HeartbeatAction] = Field(min_length=1)


class Device(_Strict):
    vendor: str
    model: str
    unit_id: int = Field(ge=0, le=255)
    port: int = 502
    sources: list[str] = Field(min_length=1)
    notes: str = ""


class RegisterMap(_Strict):
    device: Device
    registers: dict[str, Register]
    control: Control
    status: Status
    meter: Meter = Meter()
    heartbeat: Heartbeat | None = None

    @model_validator(mode="after")
    def _references(self) -> RegisterMap:
        names = [self.control.current, self.control.enable, self.control.readback,
                 self.meter.power, self.meter.energy]
        names += [rule.source for rule in self.status.rules]
        if self.heartbeat:
            names.append(self.heartbeat.timeout_register)
            for action in self.heartbeat.actions:
                names += [action.write, action.read]
        for name in names:
            if name is not None and name not in self.registers:
                raise ValueError(f"'{name}' is used but not defined under [registers]")
        if (self.control.pause == "enable_flag") != (self.control.enable is not None):
            raise ValueError("pause = 'enable_flag' needs control.enable, and only then")
        for name in (self.control.current, self.control.enable):
            if name is not None and self.registers[name].write is None:
                raise ValueError(f"register '{name}' is written but has no `write` method")
        return self


def available_maps() -> list[str]:
    return sorted(path.stem for path in MAPS_DIR.glob("*.toml"))


def load_map(model: str, directory: Path = MAPS_DIR) -> RegisterMap:
    path = directory / f"{model}.toml"
    if not path.is_file():
        raise ConfigError(
            f"no register map '{model}' in {directory}; "
            f"available: {', '.join(available_maps()) or 'none'}"
        )
    try:
        return RegisterMap.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
