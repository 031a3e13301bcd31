"""One generic Modbus TCP wallbox driver; everything model-specific comes from a register map.

The driver writes the current (or the pause) the map describes, reads it back to make sure the
box took it, decodes status and meter registers, and owns the keep-alive task that stops the box
from falling back to its failsafe current. Exception responses that mean "busy, try again" and
timeouts are retried; everything else raises a `ChargerError` naming the register.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from optimizer.chargers.errors import ChargerError, DeviceFault
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.meter import MeterFeed
from optimizer.chargers.modbus_map import Register, RegisterMap
from optimizer.events import ChargerState, ChargerStatus, MeterReading
from optimizer.ports import Clock

log = logging.getLogger(__name__)

Value = int | float | str
Ticker = Callable[[float], Awaitable[None]]

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}
RETRYABLE_EXCEPTIONS = frozenset({5, 6, 10, 11})
"""Exception codes that mean "not now" rather than "never": retried like timeouts."""


def _hex(words: list[int]) -> str:
    return " ".join(f"{word:04X}" for word in words)


class ModbusCharger:
    def __init__(
        self,
        name: str,
        register_map: RegisterMap,
        limits: CurrentRange,
        clock: Clock,
        *,
        host: str,
        port: int = 502,
        unit_id: int | None = None,
        timeout_s: float = 3.0,
        retries: int = 2,
        retry_delay_s: float = 0.5,
    ) -> None:
        self.name = name
        self.map = register_map
        self.limits = limits
        self._clock = clock
        self._address = f"{host}:{port}"
        self.unit_id = register_map.device.unit_id if unit_id is None else unit_id
        self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
        self._retries = retries
        self._retry_delay_s = retry_delay_s
        self._setpoint_a: float | None = None
        self._last_on_a: float | None = None
        self._timeout_value: int | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.heartbeat_period_s: float | None = None
        self.last_error: str | None = None
        self._feed = MeterFeed()

    # -- connection ----------------------------------------------------------------------

    async def connect(self) -> None:
        if not await self._client.connect():
            raise ChargerError(
                f"charger '{self.name}': cannot connect to Modbus TCP {self._address}; check "
                f"the address and that Modbus TCP is enabled in the wallbox"
            )

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        self._client.close()

    async def __aenter__(self) -> ModbusCharger:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- register access -----------------------------------------------------------------

    async def _request(self, what: str, send: Callable[[], Awaitable[Any]]) -> Any:
        attempts = self._retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._retry_delay_s)
            try:
                if not self._client.connected:
                    await self.connect()
                response = await send()
            except (ModbusIOException, ConnectionException, TimeoutError) as exc:
                problem = f"no answer ({exc})"
                continue
            except ChargerError as exc:
                problem = str(exc)
                continue
            if not response.isError():
                return response
            code = int(getattr(response, "exception_code", 0))
            problem = f"Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"
            if code not in RETRYABLE_EXCEPTIONS:
                break
        raise ChargerError(
            f"charger '{self.name}' ({self.map.device.model} at {self._address}, unit "
            f"{self.unit_id}): {what} failed: {problem}"
        )

    def _register(self, name: str) -> Register:
        return self.map.registers[name]

    async def read_raw(self, name: str) -> Value:
        """The register's value as the box stores it (shift/mask applied, no scaling).

        Raises `DeviceFault` for what no working box says: NaN or infinity, text that is not
        text, or a value outside the map's physical range for this register.
        """
        reg = self._register(name)
        what = f"reading {name} ({reg.table} {reg.address})"
        client, unit = self._client, self.unit_id
        if reg.table in ("coil", "discrete"):
            reader = client.read_coils if reg.table == "coil" else client.read_discrete_inputs
            response = await self._request(
                what, lambda: reader(reg.address, count=1, device_id=unit))
            return int(bool(response.bits[0]))
        reader = (client.read_holding_registers if reg.table == "holding"
                  else client.read_input_registers)
        response = await self._request(
            what, lambda: reader(reg.address, count=reg.words, device_id=unit))
        words: list[int] = list(response.registers)
        if len(words) != reg.words:
            raise self._fault(name, f"answered {len(words)} registers instead of {reg.words}")
        if reg.type == "string":
            return self._text(name, words)
        value = client.convert_from_registers(
            words, client.DATATYPE[reg.type.upper()], word_order=reg.word_order)
        if isinstance(value, float) and not math.isfinite(value):
            raise self._fault(name, f"reads {value} (all words {_hex(words)})")
        if not isinstance(value, int | float):
            raise self._fault(name, f"decoded to a {type(value).__name__}, not a number")
        if isinstance(value, int) and (reg.shift or reg.mask is not None):
            value >>= reg.shift
            if reg.mask is not None:
                value &= reg.mask
        if not reg.in_range(value / reg.scale):
            raise self._fault(name, f"reads {value / reg.scale:g} (words {_hex(words)}), "
                                    f"outside the {reg.range_text()} a working box reports")
        return value

    def _text(self, name: str, words: list[int]) -> str:
        data = b"".join(struct.pack(">H", word) for word in words).rstrip(b"\x00 ")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise self._fault(name, f"holds bytes that are not text ({_hex(words)})") from None
        if not text.isprintable():
            raise self._fault(name, f"holds control characters, not text ({_hex(words)})")
        return text.strip()

    def _fault(self, name: str, problem: str) -> DeviceFault:
        reg = self._register(name)
        return DeviceFault(
            f"charger '{self.name}' ({self.map.device.model} at {self._address}, unit "
            f"{self.unit_id}): device fault: {name} ({reg.table} {reg.address}) {problem}; "
            f"check the box, and that model = the right map for it"
        )

    async def read(self, name: str) -> float:
        """The register's physical value (A, kW, kWh...), i.e. raw / scale."""
        value = await self.read_raw(name)
        if isinstance(value, str):
            raise ChargerError(f"charger '{self.name}': {name} is text, not a number")
        return value / self._register(name).scale

    async def write(self, name: str, value: float) -> None:
        """Write a physical value (scaled into register units) with the map's function code."""
        reg = self._register(name)
        raw: float = value * reg.scale
        what = f"writing {value:g} to {name} ({reg.table} {reg.address})"
        client, unit = self._client, self.unit_id
        if reg.write == "coil":
            await self._request(
                what, lambda: client.write_coil(reg.address, bool(raw), device_id=unit))
            return
        number: int | float = raw if reg.type.startswith("float") else round(raw)
        try:
            registers = client.convert_to_registers(
                number, client.DATATYPE[reg.type.upper()], word_order=reg.word_order)
        except struct.error:
            raise ChargerError(
                f"charger '{self.name}': {value:g} does not fit {name} ({reg.type}, "
                f"{reg.scale:g} units each); is max_current_a right for this box?"
            ) from None
        if reg.write == "single":
            await self._request(
                what, lambda: client.write_register(reg.address, registers[0], device_id=unit))
        elif reg.write == "multiple":
            await self._request(
                what, lambda: client.write_registers(reg.address, registers, device_id=unit))
        else:
            raise ChargerError(f"charger '{self.name}': register {name} is read-only")

    # -- Charger -------------------------------------------------------------------------

    async def set_current_limit(self, current_a: float) -> None:
        current_a = self.limits.clamp_a(current_a)
        control = self.map.control
        if current_a == 0:
            await self.stop()
            return
        await self.write(control.current, current_a)
        if control.enable is not None:
            await self.write(control.enable, 1)
        self._setpoint_a = self._last_on_a = current_a
        await self._verify(current_a)

    async def start(self) -> None:
        """Charge again at the last current set (or the minimum if none was set yet)."""
        await self.set_current_limit(self._last_on_a or self.limits.min_current_a)

    async def stop(self) -> None:
        control = self.map.control
        if control.enable is not None:
            await self.write(control.enable, 0)
        else:
            await self.write(control.current, 0)
            await self._verify(0.0)
        self._setpoint_a = 0.0

    async def _verify(self, current_a: float) -> None:
        name = self.map.control.readback or self.map.control.current
        applied_a = await self.read(name)
        # written as "not within" so that a NaN read-back (never within anything) fails too
        if not abs(applied_a - current_a) * self._register(name).scale <= 0.5:
            raise ChargerError(
                f"charger '{self.name}': wrote {current_a:g} A but {name} reads back "
                f"{applied_a:g} A; the box did not take the limit"
            )

    async def decode_state(self) -> ChargerState:
        values: dict[str, Value] = {}
        for rule in self.map.status.rules:
            if rule.source not in values:
                values[rule.source] = await self.read_raw(rule.source)
            if rule.matches(values[rule.source]):
                return rule.state
        return self.map.status.default

    async def status(self) -> ChargerStatus:
        meter = self.map.meter
        power_kw = await self.read(meter.power) if meter.power else None
        energy_kwh = await self.read(meter.energy) if meter.energy else None
        if power_kw is not None or energy_kwh is not None:
            self._feed.publish(MeterReading(self.name, self._clock.now(), energy_kwh, power_kw))
        return ChargerStatus(
            state=await self.decode_state(),
            power_kw=power_kw,
            energy_kwh=energy_kwh,
            current_limit_a=self._setpoint_a,
            details={
                "model": f"{self.map.device.vendor} {self.map.device.model}",
                "address": self._address,
                "unit_id": self.unit_id,
                "heartbeat_period_s": self.heartbeat_period_s,
                "last_error": self.last_error,
            },
        )

    # -- MeterSource ---------------------------------------------------------------------

    def readings(self) -> AsyncIterator[MeterReading]:
        """Readings taken by `status()`; the service polls status once per minute or so."""
        return self._feed.readings()

    # -- heartbeat -----------------------------------------------------------------------

    async def resolve_heartbeat_period_s(self) -> float | None:
        """The keep-alive period: from the box's own timeout register where the map has one.

        A timeout the box cannot be trusted on (unreadable, a device fault, 0 = off) leaves the
        map's period and a timeout that matches it: the keep-alive goes on either way.
        """
        heartbeat = self.map.heartbeat
        if heartbeat is None:
            return None
        period_s = heartbeat.period_s
        self._timeout_value = round(period_s * heartbeat.timeout_divisor * heartbeat.timeout_scale)
        if heartbeat.timeout_register is not None:
            try:
                raw = await self.read_raw(heartbeat.timeout_register)
            except ChargerError as exc:
                self.last_error = str(exc)
                log.warning("%s; keeping the map's heartbeat of %g s", exc, period_s)
                raw = 0
            if isinstance(raw, int | float) and raw > 0:
                self._timeout_value = int(raw)
                period_s = max(1.0, raw / heartbeat.timeout_scale / heartbeat.timeout_divisor)
        self.heartbeat_period_s = period_s
        return period_s

    async def heartbeat_once(self) -> None:
        """One keep-alive: the writes/reads the map lists, in order."""
        heartbeat = self.map.heartbeat
        if heartbeat is None:
            return
        for action in heartbeat.actions:
            if action.read is not None:
                await self.read_raw(action.read)
                continue
            assert action.write is not None  # guaranteed by the map's validation
            if action.value == "setpoint":
                if self._setpoint_a is None:
                    continue  # nothing set yet: the box's own default is fine
                await self.write(action.write, self._setpoint_a)
            elif action.value == "timeout":
                if self._timeout_value is None:
                    await self.resolve_heartbeat_period_s()
                if self._timeout_value is not None:
                    await self.write(action.write, self._timeout_value)
            elif action.value is not None:
                await self.write(action.write, action.value)

    async def run_heartbeat(self, ticker: Ticker = asyncio.sleep) -> None:
        """Keep the box alive until cancelled, at the period fixed at the start (the box's or
        the map's). A failed beat, a device fault included, is logged, kept in `last_error`
        and retried next period: this task only ends when it is cancelled."""
        period_s = await self.resolve_heartbeat_period_s()
        if period_s is None:
            return
        while True:
            await ticker(period_s)
            try:
                await self.heartbeat_once()
                self.last_error = None
            except ChargerError as exc:
                self.last_error = str(exc)
                log.warning("%s", exc)
            except Exception as exc:  # a bug must not silently drop the box into failsafe
                self.last_error = f"charger '{self.name}': heartbeat failed: {exc!r}"
                log.exception("charger '%s': heartbeat failed; retrying next period", self.name)

    def start_heartbeat(self, ticker: Ticker = asyncio.sleep) -> None:
        if self._heartbeat is None and self.map.heartbeat is not None:
            self._heartbeat = asyncio.get_running_loop().create_task(self.run_heartbeat(ticker))
