"""The stream message parser and the per-vehicle state: behaviour on real-shaped payloads and
property tests on arbitrary ones (the parser may only ever raise MessageError)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.cardata.descriptors import DESCRIPTORS
from optimizer.cardata.messages import MessageError, parse_message
from optimizer.cardata.state import VehicleState
from optimizer.errors import InputError
from optimizer.events import VEHICLE_FIELDS, ChargingStatus, VehicleEvent

VIN = "WBA00000000000001"
GCID = "aa111192-d570-4d3d-8835-656ee00edcd7"
HEADER = "vehicle.drivetrain.batteryManagement.header"
LEVEL = "vehicle.drivetrain.electricEngine.charging.level"
DISPLAYED = "vehicle.powertrain.electric.battery.stateOfCharge.displayed"
HVSOC = "vehicle.trip.segment.end.drivetrain.batteryManagement.hvSoc"
POWER = "vehicle.powertrain.electric.battery.charging.power"
STATUS = "vehicle.drivetrain.electricEngine.charging.status"
HVSTATUS = "vehicle.drivetrain.electricEngine.charging.hvStatus"
LAT = "vehicle.cabin.infotainment.navigation.currentLocation.latitude"
LON = "vehicle.cabin.infotainment.navigation.currentLocation.longitude"


def envelope(data: dict[str, Any], timestamp: str = "2026-01-01T09:00:01.412Z") -> str:
    return json.dumps({"vin": VIN, "entityId": GCID, "topic": VIN, "timestamp": timestamp,
                       "data": data})


def by_field(events: list[VehicleEvent]) -> dict[str, VehicleEvent]:
    return {e.field: e for e in events}


def test_charge_start_sample_is_normalised() -> None:
    # reference/cardata.md §2.4 sample 2
    payload = envelope({
        STATUS: {"timestamp": "2026-01-01T09:00:00Z", "value": "CHARGINGACTIVE"},
        "vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged":
            {"timestamp": "2026-01-01T08:59:41Z", "value": True},
        "vehicle.drivetrain.electricEngine.charging.phaseNumber":
            {"timestamp": "2026-01-01T09:00:00Z", "value": "3-PHASES"},
        "vehicle.drivetrain.electricEngine.charging.method":
            {"timestamp": "2026-01-01T09:00:00Z", "value": "AC_TYPE2PLUG"},
        HEADER: {"timestamp": "2026-01-01T08:59:58Z", "unit": "%", "value": 55},
        "vehicle.drivetrain.batteryManagement.maxEnergy":
            {"timestamp": "2026-01-01T08:59:58Z", "unit": "kWh", "value": 76.4},
        "vehicle.powertrain.electric.battery.stateOfCharge.target":
            {"timestamp": "2026-01-01T08:59:58Z", "unit": "%", "value": 80},
    })
    events = by_field(parse_message(payload))
    assert events["charging_status"].value is ChargingStatus.CHARGING
    assert events["plugged"].value is True
    assert events["plugged"].measured_at == datetime(2026, 1, 1, 8, 59, 41, tzinfo=UTC)
    assert events["phases"].value == 3
    assert events["soc_pct"].value == 55.0
    assert events["capacity_kwh"].value == pytest.approx(76.4)
    assert events["target_soc_pct"].value == 80.0
    assert events["raw:vehicle.drivetrain.electricEngine.charging.method"].value == "AC_TYPE2PLUG"
    # file replay: received_at is the envelope's timestamp
    assert all(e.received_at == datetime(2026, 1, 1, 9, 0, 1, 412000, tzinfo=UTC)
               for e in events.values())


@pytest.mark.parametrize(("value", "unit", "expected_kw"), [
    (11260, "W", 11.26), ("11260", "W", 11.26), (11.26, "kW", 11.26), ("11.26", "kw", 11.26),
    (11260, None, 11.26), (0.01126, "MW", 11.26),
])
def test_power_is_kw_whatever_the_unit(value: Any, unit: str | None, expected_kw: float) -> None:
    entry: dict[str, Any] = {"timestamp": "2026-01-01T09:02:00Z", "value": value}
    if unit is not None:
        entry["unit"] = unit
    (event,) = parse_message(envelope({POWER: entry}))
    assert event.field == "charging_power_kw"
    assert event.unit == "kW"
    assert event.value == pytest.approx(expected_kw)


def test_null_unit_odometer_in_miles_and_numbers_as_strings() -> None:
    events = by_field(parse_message(envelope({
        "vehicle.vehicle.travelledDistance": {"value": "1000", "unit": "mi"},
        "vehicle.drivetrain.electricEngine.kombiRemainingElectricRange":
            {"value": "312", "unit": None},
    })))
    assert events["odometer_km"].value == pytest.approx(1609.344)
    assert events["range_km"].value == 312.0


@pytest.mark.parametrize(("present", "winner"), [
    ((HEADER, LEVEL, DISPLAYED, HVSOC), HEADER),
    ((LEVEL, DISPLAYED, HVSOC), LEVEL),
    ((HVSOC, DISPLAYED), DISPLAYED),
    ((HVSOC,), HVSOC),
])
def test_soc_fallback_order(present: tuple[str, ...], winner: str) -> None:
    values = {HEADER: 50, LEVEL: 51, DISPLAYED: 52, HVSOC: 53}
    events = parse_message(envelope({d: {"value": values[d], "unit": "percent"} for d in present}))
    soc = [e for e in events if e.field == "soc_pct"]
    assert [e.value for e in soc] == [float(values[winner])]
    # the losers are kept raw, nothing is dropped
    assert {e.field for e in events} - {"soc_pct"} == {f"raw:{d}" for d in present if d != winner}


def test_status_prefers_charging_status_over_hv_status() -> None:
    events = parse_message(envelope({
        HVSTATUS: {"value": "NOT_CHARGING"}, STATUS: {"value": "CHARGINGACTIVE"}}))
    assert by_field(events)["charging_status"].value is ChargingStatus.CHARGING
    assert by_field(events)[f"raw:{HVSTATUS}"].value == "NOT_CHARGING"


@pytest.mark.parametrize(("value", "expected"), [
    ("CHARGINGENDED", ChargingStatus.FINISHED), ("CHARGINGPAUSED", ChargingStatus.WAITING),
    ("NOCHARGING", ChargingStatus.NOT_CHARGING), ("CHARGINGERROR", ChargingStatus.ERROR),
    ("FINISHED_NOT_FULL", ChargingStatus.FINISHED),
])
def test_status_values(value: str, expected: ChargingStatus) -> None:
    (event,) = parse_message(envelope({STATUS: {"value": value}}))
    assert event.value is expected


def test_null_value_is_skipped_and_missing_timestamp_falls_back() -> None:
    events = parse_message(envelope({HEADER: {"value": None, "unit": "%"},
                                     LAT: {"value": 48.11, "unit": "degrees"}}),
                           received_at=datetime(2026, 1, 1, 9, 0, 5, tzinfo=UTC))
    (lat,) = events
    assert lat.field == "latitude"
    assert lat.measured_at == datetime(2026, 1, 1, 9, 0, 1, 412000, tzinfo=UTC)
    assert lat.received_at == datetime(2026, 1, 1, 9, 0, 5, tzinfo=UTC)


def test_unparseable_known_values_are_kept_raw() -> None:
    events = by_field(parse_message(envelope({
        "vehicle.drivetrain.electricEngine.charging.acVoltage": {"value": "-NA-", "unit": "V"},
        POWER: {"value": 7, "unit": "horsepower"},
        HEADER: {"value": 140, "unit": "%"},
    })))
    assert set(events) == {"raw:vehicle.drivetrain.electricEngine.charging.acVoltage",
                           f"raw:{POWER}", f"raw:{HEADER}"}
    assert events[f"raw:{POWER}"].unit == "horsepower"


@pytest.mark.parametrize("payload", [
    b"", b"{not json", b"[]", b"42", b'{"data": {}}', b'{"vin": "", "data": {}}',
    b'{"vin": "X", "data": []}', b'{"vin": "X", "data": {}, "timestamp": "yesterday"}',
    b"\xff\xfe\x00", b"[" * 100_000,
])
def test_not_an_envelope_raises_message_error(payload: bytes) -> None:
    with pytest.raises(MessageError) as info:
        parse_message(payload)
    assert isinstance(info.value, InputError)
    assert "CarData message" in str(info.value)


def test_state_refuses_stale_values_and_pairs_position() -> None:
    state = VehicleState(VIN)
    t = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    later = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)

    def event(name: str, value: Any, at: datetime) -> VehicleEvent:
        return VehicleEvent(VIN, name, value, at, later)

    assert state.apply(event("soc_pct", 60.0, later))
    assert not state.apply(event("soc_pct", 55.0, t))  # stale re-send
    assert state.get("soc_pct") == 60.0
    assert not state.apply(event("soc_pct", 60.0, later))  # identical re-send
    assert state.apply(event("latitude", 48.1, t))
    assert state.position() is None
    assert state.apply(event("longitude", 11.5, t.replace(second=1)))
    assert state.position() == (48.1, 11.5, t.replace(second=1))
    assert state.apply(event("latitude", 48.2, later))
    assert state.position() is None  # the new latitude has no longitude yet
    with pytest.raises(ValueError, match="applied to the state"):
        state.apply(VehicleEvent("OTHER", "soc_pct", 1.0, later, later))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)
_descriptor_names = st.sampled_from(sorted(DESCRIPTORS)) | st.text(max_size=30)
_timestamps = st.none() | st.text(max_size=30) | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat())
_entries = st.fixed_dictionaries({}, optional={
    "timestamp": _timestamps, "value": _json, "unit": st.none() | st.sampled_from(
        ["%", "percent", "W", "kW", "kWh", "km", "mi", "V", "A", "degrees", "", "bogus"]) | _json})
_envelopes = st.fixed_dictionaries({}, optional={
    "vin": st.just(VIN) | _json, "entityId": _json, "topic": _json, "timestamp": _timestamps,
    "data": st.dictionaries(_descriptor_names, _entries | _json, max_size=8) | _json})


def _check(events: list[VehicleEvent]) -> None:
    for event in events:
        assert event.field in VEHICLE_FIELDS or event.field.startswith("raw:")
        assert event.measured_at.tzinfo is not None
        assert event.received_at.tzinfo is not None
        assert event.value is not None
    fields = [e.field for e in events if not e.field.startswith("raw:")]
    assert len(fields) == len(set(fields)), "one event per normalised field and message"


@settings(max_examples=400, deadline=None)
@given(_envelopes)
def test_fuzz_structured_envelopes_never_crash(doc: dict[str, Any]) -> None:
    try:
        payload = json.dumps(doc)
    except ValueError:
        return
    with contextlib.suppress(MessageError):
        _check(parse_message(payload))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_fuzz_arbitrary_payloads_never_crash(payload: bytes | str) -> None:
    with contextlib.suppress(MessageError):
        _check(parse_message(payload, received_at=datetime(2026, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize(("descriptor", "value", "expected"), [
    ("vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged", True, True),
    ("vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged", "false", False),
    ("vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged", "ASN_isTrue",
     True),
    ("vehicle.body.chargingPort.status", "DISCONNECTED", False),
    ("vehicle.drivetrain.electricEngine.charging.phaseNumber", "1-PHASES", 1),
    ("vehicle.drivetrain.electricEngine.charging.phaseNumber", 2, 2),
])
def test_booleans_and_enums(descriptor: str, value: Any, expected: Any) -> None:
    (event,) = parse_message(envelope({descriptor: {"value": value}}))
    assert event.value == expected and type(event.value) is type(expected)


def test_cli_stream_replays_a_recorded_file(tmp_path: Path) -> None:
    recording = tmp_path / "stream.jsonl"
    recording.write_text("\n".join([
        envelope({HEADER: {"timestamp": "2026-01-01T08:59:58Z", "unit": "%", "value": "55"}}),
        "not json",
        envelope({POWER: {"timestamp": "2026-01-01T09:02:00Z", "unit": "W", "value": 7400}},
                 timestamp="2026-01-01T09:02:00.930Z"),
    ]) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "optimizer", "stream", "--replay",
                             str(recording), "--json"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {"vin": VIN, "received_at": "2026-01-01T09:00:01.412000+00:00",
                     "measured_at": "2026-01-01T08:59:58+00:00", "soc_pct": 55.0}
    assert second["charging_power_kw"] == 7.4
    assert second["received_at"] == "2026-01-01T09:02:00.930000+00:00"
    assert "skipped invalid message #1" in result.stderr and "jsonl line 2: " in result.stderr


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["soc_pct", "plugged", "latitude"]),
                          st.integers(0, 20), st.integers(0, 3)), max_size=30))
def test_state_holds_the_newest_measurement_in_any_arrival_order(
        arrivals: list[tuple[str, int, int]]) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    state = VehicleState(VIN)
    newest: dict[str, int] = {}
    for name, second, value in arrivals:
        at = t0.replace(second=second)
        changed = state.apply(VehicleEvent(VIN, name, value, at, t0))
        if second < newest.get(name, -1):
            assert not changed  # older than what is held: never taken
        newest[name] = max(newest.get(name, -1), second)
    for name, second in newest.items():
        assert state.fields[name].measured_at == t0.replace(second=second)
