"""`plan_site()`: what the service calls with every plug-in request of one site.

With a site limit and more than one vehicle plugged in, the vehicles are planned jointly by
`plan_fleet` and each gets a `ChargePlan` of the usual shape, so the rest of the service treats
a joint plan like a single one. Without a limit (or with one vehicle) each is planned alone by
`plan()`, which then also honours the options the joint model does not have (a taper, runs,
a buffer, the block mode, opportunistic charging). Under a site limit those options are not
applied, and each plan's `reason` says which were left out, so nothing is ignored silently
(the shipped config's `min_run_minutes` would otherwise stop every joint plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from optimizer.errors import InputError
from optimizer.model import ChargePlan
from optimizer.planner.planner import PlanOptions, PlanRequest, plan, validate_request


@dataclass(frozen=True, slots=True)
class SiteRequest:
    """One plugged-in vehicle: its planning request, its options and its rank at the site."""

    request: PlanRequest
    options: PlanOptions = field(default_factory=PlanOptions)
    priority: float = 0.0


def plan_site(
    requests: Mapping[str, SiteRequest], site_max_power_kw: float | None, now: datetime,
    time_limit_s: float = 10.0,
) -> dict[str, ChargePlan]:
    """Plans keyed like `requests` (by vehicle name). Every request's `now` must be `now`."""
    for name, item in requests.items():
        if item.request.now != now:
            raise InputError(f"{name}: the request was made for {item.request.now.isoformat()}, "
                             f"not for the site's now {now.isoformat()}")
    if site_max_power_kw is None or len(requests) < 2:
        return {name: plan(item.request, item.options) for name, item in requests.items()}

    from optimizer.planner.fleet import FleetRequest, FleetVehicle, plan_fleet

    vehicles = []
    for name, item in requests.items():
        validate_request(item.request)
        request = item.request
        vehicles.append(FleetVehicle(
            name=name, soc_pct=request.soc_pct, target_soc_pct=request.target_soc_pct,
            capacity_kwh=request.capacity_kwh, departure=request.departure,
            max_power_kw=request.max_power_kw, min_power_kw=request.min_power_kw,
            efficiency=request.efficiency, priority=item.priority,
            min_soc_pct=min(item.options.min_soc_pct, request.target_soc_pct),
        ))
    # One price series for the site: the one reaching furthest (the requests of one site
    # come from one tariff; the latest departure's covers every other's horizon).
    latest = max(requests.values(), key=lambda item: item.request.departure)
    joint = plan_fleet(
        FleetRequest(now=now, site_max_power_kw=site_max_power_kw, vehicles=tuple(vehicles),
                     prices=latest.request.prices,
                     unknown_price=latest.options.unknown_price,
                     forecast_from=min((item.request.forecast_from for item in requests.values()
                                        if item.request.forecast_from is not None),
                                       default=None)),
        time_limit_s=time_limit_s,
    )
    plans = {}
    for vehicle, result in zip(vehicles, joint.vehicles, strict=True):
        request = requests[vehicle.name].request
        left_out = _not_applied(requests[vehicle.name])
        note = (f"not applied under the site limit: {', '.join(left_out)}" if left_out
                else None)
        plans[vehicle.name] = ChargePlan(
            feasible=result.feasible,
            reason="; ".join(r for r in (result.reason, note) if r) or None,
            now=now,
            departure=request.departure,
            soc_start_pct=request.soc_pct,
            target_soc_pct=request.target_soc_pct,
            soc_at_departure_pct=result.soc_at_departure_pct,
            energy_kwh=result.energy_kwh,
            cost=result.cost,
            slots=result.slots,
            provisional=any(s.provisional for s in result.charging_slots),
            method=f"site: {joint.method}",
        )
    return plans


def _not_applied(item: SiteRequest) -> list[str]:
    """The options of a request that the joint model cannot honour."""
    options, request = item.options, item.request
    used = {
        "taper": bool(request.taper),
        "mode": options.mode != "cheapest",
        "min_run_minutes": options.min_run_minutes > 0,
        "start_penalty": options.start_penalty > 0,
        "buffer_minutes": options.buffer_minutes > 0,
        "opportunistic_limit_soc_pct": options.opportunistic_limit_soc_pct is not None,
    }
    return [option for option, on in used.items() if on]
