"""The simulated car: real charge-curve physics with losses, and BMW's stream habits, checked
through our own parser and state holder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optimizer.cardata.messages import parse_message
from optimizer.cardata.state import VehicleState
from optimizer.events import ChargingStatus, VehicleEvent
from optimizer.sim.vehicle import SimVehicle, load_curve

VIN = "WBA00000000000001"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def charge(profile: str, soc_pct: float = 50.0, target: float = 80.0
           ) -> tuple[SimVehicle, list[list[VehicleEvent]]]:
    car = SimVehicle(VIN, "gcid", load_curve("iX1", "xDrive30"), soc_pct=soc_pct,
                     target_soc_pct=target, profile=profile)  # type: ignore[arg-type]
    messages = car.plug_in(T0) + car.start_charging(T0 + timedelta(seconds=20))
    at = T0 + timedelta(seconds=20)
    while car.charging:
        at += timedelta(minutes=1)
        messages += car.advance(at)
    return car, [parse_message(m) for m in messages]


def test_charge_follows_the_curve_with_losses() -> None:
    car, _ = charge("legacy")
    assert car.curve.usable_kwh == pytest.approx(64.7) and car.curve.ac_max_kw == 11.0
    assert car.soc_pct == pytest.approx(80.0)
    battery_kwh = 0.30 * car.capacity_kwh
    assert car.energy_grid_kwh == pytest.approx(battery_kwh / 0.9, rel=0.01)
    (session,) = car.history
    duration_h = session["totalChargingDurationSec"] / 3600
    assert duration_h == pytest.approx(battery_kwh / (11.0 * 0.9), rel=0.02)


def test_curve_tapers_near_full() -> None:
    curve = load_curve("iX1", "xDrive30")
    assert curve.power_limit_kw(50) > 100 > curve.power_limit_kw(99.9)
    assert curve.power_limit_kw(100) == pytest.approx(11.0)


def test_legacy_profile_sends_soc_only_at_start_and_stop() -> None:
    _, messages = charge("legacy")
    soc_times = {e.measured_at for m in messages for e in m if e.field == "soc_pct"}
    statuses = [e.value for m in messages for e in m if e.field == "charging_status"]
    assert len(soc_times) == 2  # charge start and charge stop
    assert statuses == [ChargingStatus.WAITING, ChargingStatus.CHARGING,
                        ChargingStatus.FINISHED]
    last_phases = [e.value for m in messages for e in m if e.field == "phases"][-1]
    assert last_phases == 1  # phaseNumber reset to 1-PHASES at the end of the charge


def test_level_profile_sends_predicted_soc_every_percent() -> None:
    _, messages = charge("level")
    levels = [e.value for m in messages for e in m
              if e.field == "soc_pct" and len(m) == 1]
    assert levels == [float(p) for p in range(51, 80)]


def test_stale_resend_does_not_move_the_state_back() -> None:
    car, messages = charge("legacy", target=70)
    state = VehicleState(VIN)
    for events in messages:
        for event in events:
            state.apply(event)
    assert state.get("soc_pct") == pytest.approx(70.0)
    stale = parse_message(car.resend_all(T0 + timedelta(hours=5)))
    assert {e.field for e in stale} >= {"soc_pct", "charging_status", "plugged"}
    mapped = [e for e in stale if not e.field.startswith("raw:")]
    assert not any(state.apply(e) for e in mapped)  # every value is a re-send


def test_gps_fix_is_split_over_two_messages() -> None:
    car = SimVehicle(VIN, "gcid", load_curve("iX1", "xDrive30"))
    first, second = (parse_message(m) for m in car.park(T0, 48.11, 11.57))
    assert [e.field for e in first] == ["latitude"]
    assert "longitude" in {e.field for e in second}
    state = VehicleState(VIN)
    for event in first:
        state.apply(event)
    assert state.position() is None
    for event in second:
        state.apply(event)
    assert state.position() == (48.11, 11.57, T0)
