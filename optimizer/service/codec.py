"""JSON for what the service persists: plans (every slot, so a restart has the same plan to
the watt), sessions and the per-vehicle state of the session machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from optimizer.events import ChargerState
from optimizer.model import ChargePlan, PlannedSlot
from optimizer.session import Session, Soc, VehicleSpec, VehicleState


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _required(value: Any) -> datetime:
    parsed = _parse(value)
    if parsed is None:
        raise ValueError(f"expected an ISO time, got {value!r}")
    return parsed


def plan_to_dict(plan: ChargePlan) -> dict[str, Any]:
    return {
        "feasible": plan.feasible, "reason": plan.reason, "now": _time(plan.now),
        "departure": _time(plan.departure), "soc_start_pct": plan.soc_start_pct,
        "target_soc_pct": plan.target_soc_pct,
        "soc_at_departure_pct": plan.soc_at_departure_pct, "energy_kwh": plan.energy_kwh,
        "cost": plan.cost, "provisional": plan.provisional, "method": plan.method,
        "slots": [[_time(s.start), _time(s.end), s.power_kw, s.energy_kwh, s.price,
                   s.provisional, s.soc_start_pct, s.soc_end_pct] for s in plan.slots],
    }


def plan_from_dict(data: dict[str, Any]) -> ChargePlan:
    slots = tuple(
        PlannedSlot(_required(a), _required(b), float(p), float(e), float(price), bool(prov),
                    float(s0), float(s1))
        for a, b, p, e, price, prov, s0, s1 in data["slots"])
    return ChargePlan(
        feasible=bool(data["feasible"]), reason=data.get("reason"), now=_required(data["now"]),
        departure=_required(data["departure"]), soc_start_pct=float(data["soc_start_pct"]),
        target_soc_pct=float(data["target_soc_pct"]),
        soc_at_departure_pct=float(data["soc_at_departure_pct"]),
        energy_kwh=float(data["energy_kwh"]), cost=float(data["cost"]), slots=slots,
        provisional=bool(data.get("provisional", False)), method=str(data.get("method", "")))


def session_to_dict(session: Session) -> dict[str, Any]:
    return {
        "id": session.id, "vehicle": session.vehicle, "started_at": _time(session.started_at),
        "departure": _time(session.departure), "soc_start_pct": session.soc_start_pct,
        "ended_at": _time(session.ended_at), "energy_kwh": session.energy_kwh,
        "cost": session.cost, "cost_on_arrival": session.cost_on_arrival,
        "saving": session.saving, "meter_kwh": session.meter_kwh,
        "meter_at": _time(session.meter_at),
    }


def session_from_dict(data: dict[str, Any]) -> Session:
    return Session(
        id=str(data["id"]), vehicle=str(data["vehicle"]),
        started_at=_required(data["started_at"]), departure=_parse(data.get("departure")),
        soc_start_pct=data.get("soc_start_pct"), ended_at=_parse(data.get("ended_at")),
        energy_kwh=float(data.get("energy_kwh", 0.0)), cost=float(data.get("cost", 0.0)),
        cost_on_arrival=data.get("cost_on_arrival"), saving=data.get("saving"),
        meter_kwh=data.get("meter_kwh"), meter_at=_parse(data.get("meter_at")))


def state_to_dict(state: VehicleState) -> dict[str, Any]:
    """Everything but the spec (from the config) and the prices (their own table)."""
    soc = state.soc
    return {
        "plugged_car": state.plugged_car, "plugged_charger": state.plugged_charger,
        "charger_state": state.charger_state.value if state.charger_state else None,
        "charger_online": state.charger_online,
        "charger_offline_since": _time(state.charger_offline_since),
        "car_charging": state.car_charging,
        "soc": None if soc is None else [soc.soc_pct, soc.low_pct, soc.high_pct,
                                         _time(soc.reported_at)],
        "target_soc_pct": state.target_soc_pct, "departure": _time(state.departure),
        "boost": state.boost, "smart": state.smart,
        "session": session_to_dict(state.session) if state.session else None,
        "plan": plan_to_dict(state.plan) if state.plan else None,
        "plan_version": state.plan_version, "plan_reason": state.plan_reason,
        "last_refresh_at": _time(state.last_refresh_at), "notified": sorted(state.notified),
    }


def state_from_dict(data: dict[str, Any], spec: VehicleSpec) -> VehicleState:
    soc = data.get("soc")
    charger_state = data.get("charger_state")
    state = VehicleState(spec=spec)
    return replace(
        state,
        plugged_car=data.get("plugged_car"), plugged_charger=data.get("plugged_charger"),
        charger_state=ChargerState(charger_state) if charger_state else None,
        charger_online=bool(data.get("charger_online", True)),
        charger_offline_since=_parse(data.get("charger_offline_since")),
        car_charging=bool(data.get("car_charging", False)),
        soc=None if soc is None else Soc(float(soc[0]), float(soc[1]), float(soc[2]),
                                         _parse(soc[3])),
        target_soc_pct=data.get("target_soc_pct"), departure=_parse(data.get("departure")),
        boost=bool(data.get("boost", False)), smart=bool(data.get("smart", True)),
        session=session_from_dict(data["session"]) if data.get("session") else None,
        plan=plan_from_dict(data["plan"]) if data.get("plan") else None,
        plan_version=int(data.get("plan_version", 0)), plan_reason=data.get("plan_reason"),
        last_refresh_at=_parse(data.get("last_refresh_at")),
        notified=frozenset(str(k) for k in data.get("notified", [])))
