"""Planning for a whole site at once: `plan_vehicles(requests, now)`.

Every re-plan of any vehicle goes through here with the requests of all plugged vehicles of the
site, so a joint planner (a site power limit shared by several cars) can replace the body
without the service changing. Today each vehicle is planned on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from optimizer.errors import UserError
from optimizer.model import ChargePlan
from optimizer.planner import PlanOptions, PlanRequest, plan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VehiclePlanRequest:
    vehicle: str
    request: PlanRequest
    options: PlanOptions


def plan_vehicles(requests: Sequence[VehiclePlanRequest], now: datetime
                  ) -> dict[str, ChargePlan]:
    """A plan per vehicle name; a request the planner refuses is logged and left out."""
    plans: dict[str, ChargePlan] = {}
    for item in requests:
        try:
            plans[item.vehicle] = plan(item.request, item.options)
        except UserError as exc:
            log.warning("vehicle '%s': no plan at %s: %s", item.vehicle, now.isoformat(), exc)
    return plans
