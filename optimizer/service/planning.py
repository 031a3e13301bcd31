"""Planning for a whole site at once: `plan_vehicles(requests, now, site_max_power_kw)`.

Every re-plan of any vehicle goes through here with the requests of all plugged vehicles of the
site. With `[site] max_power_kw` they are planned jointly (`optimizer.planner.site.plan_site`),
so their powers never add up to more than the connection allows; without it each is planned on
its own. A vehicle that must charge at once (boost, smart off, a missed departure) is planned
alone, first, at what the site leaves it; the others share what remains.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from optimizer.errors import UserError
from optimizer.model import ChargePlan
from optimizer.planner import PlanOptions, PlanRequest, plan, validate_request
from optimizer.planner.site import SiteRequest, plan_site
from optimizer.session import slot_floor

log = logging.getLogger(__name__)

SITE_TIME_LIMIT_S = 5.0
"""The joint MILP (chargers with a minimum current) runs on the service's loop: bounded."""
POWER_TOLERANCE_KW = 1e-6


@dataclass(frozen=True, slots=True)
class VehiclePlanRequest:
    vehicle: str
    request: PlanRequest
    options: PlanOptions
    at_once: bool = False
    """Charge at once up to the target (boost, smart off, missed departure)."""
    priority: float = 0.0
    """The vehicle's rank at its site (`[[vehicles]] priority`), higher first."""


def plan_vehicles(requests: Sequence[VehiclePlanRequest], now: datetime,
                  site_max_power_kw: float | None = None) -> dict[str, ChargePlan]:
    """A plan per vehicle name; a request the planner refuses is logged and left out."""
    valid = []
    for item in requests:
        try:
            validate_request(item.request)
        except UserError as exc:
            log.warning("vehicle '%s': no plan at %s: %s", item.vehicle, now.isoformat(), exc)
        else:
            valid.append(item)
    if site_max_power_kw is None:
        return _alone(valid, now)
    plans: dict[str, ChargePlan] = {}
    left_kw = site_max_power_kw
    for item in (i for i in valid if i.at_once):
        share_kw = min(item.request.max_power_kw, left_kw)
        plans |= _alone([_capped(item, share_kw)], now)
        left_kw -= share_kw
    shared = [i for i in valid if not i.at_once]
    if len(shared) == 1 or (shared and left_kw <= POWER_TOLERANCE_KW):
        # alone, or nothing left to share: each at most what the site leaves (a plan with
        # no power that says the target cannot be reached, rather than an older plan kept)
        return plans | _alone([_capped(i, left_kw) for i in shared], now)
    if not shared:
        return plans
    try:
        plans |= plan_site({i.vehicle: SiteRequest(i.request, i.options, i.priority)
                            for i in shared},
                           left_kw, now, SITE_TIME_LIMIT_S)
    except UserError as exc:  # never expected after validation; each alone is still a plan
        log.warning("site: no joint plan at %s (%s); planning each vehicle alone",
                    now.isoformat(), exc)
        plans |= _alone([_capped(i, left_kw / len(shared)) for i in shared], now)
    return plans


def _capped(item: VehiclePlanRequest, power_kw: float) -> VehiclePlanRequest:
    """The request with its charger held to `power_kw` (a hair above 0 when none is left:
    the planner needs a positive power, and a charger turns a current below its minimum off)."""
    power_kw = max(power_kw, POWER_TOLERANCE_KW)
    if power_kw >= item.request.max_power_kw:
        return item
    request = replace(item.request, max_power_kw=power_kw,
                      min_power_kw=min(item.request.min_power_kw, power_kw))
    return replace(item, request=request)


def _alone(requests: Iterable[VehiclePlanRequest], now: datetime) -> dict[str, ChargePlan]:
    plans: dict[str, ChargePlan] = {}
    for item in requests:
        try:
            plans[item.vehicle] = plan(item.request, item.options)
        except UserError as exc:
            log.warning("vehicle '%s': no plan at %s: %s", item.vehicle, now.isoformat(), exc)
    return plans


def site_power_kw(plans: Iterable[ChargePlan], now: datetime) -> dict[datetime, float]:
    """The site's power in each 15-minute slot from `now` on, if these plans run together
    (a vehicle leaving mid-slot counts for the whole slot, as the joint planner counts it)."""
    total: dict[datetime, float] = {}
    for item in plans:
        for slot in item.charging_slots:
            if slot.end > now:
                key = slot_floor(slot.start)
                total[key] = total.get(key, 0.0) + slot.power_kw
    return total


def exceeds(plans: Iterable[ChargePlan], now: datetime, site_max_power_kw: float) -> bool:
    return any(kw > site_max_power_kw + POWER_TOLERANCE_KW
               for kw in site_power_kw(plans, now).values())
