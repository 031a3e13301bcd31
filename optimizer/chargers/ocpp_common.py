"""Version-neutral OCPP pieces: the session interface both protocol versions implement, the
callbacks they report to, and the parsing of status and meter payloads (data tables, not
if-chains, so a new status string is one line)."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar, cast

from ocpp import routing
from ocpp.exceptions import OCPPError

from optimizer.chargers.errors import ChargerError
from optimizer.chargers.limits import CurrentPeriod
from optimizer.chargers.meter import TO_KILO
from optimizer.events import ChargerState, MeterReading
from optimizer.ports import Clock

log = logging.getLogger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[_Handler], _Handler]:
    """`ocpp.routing.on` with types, so handlers stay type-checked under mypy --strict."""
    return cast(Callable[[_Handler], _Handler], routing.on(action))


def after(action: str) -> Callable[[_Handler], _Handler]:
    """`ocpp.routing.after` with types."""
    return cast(Callable[[_Handler], _Handler], routing.after(action))


PLAN_PROFILE_ID = 1
"""Our TxDefaultProfile carrying the plan; re-sent with the same id so it replaces itself."""
REJECTED = "the station rejected the charging profile"
LIVE_PROFILE_ID = 2
"""The TxProfile used for live limits (fallback, manual `set`); above the plan in the stack."""

STATUS_16: Mapping[str, ChargerState] = {
    "Available": ChargerState.AVAILABLE,
    "Preparing": ChargerState.PLUGGED,
    "Charging": ChargerState.CHARGING,
    "SuspendedEV": ChargerState.PLUGGED,
    "SuspendedEVSE": ChargerState.PLUGGED,
    "Finishing": ChargerState.PLUGGED,
    "Reserved": ChargerState.AVAILABLE,
    "Unavailable": ChargerState.UNKNOWN,
    "Faulted": ChargerState.FAULT,
}
"""OCPP 1.6 ChargePointStatus -> our state."""

CONNECTOR_STATUS_201: Mapping[str, ChargerState] = {
    "Available": ChargerState.AVAILABLE,
    "Occupied": ChargerState.PLUGGED,
    "Reserved": ChargerState.AVAILABLE,
    "Unavailable": ChargerState.UNKNOWN,
    "Faulted": ChargerState.FAULT,
}
"""OCPP 2.0.1 ConnectorStatusEnumType -> our state (charging comes from TransactionEvent)."""

CHARGING_STATE_201: Mapping[str, ChargerState] = {
    "Charging": ChargerState.CHARGING,
    "EVConnected": ChargerState.PLUGGED,
    "SuspendedEV": ChargerState.PLUGGED,
    "SuspendedEVSE": ChargerState.PLUGGED,
    "Idle": ChargerState.AVAILABLE,
}
"""OCPP 2.0.1 transactionInfo.chargingState -> our state."""

_ENERGY = "Energy.Active.Import.Register"
_POWER = "Power.Active.Import"


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    """What a station reports it will do: `(offset_s, limit_a)` periods from `start`."""

    start: datetime
    duration_s: int
    periods: tuple[tuple[int, float], ...]

    def limit_at(self, at: datetime) -> float | None:
        offset_s = (at - self.start).total_seconds()
        if not 0 <= offset_s < self.duration_s:
            return None
        found: float | None = None
        for start_s, limit_a in self.periods:
            if start_s <= offset_s:
                found = limit_a
        return found


class SessionEvents(Protocol):
    """What a connected station reports; implemented by `OcppCharger`."""

    def session_ready(self, session: OcppSession) -> None: ...

    def booted(self, vendor: str, model: str) -> None: ...

    def status_changed(self, state: ChargerState, details: Mapping[str, Any]) -> None: ...

    def transaction_changed(self, transaction_id: str | None) -> None: ...

    def transaction_seen(self, transaction_id: str) -> None: ...

    def occupied(self, details: Mapping[str, Any]) -> None:
        """2.0.1 `Occupied`: a car is on the connector, charging or not (that is for
        TransactionEvent to say), so a charging state already known must stay."""
        ...

    def meter(self, readings: Sequence[MeterReading]) -> None: ...


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What a session needs besides its connection; the same for both OCPP versions."""

    events: SessionEvents
    clock: Clock
    connector_id: int
    """The connector (1.6) or EVSE (2.0.1) the car is on."""
    phases: int
    id_tag: str
    heartbeat_s: int
    response_timeout_s: float


class OcppSession(Protocol):
    """One live connection to a station, whatever its OCPP version."""

    limit_decimals: int | None
    """Decimals a limit may have on the wire (1.6: one, because of its `multipleOf 0.1`)."""

    async def set_default_profile(
        self, periods: Sequence[CurrentPeriod], valid_to: datetime
    ) -> str | None:
        """Install the plan; None when the station accepted it, else why it did not."""
        ...

    async def set_live_limit(self, current_a: float, transaction_id: str) -> bool: ...

    async def composite_schedule(self, duration_s: int) -> CompositeSchedule | None: ...

    async def remote_start(self, current_a: float | None) -> bool: ...

    async def remote_stop(self, transaction_id: str) -> bool: ...

    async def request_transaction(self) -> bool:
        """Ask the station to report its running transaction (2.0.1: TriggerMessage
        TransactionEvent, else GetTransactionStatus for queued events). True when a report
        is coming; False when the station says there is none or the version cannot ask."""
        ...


