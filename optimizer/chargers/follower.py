"""Carrying a plan out on a charger that cannot hold a schedule itself (Modbus, Home Assistant):
the service calls `tick(now)` at every slot boundary and the follower sets that slot's current.

Only changes are sent, so a box is not rewritten every tick; its own keep-alive keeps it from
falling back meanwhile. Past the plan's end the charger stays off until the next plan (these
boxes hold no `validTo`; if this service dies, their watchdog drops them to the failsafe
current instead).
"""

from __future__ import annotations

from datetime import datetime

from optimizer.chargers.limits import CurrentPeriod, CurrentRange, current_at, plan_periods
from optimizer.model import ChargePlan
from optimizer.ports import Charger


class PlanFollower:
    """A `ScheduleCharger` in front of any `Charger`, driven by the service's clock."""

    def __init__(self, charger: Charger, limits: CurrentRange) -> None:
        self.charger = charger
        self.limits = limits
        self._periods: list[CurrentPeriod] = []
        self._sent_a: float | None = None

    async def apply_plan(self, plan: ChargePlan) -> None:
        """Take a new plan; the next `tick` applies its current slot."""
        self._periods = plan_periods(plan, self.limits)
        self._sent_a = None

    async def tick(self, now: datetime) -> float:
        """Set the current of the slot containing `now`; returns it (0 = off)."""
        target_a = current_at(self._periods, now)
        if target_a != self._sent_a:
            await self.charger.set_current_limit(target_a)
            self._sent_a = target_a
        return target_a
