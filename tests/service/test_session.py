"""The session state machine, transition by transition, with an injected `now`."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from optimizer.events import ChargerState, NotificationKind
from optimizer.model import SLOT, ChargePlan, PriceSlot
from optimizer.planner import PlanOptions, PlanRequest, plan
from optimizer.session import (
    CARDATA_LOGIN,
    ApplySchedule,
    Attention,
    BoostSet,
    ChargerStatusChanged,
    Decision,
    MakePlan,
    MeterReading,
    Notify,
    PlanReady,
    Plugged,
    PricesUpdated,
    RefreshSoc,
    SavePlan,
    SaveSession,
    SmartSet,
    SocRefreshFailed,
    SocReport,
    Stop,
    TargetSet,
    Tick,
    Unplugged,
    VehicleSpec,
    VehicleState,
    cost_at_once,
    plan_changed_materially,
    step,
)

T0 = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
DEPARTURE = datetime(2026, 3, 6, 6, 30, tzinfo=UTC)


def prices() -> tuple[PriceSlot, ...]:
    """Dear in the evening, cheap from 01:00 to 04:00 UTC."""
    out = []
    at = T0 - timedelta(hours=2)
    while at < T0 + timedelta(hours=30):
        cheap = 1 <= at.hour < 4
        out.append(PriceSlot(at, at + SLOT, 0.10 if cheap else 0.40))
        at += SLOT
    return tuple(out)


def spec(**changes: object) -> VehicleSpec:
    base = VehicleSpec(name="iX1", vin="WBA00000000000U11", capacity_kwh=64.7,
                       target_soc_pct=80.0, min_soc_pct=20.0, max_power_kw=11.0,
                       departure_after=lambda now: DEPARTURE if now < DEPARTURE else None)
    return replace(base, **changes)  # type: ignore[arg-type]


def fresh(**changes: object) -> VehicleState:
    return VehicleState(spec=spec(**changes), prices=prices())


def kinds(decisions: list[Decision]) -> list[str]:
    return [type(d).__name__ for d in decisions]


def notes(decisions: list[Decision]) -> list[NotificationKind]:
    return [d.notification.kind for d in decisions if isinstance(d, Notify)]


def run_plan(state: VehicleState, decision: MakePlan, now: datetime) -> ChargePlan:
    """What the shell does with a MakePlan (one vehicle, the real planner)."""
    inputs = decision.inputs
    request = PlanRequest(now=now, departure=inputs.departure, soc_pct=inputs.soc_pct,
                          target_soc_pct=inputs.target_soc_pct, capacity_kwh=64.7,
                          max_power_kw=11.0, prices=[p for p in state.prices
                                                     if p.end > now
                                                     and p.start < inputs.departure])
    return plan(request, PlanOptions(min_soc_pct=inputs.min_soc_pct))


def plugged_and_planned(soc: float = 30.0) -> tuple[VehicleState, ChargePlan]:
    state = fresh()
    state, _ = step(state, SocReport(soc, soc - 0.5, soc + 0.5, T0 - timedelta(minutes=5)), T0)
    state, decisions = step(state, Plugged("car"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    result = run_plan(state, make, T0)
    state, _ = step(state, PlanReady(result, make.reason), T0)
    return state, result


def test_plug_in_from_the_car_opens_a_session_and_asks_for_a_plan() -> None:
    state, decisions = step(fresh(), Plugged("car"), T0)
    assert state.plugged and state.phase == "plugged"
    assert state.session is not None and state.session.started_at == T0
    assert state.session.departure == DEPARTURE
    assert kinds(decisions) == ["SaveSession", "MakePlan", "RefreshSoc"]  # no SoC: refresh
    make = decisions[1]
    assert isinstance(make, MakePlan)
    assert make.inputs.soc_pct == 0.0 and "SoC unknown" in make.reason
    assert make.inputs.min_soc_pct == 0.0  # no charging at once (dear) on a guess


def test_plug_in_seen_by_charger_then_car_is_one_session() -> None:
    state, first = step(fresh(), ChargerStatusChanged(ChargerState.PLUGGED, True), T0)
    session = state.session
    state, second = step(state, Plugged("car"), T0 + timedelta(seconds=20))
    assert "MakePlan" in kinds(first) and second == []
    assert state.session == session


def test_fresh_soc_at_plug_in_spends_no_rest_call() -> None:
    state, _ = step(fresh(), SocReport(30, 29.5, 30.5, T0 - timedelta(minutes=10)), T0)
    _, decisions = step(state, Plugged("car"), T0)
    assert "RefreshSoc" not in kinds(decisions)


def test_stale_soc_at_plug_in_is_refreshed_once_per_interval() -> None:
    state, _ = step(fresh(), SocReport(30, 29.5, 30.5, T0 - timedelta(hours=5)), T0)
    state, decisions = step(state, Plugged("car"), T0)
    assert next(d for d in decisions if isinstance(d, RefreshSoc)).reason.startswith(
        "the SoC is stale")
    state, _ = step(state, Unplugged("car"), T0 + timedelta(minutes=1))
    _, again = step(state, Plugged("car"), T0 + timedelta(minutes=2))
    assert "RefreshSoc" not in kinds(again)  # the interval protects the 50-call budget


def test_wide_band_before_planning_refreshes_the_soc() -> None:
    state, _ = plugged_and_planned()
    later = T0 + timedelta(hours=2)
    state, decisions = step(state, SocReport(40, 30, 50, T0 - timedelta(minutes=5)), later)
    assert kinds(decisions) == []  # an estimate without a new report does not re-plan
    state, decisions = step(state, Tick(later), later)
    assert kinds(decisions) == ["RefreshSoc", "MakePlan"]
    _, decisions = step(state, Tick(later + SLOT), later + SLOT)
    assert kinds(decisions) == ["MakePlan"]


def test_a_plan_is_saved_applied_and_notified_once() -> None:
    state, result = plugged_and_planned()
    assert state.plan == result and state.plan_version == 1 and state.phase == "waiting"
    assert all(s.start.hour in (1, 2, 3) or s.price <= 0.10 or s.start < T0 + timedelta(hours=1)
               for s in result.charging_slots)
    # the same plan again (a slot boundary, a restart) touches nothing
    _, decisions = step(state, PlanReady(result, "slot boundary"), T0 + timedelta(minutes=1))
    assert decisions == []


def test_first_plan_decisions() -> None:
    state, _ = step(fresh(), SocReport(30, 29.5, 30.5, T0), T0)
    state, decisions = step(state, Plugged("car"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    state, decisions = step(state, PlanReady(run_plan(state, make, T0), make.reason), T0)
    assert kinds(decisions) == ["SavePlan", "ApplySchedule", "Notify"]
    assert notes(decisions) == [NotificationKind.PLAN]
    saved = decisions[0]
    assert isinstance(saved, SavePlan) and saved.version == 1 and "plugged in" in saved.reason


def test_a_material_change_makes_a_new_version() -> None:
    state, _first = plugged_and_planned(30)
    make = step(state, TargetSet(100.0, None), T0)[1][-1]
    assert isinstance(make, MakePlan) and make.inputs.target_soc_pct == 100.0
    state, decisions = step(state, PlanReady(run_plan(state, make, T0), make.reason), T0)
    assert kinds(decisions)[:2] == ["SavePlan", "ApplySchedule"]
    assert state.plan_version == 2 and state.plan_reason == "target or departure changed"


def test_min_soc_charges_at_once_and_boost_charges_to_the_target_at_once() -> None:
    state, _ = step(fresh(), SocReport(10, 9.5, 10.5, T0), T0)
    state, decisions = step(state, Plugged("car"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    assert make.inputs.min_soc_pct == 20.0 and not make.inputs.at_once
    result = run_plan(state, make, T0)
    assert result.charging_slots[0].start == T0  # up to 20 % at once, dear or not
    state, decisions = step(state, BoostSet(True), T0)
    boost = decisions[-1]
    assert isinstance(boost, MakePlan) and boost.inputs.at_once
    assert boost.inputs.min_soc_pct == 80.0
    boosted = run_plan(state, boost, T0)
    charging = boosted.charging_slots
    assert charging[0].start == T0  # contiguous from now: no waiting for the cheap night
    assert all(a.end == b.start for a, b in itertools.pairwise(charging))


def test_smart_off_charges_at_once() -> None:
    state, _ = plugged_and_planned()
    _, decisions = step(state, SmartSet(False), T0)
    assert isinstance(decisions[-1], MakePlan) and decisions[-1].inputs.at_once


def test_missed_departure_keeps_charging_at_once_when_set() -> None:
    state, _ = plugged_and_planned()
    after = DEPARTURE + timedelta(minutes=15)
    _, decisions = step(state, Tick(after), after)
    make = decisions[-1]
    assert isinstance(make, MakePlan) and make.inputs.at_once
    assert make.inputs.departure > after and "departure passed" in make.reason


def test_missed_departure_plans_for_the_next_one_when_not_set() -> None:
    nxt = DEPARTURE + timedelta(days=1)
    state = fresh(keep_charging_after_departure=False,
                  departure_after=lambda now: DEPARTURE if now < DEPARTURE else nxt)
    state, _ = step(state, SocReport(30, 29.5, 30.5, T0), T0)
    state, _ = step(state, Plugged("car"), T0)
    after = DEPARTURE + timedelta(minutes=15)
    _, decisions = step(state, Tick(after), after)
    make = decisions[-1]
    assert isinstance(make, MakePlan) and not make.inputs.at_once
    assert make.inputs.departure == nxt


def test_infeasible_plan_says_so_once_with_the_expected_soc() -> None:
    state, _ = step(fresh(), SocReport(5, 4.5, 5.5, T0), T0)
    late = DEPARTURE - timedelta(hours=1)
    state, decisions = step(state, Plugged("car"), late)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    result = run_plan(state, make, late)
    assert not result.feasible
    state, decisions = step(state, PlanReady(result, make.reason), late)
    assert notes(decisions) == [NotificationKind.PLAN, NotificationKind.TARGET_UNREACHABLE]
    text = [d.notification.body for d in decisions if isinstance(d, Notify)][1]
    assert f"{result.soc_at_departure_pct:.0f} %" in text and "plug in earlier" in text
    moved = replace(result, slots=result.slots[1:])  # a material change, still infeasible
    _, again = step(state, PlanReady(moved, "slot boundary"), late)
    assert NotificationKind.TARGET_UNREACHABLE not in notes(again)


def test_meter_readings_count_energy_once_and_price_it() -> None:
    state, _ = plugged_and_planned()
    at = T0 + timedelta(hours=9)  # 02:00 UTC: the cheap night
    state, _ = step(state, MeterReading(at, 100.0), at)
    state, d1 = step(state, MeterReading(at + timedelta(minutes=10), 101.5), at)
    state, d2 = step(state, MeterReading(at + timedelta(minutes=10), 101.5), at)  # re-send
    state, d3 = step(state, MeterReading(at + timedelta(minutes=5), 101.0), at)  # older
    assert state.session is not None
    assert state.session.energy_kwh == pytest.approx(1.5)
    assert state.session.cost == pytest.approx(0.15)
    assert kinds(d1) == ["SaveSession"] and d2 == [] and d3 == []
    # a meter that starts again from 0 (a new transaction) adds nothing, then counts on
    state, _ = step(state, MeterReading(at + timedelta(minutes=20), 0.0), at)
    state, _ = step(state, MeterReading(at + timedelta(minutes=30), 1.0), at)
    assert state.session is not None and state.session.energy_kwh == pytest.approx(2.5)


def test_unplug_closes_the_session_with_cost_and_saving() -> None:
    state, _ = plugged_and_planned()
    at = T0 + timedelta(hours=9)
    state, _ = step(state, MeterReading(at, 10.0), at)
    state, _ = step(state, MeterReading(at + timedelta(hours=1), 21.0), at)
    end = T0 + timedelta(hours=13)
    state, decisions = step(state, Unplugged("car"), end)
    assert kinds(decisions) == ["SaveSession", "Stop", "Notify"]
    closed = decisions[0]
    assert isinstance(closed, SaveSession)
    s = closed.session
    assert s.ended_at == end and s.energy_kwh == pytest.approx(11.0)
    assert s.cost == pytest.approx(1.1)
    assert s.cost_on_arrival == pytest.approx(11.0 * 0.40)  # at once from 17:00: dear
    assert s.saving == pytest.approx(4.4 - 1.1)
    assert isinstance(decisions[1], Stop)
    assert notes(decisions) == [NotificationKind.SESSION_ENDED]
    assert not state.plugged and state.plan is None and state.phase == "unplugged"


def test_charging_start_and_stop_are_notified() -> None:
    state, _ = plugged_and_planned()
    state, started = step(state, ChargerStatusChanged(ChargerState.CHARGING, True), T0)
    assert NotificationKind.CHARGING_STARTED in notes(started) and state.charging
    state, stopped = step(state, ChargerStatusChanged(ChargerState.PLUGGED, True), T0)
    assert NotificationKind.CHARGING_STOPPED in notes(stopped) and not state.charging


def test_charger_available_means_unplugged() -> None:
    state, _ = plugged_and_planned()
    state, decisions = step(state, ChargerStatusChanged(ChargerState.AVAILABLE, True), T0)
    assert not state.plugged and "Stop" in kinds(decisions)


def test_charger_offline_for_too_long_needs_attention_once() -> None:
    state, _ = plugged_and_planned()
    state, _ = step(state, ChargerStatusChanged(ChargerState.UNKNOWN, False), T0)
    state, early = step(state, Tick(T0 + timedelta(minutes=5)), T0 + timedelta(minutes=5))
    assert NotificationKind.ATTENTION not in notes(early)
    state, late = step(state, Tick(T0 + timedelta(minutes=15)), T0 + timedelta(minutes=15))
    assert notes(late) == [NotificationKind.ATTENTION]
    _, again = step(state, Tick(T0 + timedelta(minutes=30)), T0 + timedelta(minutes=30))
    assert notes(again) == []


def test_quota_used_up_and_login_expired_need_attention_once() -> None:
    state, _ = plugged_and_planned()
    state, first = step(state, SocRefreshFailed("quota used up", True), T0)
    state, second = step(state, SocRefreshFailed("quota used up", True), T0)
    state, other = step(state, SocRefreshFailed("timeout", False), T0)
    assert notes(first) == [NotificationKind.ATTENTION] and second == [] and other == []
    state, login = step(state, Attention("login", "CarData login expired", "run login"), T0)
    assert notes(login) == [NotificationKind.ATTENTION]


def test_bad_targets_are_refused() -> None:
    state, _ = plugged_and_planned()
    with pytest.raises(ValueError, match="soc_pct"):
        step(state, TargetSet(120.0, None), T0)
    with pytest.raises(ValueError, match="departure"):
        step(state, TargetSet(None, T0 - timedelta(hours=1)), T0)


def test_new_prices_replan_only_while_plugged() -> None:
    _, unplugged = step(fresh(), PricesUpdated(prices()), T0)
    assert unplugged == []
    state, _ = plugged_and_planned()
    _, same = step(state, PricesUpdated(prices()), T0)
    assert same == []  # nothing new: no re-plan
    dearer = tuple(replace(p, price=(p.price or 0) + 0.01) for p in prices())
    _, decisions = step(state, PricesUpdated(dearer), T0)
    assert kinds(decisions) == ["MakePlan"]


def test_target_reached_phase() -> None:
    state, _ = plugged_and_planned()
    state, _ = step(state, SocReport(80.0, 79.5, 80.5, T0 + timedelta(hours=10)), T0)
    assert state.phase == "target_reached"


def test_material_change_ignores_small_and_past_differences() -> None:
    _state, result = plugged_and_planned()
    slots = list(result.slots)
    index = next(i for i, s in enumerate(slots) if s.power_kw > 0)
    slots[index] = replace(slots[index], power_kw=slots[index].power_kw - 0.5)
    nudged = replace(result, slots=tuple(slots))
    assert not plan_changed_materially(result, nudged, T0, 1.0)
    after = slots[index].end
    slots[index] = replace(slots[index], power_kw=0.0)
    assert not plan_changed_materially(result, replace(result, slots=tuple(slots)), after, 1.0)
    assert plan_changed_materially(result, replace(result, slots=tuple(slots)), T0, 1.0)


def test_cost_at_once_needs_every_price() -> None:
    slots = prices()
    assert cost_at_once(slots, T0, 11.0, 11.0) == pytest.approx(4.4)
    assert cost_at_once(slots, T0, 0.0, 11.0) == 0.0
    assert cost_at_once(slots[:2], slots[0].start, 100.0, 11.0) is None
    with_gap = (*slots[:2], replace(slots[2], price=None), *slots[3:])
    assert cost_at_once(with_gap, slots[0].start, 11.0, 11.0) is None


def test_apply_schedule_carries_the_plan() -> None:
    state, _ = step(fresh(), SocReport(30, 29.5, 30.5, T0), T0)
    state, decisions = step(state, Plugged("charger"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    result = run_plan(state, make, T0)
    _, decisions = step(state, PlanReady(result, make.reason), T0)
    applied = [d for d in decisions if isinstance(d, ApplySchedule)]
    assert applied == [ApplySchedule("iX1", result)]


def test_tick_while_unplugged_does_nothing() -> None:
    assert step(fresh(), Tick(T0), T0)[1] == []


def test_plans_start_from_the_low_end_of_the_band() -> None:
    state, _ = step(fresh(), SocReport(40, 37.0, 43.0, T0), T0)
    _, decisions = step(state, Plugged("car"), T0)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    assert make.inputs.soc_pct == 37.0


def test_a_routine_replan_keeps_a_plan_that_is_still_as_good() -> None:
    state, result = plugged_and_planned(60)
    slots = list(result.slots)
    on = [i for i, s in enumerate(slots) if s.power_kw > 0]
    off = next(i for i, s in enumerate(slots) if s.power_kw == 0 and s.price == 0.10)
    # the same energy one slot later at the same price: a tie the planner may break either way
    slots[off] = replace(slots[off], power_kw=slots[on[0]].power_kw,
                         energy_kwh=slots[on[0]].energy_kwh)
    slots[on[0]] = replace(slots[on[0]], power_kw=0.0, energy_kwh=0.0)
    tie = replace(result, slots=tuple(slots))
    assert plan_changed_materially(result, tie, T0, 1.0)
    _, routine = step(state, PlanReady(tie, "slot boundary", routine=True), T0)
    assert routine == []
    _, asked = step(state, PlanReady(tie, "target or departure changed"), T0)
    assert "ApplySchedule" in kinds(asked)


def test_a_reconnected_charger_that_has_not_said_its_state_changes_nothing() -> None:
    state, _ = plugged_and_planned()
    state, _ = step(state, ChargerStatusChanged(ChargerState.CHARGING, True), T0)
    state, offline = step(state, ChargerStatusChanged(ChargerState.UNKNOWN, False), T0)
    state, back = step(state, ChargerStatusChanged(ChargerState.UNKNOWN, True), T0)
    assert offline == [] and back == [] and state.charging and state.charger_online


def test_real_prices_that_confirm_the_forecast_make_a_version_but_touch_no_charger() -> None:
    state, result = plugged_and_planned()
    on_forecast = replace(result, provisional=True)
    state = replace(state, plan=on_forecast)
    # the same powers, now on published prices: saved as a new version, not uploaded
    after, decisions = step(state, PlanReady(result, "new prices", routine=True), T0)
    assert kinds(decisions) == ["SavePlan"]
    assert after.plan == result and not after.plan.provisional
    assert after.plan_version == state.plan_version + 1


def test_a_whole_site_plan_is_taken_even_for_a_small_change() -> None:
    state, result = plugged_and_planned()
    slots = list(result.slots)
    first = next(i for i, s in enumerate(slots) if s.power_kw > 0)
    slots[first] = replace(slots[first], power_kw=slots[first].power_kw - 0.5,
                           energy_kwh=slots[first].energy_kwh - 0.125)
    nudged = replace(result, slots=tuple(slots))
    assert not plan_changed_materially(result, nudged, T0, 1.0)
    _, alone = step(state, PlanReady(nudged, "new SoC report", routine=True), T0)
    assert alone == []
    after, joint = step(state, PlanReady(nudged, "site", routine=False, whole=True), T0)
    assert kinds(joint)[:2] == ["SavePlan", "ApplySchedule"] and after.plan == nudged


# --------------------------------------------------------------------------- the words


BERLIN = ZoneInfo("Europe/Berlin")


def told(decisions: list[Decision]) -> list[tuple[NotificationKind, str, str]]:
    return [(d.notification.kind, d.notification.title, d.notification.body)
            for d in decisions if isinstance(d, Notify)]


def in_berlin(soc: float = 30.0, **changes: object) -> VehicleState:
    state = VehicleState(spec=spec(tz=BERLIN, charger="garage", **changes), prices=prices())
    state, _ = step(state, SocReport(soc, soc - 0.5, soc + 0.5, T0 - timedelta(minutes=5)), T0)
    return state


def planned_in_berlin(soc: float = 30.0, at: datetime = T0) -> tuple[VehicleState,
                                                                       list[Decision]]:
    state, decisions = step(in_berlin(soc), Plugged("car"), at)
    make = next(d for d in decisions if isinstance(d, MakePlan))
    return step(state, PlanReady(run_plan(state, make, at), make.reason), at)


def scene_plan() -> list[Decision]:
    return planned_in_berlin()[1]


def scene_started() -> list[Decision]:
    state, _ = planned_in_berlin()
    return step(state, ChargerStatusChanged(ChargerState.CHARGING, True), T0)[1]


def scene_boost_started() -> list[Decision]:
    state, _ = planned_in_berlin()
    state, _ = step(state, BoostSet(True), T0)
    return step(state, ChargerStatusChanged(ChargerState.CHARGING, True), T0)[1]


def scene_stopped() -> list[Decision]:
    state, _ = planned_in_berlin()
    state, _ = step(state, ChargerStatusChanged(ChargerState.CHARGING, True), T0)
    state, _ = step(state, MeterReading(T0, 0.0), T0)
    state, _ = step(state, MeterReading(T0 + timedelta(minutes=30), 5.5), T0)
    at = T0 + timedelta(minutes=30)
    return step(state, ChargerStatusChanged(ChargerState.PLUGGED, True), at)[1]


def scene_unreachable() -> list[Decision]:
    return planned_in_berlin(5.0, DEPARTURE - timedelta(hours=1))[1][-1:]


def charged_11_kwh_in_the_night() -> VehicleState:
    state, _ = planned_in_berlin()
    at = T0 + timedelta(hours=9)
    state, _ = step(state, MeterReading(at, 10.0), at)
    state, _ = step(state, MeterReading(at + timedelta(hours=1), 21.0), at)
    return state


def scene_session() -> list[Decision]:
    return step(charged_11_kwh_in_the_night(), Unplugged("car"), T0 + timedelta(hours=13))[1]


def scene_session_unpriced() -> list[Decision]:
    state = charged_11_kwh_in_the_night()
    gap = (T0 + timedelta(minutes=30), T0 + timedelta(hours=1))
    state = replace(state, prices=tuple(  # a price of the arrival hour is missing
        p for p in prices() if not gap[0] <= p.start < gap[1]))
    return step(state, Unplugged("car"), T0 + timedelta(hours=13))[1]


def scene_offline() -> list[Decision]:
    state, _ = planned_in_berlin()
    state, _ = step(state, ChargerStatusChanged(ChargerState.UNKNOWN, False), T0)
    later = T0 + timedelta(minutes=15)
    return step(state, Tick(later), later)[1]


def scene_login() -> list[Decision]:
    state, _ = planned_in_berlin()
    return step(state, Attention(CARDATA_LOGIN, "CarData login needed", "adapter text"), T0)[1]


def scene_quota() -> list[Decision]:
    state, _ = planned_in_berlin()
    resets_at = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    return step(state, SocRefreshFailed("CU-429", True, 50, 50, resets_at), T0)[1]


HM = r"\d\d:\d\d"


@pytest.mark.parametrize(("scene", "kind", "title", "body"), [
    (scene_plan, NotificationKind.PLAN, "iX1: charging plan",
     rf"iX1 charges {HM}–{HM}, [\d.]+ kWh for [\d.]+ EUR: 80 % at 07:30"),
    (scene_started, NotificationKind.CHARGING_STARTED, "iX1: charging started",
     r"iX1 started charging at 30 %, 11\.0 kW at 18:00"),
    (scene_boost_started, NotificationKind.CHARGING_STARTED, "iX1: charging started",
     r"iX1 started charging at 30 %, [\d.]+ kW at 18:00 \(boost\)"),
    (scene_stopped, NotificationKind.CHARGING_STOPPED, "iX1: charging stopped",
     r"iX1 stopped charging at 30 % at 18:30; 5\.5 kWh so far"),
    (scene_unreachable, NotificationKind.TARGET_UNREACHABLE, "iX1: target not reachable",
     r"iX1 will be at \d+ % at 07:30, not 80 %: plug in earlier or lower the target"),
    (scene_session, NotificationKind.SESSION_ENDED, "iX1: session ended",
     r"iX1 session: 11\.0 kWh for 1\.10 EUR, saved 3\.30 EUR against charging on arrival, "
     r"left at 30 %"),
    (scene_session_unpriced, NotificationKind.SESSION_ENDED, "iX1: session ended",
     r"iX1 session: 11\.0 kWh for 1\.10 EUR, the saving is unknown \(.*\), left at 30 %"),
    (scene_offline, NotificationKind.ATTENTION, "Charger garage offline",
     r"Charger garage has been offline for 15 min \(since 18:00\): .*"),
    (scene_quota, NotificationKind.ATTENTION, "BMW CarData quota used up",
     r"BMW CarData REST quota used up \(50 of 50 calls\): the SoC is estimated without "
     r"refreshes until 01:00"),
    (scene_login, NotificationKind.ATTENTION, "BMW CarData login expired",
     r"BMW CarData login expired: .*run `ev-optimizer login`.*"),
])
def test_each_notification_in_the_words_of_issue_10(
        scene: Any, kind: NotificationKind, title: str, body: str) -> None:
    [(_, got_title, got_body)] = [t for t in told(scene()) if t[0] is kind]
    assert got_title == title
    assert re.fullmatch(body, got_body), got_body