def iso_utc(at: datetime) -> str:
    """OCPP timestamps: UTC with a `Z`, whole seconds."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


_LOGGED_CHARS = 500


class StationFaultsInOneLine(logging.Filter):
    """The `ocpp` library logs a station's malformed or unknown request with a traceback
    (`logger.exception`) although it answers it with a CALLERROR and carries on. That is the
    station's mistake, not ours: log it as one warning line, and cut frames quoted in logs
    (a station may send a megabyte) to a few hundred characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, OCPPError) or len(str(record.msg)) > _LOGGED_CHARS or any(
                isinstance(arg, str | bytes) and len(arg) > _LOGGED_CHARS
                for arg in (record.args if isinstance(record.args, tuple) else ())):
            message = record.getMessage()
            if len(message) > _LOGGED_CHARS:
                message = f"{message[:_LOGGED_CHARS]}... ({len(message)} characters)"
            record.msg, record.args = message, ()
        if isinstance(error, OCPPError):
            record.msg = f"{record.msg} ({type(error).__name__}; answered with a CALLERROR)"
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


OCPP_LOG = logging.getLogger("ocpp")
if not any(isinstance(f, StationFaultsInOneLine) for f in OCPP_LOG.filters):
    OCPP_LOG.addFilter(StationFaultsInOneLine())

MAX_FRAME_DEPTH = 32
"""JSON nesting an OCPP frame may have. The deepest real frame, a SetChargingProfile inside a
CALL, nests 6 levels; a 100,000-deep frame would blow Python's recursion limit in `json.loads`
and end the station's session with 1011, so it is refused before parsing."""

_CALL_ID = re.compile(r'\A\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


def frame_depth_exceeds(raw: str | bytes, limit: int = MAX_FRAME_DEPTH) -> bool:
    """True when `raw` nests arrays/objects deeper than `limit` (strings are skipped properly,
    brackets inside them do not count). Linear, and stops at the first level too deep."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if text.count("[") + text.count("{") <= limit:
        return False  # the common case: cannot be that deep
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class SessionHandlers:
    """Station requests answered the same way in OCPP 1.6 and 2.0.1 (mixed in before the
    version's `ChargePoint`, whose routing finds these handlers like its own)."""

    _settings: SessionSettings
    _heartbeat_result: ClassVar[Callable[..., Any]]
    """The version's `call_result.Heartbeat`."""

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Refuse frames nested too deep before the library parses them: a CALL gets a
        CALLERROR FormationViolation, anything else is dropped with a warning; the session
        goes on either way."""
        if frame_depth_exceeds(raw_msg):
            station = getattr(self, "id", "?")
            text = raw_msg.decode("utf-8", "replace") if isinstance(raw_msg, bytes) else raw_msg
            call_id = _CALL_ID.match(text)
            log.warning("OCPP: station '%s' sent a frame nested deeper than %d levels; %s",
                        station, MAX_FRAME_DEPTH,
                        "answered FormationViolation" if call_id else "dropped it")
            if call_id:
                await self._send(json.dumps(  # type: ignore[attr-defined]
                    [4, call_id.group(1), "FormationViolation",
                     f"JSON nested deeper than {MAX_FRAME_DEPTH} levels", {}]))
            return
        await super().route_message(raw_msg)  # type: ignore[misc]

    @after("BootNotification")
    def after_boot(self, **_: Any) -> None:
        self._settings.events.session_ready(self)  # type: ignore[arg-type]

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return self._heartbeat_result(current_time=iso_utc(self._settings.clock.now()))

    @after("Heartbeat")
    def after_heartbeat(self, **_: Any) -> None:
        # A station that reconnects after a network glitch need not boot again.
        self._settings.events.session_ready(self)  # type: ignore[arg-type]


def parse_time(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _unit(sample: Mapping[str, Any]) -> tuple[str, float]:
    """(unit, multiplier) of a sampled value; 1.6 has `unit`, 2.0.1 `unit_of_measure`."""
    measure = sample.get("unit_of_measure")
    if isinstance(measure, Mapping):
        return str(measure.get("unit", "Wh")), 10.0 ** int(measure.get("multiplier", 0))
    return str(sample.get("unit", "Wh")), 1.0


def parse_meter_values(
    charger: str, meter_value: Sequence[Mapping[str, Any]], received_at: datetime
) -> list[MeterReading]:
    """Totals (no `phase`) of active import energy and power, one reading per timestamp.

    Per-phase samples and other measurands are ignored: the estimator needs what went into the
    car in total. A measurand-less sample is energy, as the OCPP default says.
    """
    readings: list[MeterReading] = []
    for entry in meter_value:
        energy_kwh: float | None = None
        power_kw: float | None = None
        for sample in entry.get("sampled_value", ()):
            if sample.get("phase"):
                continue
            measurand = sample.get("measurand", _ENERGY)
            unit, multiplier = _unit(sample)
            scale = TO_KILO.get(unit)
            if scale is None:
                continue
            try:
                value = float(sample["value"]) * multiplier * scale
            except (TypeError, ValueError, OverflowError):
                continue
            if not math.isfinite(value):
                continue  # "NaN" or 1e400 from a station is no reading (and no JSON)
            if measurand == _ENERGY:
                energy_kwh = value
            elif measurand == _POWER:
                power_kw = value
        if energy_kwh is None and power_kw is None:
            continue
        readings.append(
            MeterReading(
                charger=charger,
                measured_at=parse_time(entry.get("timestamp"), received_at),
                energy_kwh=energy_kwh,
                power_kw=power_kw,
            )
        )
    return readings


async def checked_call(station: Any, payload: Any) -> Any:
    """Send a request; a CALLERROR or a timeout raises `ChargerError` (never a silent None)."""
    action = type(payload).__name__
    try:
        return await station.call(payload, suppress=False)
    except OCPPError as exc:
        raise ChargerError(
            f"station '{station.id}' answered {action} with an error: {exc}"
        ) from exc
    except TimeoutError as exc:
        raise ChargerError(f"station '{station.id}' did not answer {action} in time") from exc
