"""The words: the service's facts turned into one-line notifications for the person.

Pure functions (no clock, no I/O): the service's core calls them with what it knows and hands
the result to a `Notifier`. Each one also chooses the `dedupe_key`, which says what makes two
messages "the same": a plan is the same while its start and end (to the minute), its cost (to
10 cents) and its SoC at departure (to the percent) are, so a re-plan
that changes nothing material sends nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from optimizer.events import Notification, NotificationKind
from optimizer.model import ChargePlan


def _hm(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def _when(at: datetime, tz: tzinfo, now: datetime) -> str:
    """"07:30", or "Wed 07:30" when it is not within the next 24 hours."""
    local = at.astimezone(tz)
    if timedelta(0) <= at - now < timedelta(hours=24):
        return local.strftime("%H:%M")
    return local.strftime("%a %H:%M")


def _money(amount: float, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def plan_made(vehicle: str, session_id: str | int, plan: ChargePlan, tz: tzinfo,
              currency: str = "EUR") -> Notification:
    """A plan was made or changed materially: start, end, cost, SoC at departure."""
    slots = plan.charging_slots
    departure = _when(plan.departure, tz, plan.now)
    if not slots:
        body = (f"{vehicle} needs no charging: {plan.soc_at_departure_pct:.0f} % "
                f"at {departure}")
        key = f"plan:{vehicle}:{session_id}:none:{plan.soc_at_departure_pct:.0f}"
    else:
        start, end = slots[0].start, slots[-1].end
        body = (f"{vehicle} charges {_when(start, tz, plan.now)}–{_hm(end, tz)}, "
                f"{plan.energy_kwh:.1f} kWh for {_money(plan.cost, currency)}: "
                f"{plan.soc_at_departure_pct:.0f} % at {departure}")
        key = (f"plan:{vehicle}:{session_id}:{start.timestamp():.0f}:{end.timestamp():.0f}:"
               f"{round(plan.cost, 1):.1f}:{plan.soc_at_departure_pct:.0f}")
    return Notification(NotificationKind.PLAN, vehicle, f"{vehicle}: charging plan", body,
                        key, plan.now)


def target_unreachable(vehicle: str, session_id: str | int, plan: ChargePlan, tz: tzinfo,
                       *, needs_more_time: timedelta | None = None,
                       limited_by_price: bool = False) -> Notification:
    """The target can't be reached by departure: the SoC to expect and what would fix it.

    `limited_by_price` says the planner left out hours it could have used (a price cap or
    block mode); `needs_more_time` is how much later the car could leave and be at target.
    """
    fixes = ["plug in earlier"]
    if limited_by_price:
        fixes.append("allow a dearer hour")
    if needs_more_time is not None:
        fixes.append(f"leave at {_when(plan.departure + needs_more_time, tz, plan.now)}")
    elif not limited_by_price:
        fixes.append("lower the target")
    body = (f"{vehicle} will be at {plan.soc_at_departure_pct:.0f} % at "
            f"{_when(plan.departure, tz, plan.now)}, not {plan.target_soc_pct:.0f} %: "
            f"{', '.join(fixes[:-1])} or {fixes[-1]}")
    key = (f"unreachable:{vehicle}:{session_id}:{plan.departure.timestamp():.0f}:"
           f"{plan.target_soc_pct:.0f}")
    return Notification(NotificationKind.TARGET_UNREACHABLE, vehicle,
                        f"{vehicle}: target not reachable", body, key, plan.now)


def charging_started(vehicle: str, session_id: str | int, now: datetime, tz: tzinfo,
                     soc_pct: float | None, power_kw: float, reason: str = "plan") -> Notification:
    """Charging began; `reason` is "plan", "boost" or "minimum SoC"."""
    soc = f" at {soc_pct:.0f} %" if soc_pct is not None else ""
    why = "" if reason == "plan" else f" ({reason})"
    body = f"{vehicle} started charging{soc}, {power_kw:.1f} kW at {_hm(now, tz)}{why}"
    return Notification(NotificationKind.CHARGING_STARTED, vehicle,
                        f"{vehicle}: charging started", body,
                        f"start:{vehicle}:{session_id}:{now.timestamp():.0f}", now)


def charging_stopped(vehicle: str, session_id: str | int, now: datetime, tz: tzinfo,
                     soc_pct: float | None, energy_kwh: float,
                     reason: str = "plan") -> Notification:
    """Charging paused or ended; `reason` is "plan", "target reached", "unplugged", ..."""
    soc = f" at {soc_pct:.0f} %" if soc_pct is not None else ""
    why = "" if reason == "plan" else f" ({reason})"
    body = (f"{vehicle} stopped charging{soc} at {_hm(now, tz)}{why}; "
            f"{energy_kwh:.1f} kWh so far")
    return Notification(NotificationKind.CHARGING_STOPPED, vehicle,
                        f"{vehicle}: charging stopped", body,
                        f"stop:{vehicle}:{session_id}:{now.timestamp():.0f}", now)


def session_ended(vehicle: str, session_id: str | int, now: datetime, energy_kwh: float,
                  cost: float, cost_on_arrival: float | None, currency: str = "EUR",
                  soc_pct: float | None = None) -> Notification:
    """A session closed: energy, cost and the saving against charging at once on arrival
    (`cost_on_arrival` None: a price of that time is unknown, so no saving is claimed)."""
    saving = None if cost_on_arrival is None else cost_on_arrival - cost
    soc = f", left at {soc_pct:.0f} %" if soc_pct is not None else ""
    verdict = ("the saving is unknown (a price of the arrival hours is missing)"
               if saving is None else
               f"saved {_money(saving, currency)} against charging on arrival"
               if saving >= 0.005 else
               f"{_money(-saving, currency)} more than charging on arrival"
               if saving <= -0.005 else "the same as charging on arrival")
    body = (f"{vehicle} session: {energy_kwh:.1f} kWh for {_money(cost, currency)}, "
            f"{verdict}{soc}")
    return Notification(NotificationKind.SESSION_ENDED, vehicle, f"{vehicle}: session ended",
                        body, f"session:{vehicle}:{session_id}", now)


def cardata_login_expired(now: datetime) -> Notification:
    """The CarData refresh token is gone: nothing new arrives from the car until a login."""
    return Notification(
        NotificationKind.ATTENTION, None, "BMW CarData login expired",
        "BMW CarData login expired: the car's state is no longer updated; "
        "run `ev-optimizer login` to sign in again",
        f"attention:cardata-login:{now.date().isoformat()}", now)


def charger_offline(charger: str, since: datetime, now: datetime, tz: tzinfo) -> Notification:
    """A charger has not answered for a while; the plan cannot be carried out."""
    minutes = int((now - since).total_seconds() // 60)
    return Notification(
        NotificationKind.ATTENTION, None, f"Charger {charger} offline",
        f"Charger {charger} has been offline for {minutes} min (since {_hm(since, tz)}): "
        f"charging cannot follow the plan; check its power and network",
        f"attention:charger-offline:{charger}:{since.timestamp():.0f}", now)


def rest_quota_used_up(used: int, limit: int, resets_at: datetime, now: datetime,
                       tz: tzinfo) -> Notification:
    """CarData's daily REST calls are spent: the SoC is estimated without fresh reports."""
    return Notification(
        NotificationKind.ATTENTION, None, "BMW CarData quota used up",
        f"BMW CarData REST quota used up ({used} of {limit} calls): the SoC is estimated "
        f"without refreshes until {_when(resets_at, tz, now)}",
        f"attention:rest-quota:{resets_at.timestamp():.0f}", now)
