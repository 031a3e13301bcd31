"""One vehicle's charging session as a pure state machine: `step(state, event, now)`.

    unplugged ──Plugged──► plugged (a session opens) ──PlanReady──► planned
        ▲                        charging / waiting (the charger says which)
        └──────Unplugged────── target reached ◄──── SocReport at the target

`step` reads no clock and does no I/O: it returns the new state and the decisions the service
shell carries out (plan, upload a schedule, stop, notify, refresh the SoC, save). The planner's
answer comes back as a `PlanReady` event, so planning stays in one place (`plan_vehicles`,
which sees every vehicle of a site at once) and this module stays a table of transitions.

Rules that live here and nowhere else:
* A plan replaces the current one only when it changes *materially* (a slot's power moves by
  more than `material_power_kw`, or feasibility flips); the charger is touched only then, so a
  re-plan at every slot boundary or a restart uploads nothing new.
* Up to the minimum SoC it charges at once (the planner's `min_soc_pct`); boost, smart off, no
  known departure, and a missed departure (when `keep_charging_after_departure`) charge at once
  up to the target.
* The SoC is refreshed over REST (`RefreshSoc`) only when it is stale at plug-in, or its band is
  wider than `max_band_pct` before a planning decision, and then at most once per
  `refresh_interval`.
* Plans start from the low end of the SoC band, so the target is reached even when the
  estimate was a little high.
* Session energy is the difference of the charger's cumulative meter readings, and a reading no
  newer than the last one counted is ignored, so a replay after a restart counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from optimizer.events import ChargerState, Notification, NotificationKind
from optimizer.model import SLOT, ChargePlan, PriceSlot
from optimizer.notify import messages

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """What the state machine must know about a vehicle, its charger and the service settings."""

    name: str
    vin: str
    capacity_kwh: float
    target_soc_pct: float
    min_soc_pct: float
    max_power_kw: float
    departure_after: Callable[[datetime], datetime | None] = field(
        default=lambda now: None, compare=False)
    """The next configured departure strictly after the given time (config's weekdays)."""
    soc_stale_after: timedelta = timedelta(hours=2)
    max_band_pct: float = 10.0
    refresh_interval: timedelta = timedelta(hours=1)
    keep_charging_after_departure: bool = True
    material_power_kw: float = 1.0
    charger_offline_after: timedelta = timedelta(minutes=10)
    asap_horizon: timedelta = timedelta(hours=24)
    """How far ahead a charge-at-once plan looks when there is no departure to aim for."""
    charger: str = ""
    tz: tzinfo = UTC
    """The person's time zone, for the times in notifications."""
    currency: str = "EUR"


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class Soc:
    """The SoC estimate as the state machine sees it; `reported_at` is the last real report."""

    soc_pct: float
    low_pct: float
    high_pct: float
    reported_at: datetime | None

    @property
    def band_pct(self) -> float:
        return self.high_pct - self.low_pct


@dataclass(frozen=True, slots=True)
class Session:
    """One plug-in to unplug. `meter_kwh`/`meter_at` is the last meter reading counted."""

    id: str
    vehicle: str
    started_at: datetime
    departure: datetime | None
    soc_start_pct: float | None
    ended_at: datetime | None = None
    energy_kwh: float = 0.0
    cost: float = 0.0
    cost_on_arrival: float | None = None
    saving: float | None = None
    meter_kwh: float | None = None
    meter_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VehicleState:
    spec: VehicleSpec
    plugged_car: bool | None = None
    plugged_charger: bool | None = None
    charger_state: ChargerState | None = None
    charger_online: bool = True
    charger_offline_since: datetime | None = None
    car_charging: bool = False
    soc: Soc | None = None
    target_soc_pct: float | None = None
    """The person's override of the configured target (until unplug)."""
    departure: datetime | None = None
    """The person's override of the configured departure (until unplug)."""
    boost: bool = False
    smart: bool = True
    session: Session | None = None
    plan: ChargePlan | None = None
    plan_version: int = 0
    plan_reason: str | None = None
    last_refresh_at: datetime | None = None
    notified: frozenset[str] = frozenset()
    """Dedupe keys of the one-off notifications of this session (attention, unreachable)."""
    prices: tuple[PriceSlot, ...] = ()

    @property
    def plugged(self) -> bool:
        return self.session is not None

    @property
    def charging(self) -> bool:
        if self.charger_state is not None:
            return self.charger_state is ChargerState.CHARGING
        return self.car_charging and self.plugged

    @property
    def target(self) -> float:
        return self.target_soc_pct if self.target_soc_pct is not None \
            else self.spec.target_soc_pct

    def session_departure(self, now: datetime) -> datetime | None:
        if self.departure is not None:
            return self.departure
        if self.session is not None:
            return self.session.departure
        return self.spec.departure_after(now)

    @property
    def phase(self) -> str:
        """unplugged, plugged, planned, charging, waiting or target_reached."""
        if self.session is None:
            return "unplugged"
        if self.soc is not None and self.soc.soc_pct >= self.target:
            return "target_reached"
        if self.charging:
            return "charging"
        if self.plan is None:
            return "plugged"
        return "waiting" if self.plan.charging_slots else "planned"


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Plugged:
    source: str
    """"car" (CarData `isPlugged` / port status) or "charger" (its status)."""


@dataclass(frozen=True, slots=True)
class Unplugged:
    source: str


@dataclass(frozen=True, slots=True)
class SocReport:
    """The estimator's SoC now; a new `reported_at` means the car itself reported."""

    soc_pct: float
    low_pct: float
    high_pct: float
    reported_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """The charger's cumulative meter (kWh) at `measured_at`."""

    measured_at: datetime
    energy_kwh: float | None
    power_kw: float | None = None


@dataclass(frozen=True, slots=True)
class ChargerStatusChanged:
    state: ChargerState
    online: bool


@dataclass(frozen=True, slots=True)
class CarChargingChanged:
    """CarData's charging status (used where no charger reports its own)."""

    charging: bool


@dataclass(frozen=True, slots=True)
class PricesUpdated:
    prices: tuple[PriceSlot, ...]


@dataclass(frozen=True, slots=True)
class TargetSet:
    soc_pct: float | None
    departure: datetime | None


@dataclass(frozen=True, slots=True)
class BoostSet:
    on: bool


@dataclass(frozen=True, slots=True)
class SmartSet:
    on: bool


@dataclass(frozen=True, slots=True)
class Tick:
    """A slot boundary (or the start of the service)."""

    at: datetime


@dataclass(frozen=True, slots=True)
class PlanReady:
    """The planner's answer to a `MakePlan`."""

    plan: ChargePlan
    reason: str
    routine: bool = False
    """Made for a slot boundary, a SoC report, a charger state or prices (not a request of the
    person or a new session): then a plan that is merely different is not taken if the current
    one still delivers the same energy at about the same cost."""
    whole: bool = False
    """Part of a site's joint plan that must be taken whole: kept next to the other vehicles'
    new plans, this vehicle's older plan could break the site limit, so any change counts."""


@dataclass(frozen=True, slots=True)
class SocRefreshFailed:
    reason: str
    quota_exhausted: bool
    quota_used: int | None = None
    quota_limit: int | None = None
    quota_resets_at: datetime | None = None
    """With `quota_exhausted`: the daily ledger, for the person's message."""


CARDATA_LOGIN = "cardata-login"
"""`Attention.key` of an expired CarData login (told in `messages.cardata_login_expired`)."""


@dataclass(frozen=True, slots=True)
class Attention:
    """Something the person must act on (CarData login expired, ...), from an adapter."""

    key: str
    title: str
    body: str


Event = (Plugged | Unplugged | SocReport | MeterReading | ChargerStatusChanged
         | CarChargingChanged | PricesUpdated | TargetSet | BoostSet | SmartSet | Tick
         | PlanReady | SocRefreshFailed | Attention)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the car wants now; the shell adds prices, charger power and the learned taper."""

    soc_pct: float
    target_soc_pct: float
    departure: datetime
    min_soc_pct: float
    at_once: bool
    """Charge at once up to the target (boost, smart off, missed departure, no departure)."""
    charging_now: bool


@dataclass(frozen=True, slots=True)
class MakePlan:
    vehicle: str
    inputs: PlanInputs
    reason: str
    routine: bool = False


@dataclass(frozen=True, slots=True)
class ApplySchedule:
    vehicle: str
    plan: ChargePlan


@dataclass(frozen=True, slots=True)
class Stop:
    vehicle: str
    reason: str


@dataclass(frozen=True, slots=True)
class Notify:
    notification: Notification


@dataclass(frozen=True, slots=True)
class RefreshSoc:
    vehicle: str
    vin: str
    reason: str


@dataclass(frozen=True, slots=True)
class SaveSession:
    session: Session


@dataclass(frozen=True, slots=True)
class SavePlan:
    vehicle: str
    session_id: str | None
    version: int
    plan: ChargePlan
    reason: str


Decision = MakePlan | ApplySchedule | Stop | Notify | RefreshSoc | SaveSession | SavePlan


# --------------------------------------------------------------------------- pure helpers


def price_at(prices: Sequence[PriceSlot], at: datetime) -> float | None:
    for slot in prices:
        if slot.start <= at < slot.end:
            return slot.price
    return None


def cost_at_once(prices: Sequence[PriceSlot], start: datetime, energy_kwh: float,
                 power_kw: float) -> float | None:
    """What `energy_kwh` would have cost charged at `power_kw` from `start` without waiting
    (the "charge on arrival" reference of the saving); None where a price is unknown."""
    if energy_kwh <= 0:
        return 0.0
    remaining, cost, at = energy_kwh, 0.0, start
    ordered = sorted((s for s in prices if s.end > start), key=lambda s: s.start)
    for slot in ordered:
        if slot.start > at or slot.price is None:
            return None  # a gap: the reference cannot be priced honestly
        hours = (slot.end - at).total_seconds() / 3600.0
        taken = min(remaining, power_kw * hours)
        cost += taken * slot.price
        remaining -= taken
        at = slot.end
        if remaining <= 1e-9:
            return cost
    return None


def plan_changed_materially(old: ChargePlan | None, new: ChargePlan, now: datetime,
                            tolerance_kw: float) -> bool:
    """True when `new` would make the charger do something noticeably different from now on."""
    if old is None or old.feasible != new.feasible:
        return True

    def powers(plan: ChargePlan) -> dict[datetime, float]:
        out: dict[datetime, float] = {}
        for slot in plan.charging_slots:
            if slot.end > now:
                key = slot_floor(slot.start)
                out[key] = out.get(key, 0.0) + slot.power_kw
        return out

    before, after = powers(old), powers(new)
    return any(abs(before.get(t, 0.0) - after.get(t, 0.0)) > tolerance_kw
               for t in before.keys() | after.keys())


def remaining(plan: ChargePlan, now: datetime) -> tuple[float, float]:
    """(energy kWh, cost) the plan still has to deliver from `now` on (a running slot pro rata)."""
    energy = cost = 0.0
    for slot in plan.charging_slots:
        if slot.end <= now:
            continue
        share = 1.0
        if slot.start < now:
            share = (slot.end - now) / (slot.end - slot.start)
        energy += slot.energy_kwh * share
        cost += slot.energy_kwh * share * slot.price
    return energy, cost


def still_as_good(old: ChargePlan, new: ChargePlan, now: datetime, capacity_kwh: float) -> bool:
    """True when the current plan still delivers what the new one would (within 2 % of the
    battery, or 1 kWh) at a cost at most 2 % (or 2 cents) higher: ties between equally cheap
    slots, and the SoC estimate's small steps, then leave the charger alone."""
    if old.feasible != new.feasible:
        return False
    old_energy, old_cost = remaining(old, now)
    new_energy, new_cost = remaining(new, now)
    return (abs(old_energy - new_energy) <= max(1.0, 0.02 * capacity_kwh)
            and old_cost <= new_cost + max(0.02, 0.02 * abs(new_cost)))


def slot_floor(at: datetime) -> datetime:
    """The start of the 15-minute slot that `at` lies in."""
    seconds = int(SLOT.total_seconds())
    epoch = int(at.timestamp())
    return at - timedelta(seconds=epoch % seconds, microseconds=at.microsecond)


# --------------------------------------------------------------------------- the machine


Result = tuple[VehicleState, list[Decision]]


def step(state: VehicleState, event: Event, now: datetime) -> Result:
    """The one entry point: the state after `event` at `now`, and what to do about it."""
    handler = _HANDLERS[type(event)]
    return handler(state, event, now)


def _open(state: VehicleState, source: str, now: datetime) -> Result:
    session = Session(
        id=f"{state.spec.name}-{now.strftime('%Y%m%dT%H%M%S')}",
        vehicle=state.spec.name, started_at=now,
        departure=state.departure or state.spec.departure_after(now),
        soc_start_pct=state.soc.soc_pct if state.soc is not None else None)
    state = replace(state, session=session, plan=None, plan_reason=None, notified=frozenset())
    decisions: list[Decision] = [SaveSession(session)]
    soc = state.soc
    stale = soc is None or soc.reported_at is None or now - soc.reported_at > \
        state.spec.soc_stale_after
    state, planned = _replan(state, f"plugged in ({source})", now, refresh_if_wide=False,
                             routine=False)
    decisions += planned
    if stale:
        state, refresh = _refresh(state, "the SoC is stale at plug-in", now)
        decisions += refresh
    return state, decisions


def _close(state: VehicleState, now: datetime) -> Result:
    session = state.session
    assert session is not None
    reference = cost_at_once(state.prices, session.started_at, session.energy_kwh,
                             state.spec.max_power_kw)
    saving = None if reference is None else reference - session.cost
    closed = replace(session, ended_at=now, cost_on_arrival=reference, saving=saving)
    decisions: list[Decision] = [
        SaveSession(closed),
        Stop(state.spec.name, "unplugged"),
        Notify(messages.session_ended(
            state.spec.name, closed.id, now, closed.energy_kwh, closed.cost, reference,
            state.spec.currency, state.soc.soc_pct if state.soc is not None else None)),
    ]
    state = replace(state, session=None, plan=None, plan_reason=None, boost=False,
                    target_soc_pct=None, departure=None, notified=frozenset(),
                    car_charging=False)
    return state, decisions


def _on_plugged(state: VehicleState, event: Plugged, now: datetime) -> Result:
    state = _with_source(state, event.source, True)
    if state.plugged:
        return state, []
    return _open(state, event.source, now)


def _on_unplugged(state: VehicleState, event: Unplugged, now: datetime) -> Result:
    state = _with_source(state, event.source, False)
    if not state.plugged:
        return state, []
    return _close(state, now)


def _with_source(state: VehicleState, source: str, plugged: bool) -> VehicleState:
    if source == "car":
        return replace(state, plugged_car=plugged)
    return replace(state, plugged_charger=plugged)


def _on_soc(state: VehicleState, event: SocReport, now: datetime) -> Result:
    previous = state.soc
    state = replace(state, soc=Soc(event.soc_pct, event.low_pct, event.high_pct,
                                   event.reported_at))
    new_report = event.reported_at is not None and (
        previous is None or previous.reported_at != event.reported_at)
    if state.plugged and (new_report or previous is None):
        if state.session is not None and state.session.soc_start_pct is None:
            state = replace(state, session=replace(state.session,
                                                   soc_start_pct=event.soc_pct))
        return _replan(state, "new SoC report", now)
    return state, []


def _on_meter(state: VehicleState, event: MeterReading, now: datetime) -> Result:
    session = state.session
    if session is None or event.energy_kwh is None:
        return state, []
    if session.meter_at is not None and event.measured_at <= session.meter_at:
        return state, []  # counted already (a re-send, or a replay after a restart)
    delta = 0.0
    if session.meter_kwh is not None and event.energy_kwh >= session.meter_kwh:
        delta = event.energy_kwh - session.meter_kwh
    # a meter that went backwards was reset (a new transaction or a box reboot): a new base
    price = price_at(state.prices, session.meter_at or event.measured_at)
    session = replace(session, meter_kwh=event.energy_kwh, meter_at=event.measured_at,
                      energy_kwh=session.energy_kwh + delta,
                      cost=session.cost + delta * (price or 0.0))
    return replace(state, session=session), [SaveSession(session)] if delta > 0 else []


def _on_charger(state: VehicleState, event: ChargerStatusChanged, now: datetime) -> Result:
    decisions: list[Decision] = []
    was_charging = state.charging
    offline_since = None if event.online else (state.charger_offline_since or now)
    state = replace(state, charger_online=event.online, charger_offline_since=offline_since)
    if not event.online or event.state is ChargerState.UNKNOWN:
        return state, decisions  # no news about the connector (e.g. connected, not yet told)
    previous = state.charger_state
    state = replace(state, charger_state=event.state)
    if event.state in (ChargerState.PLUGGED, ChargerState.CHARGING):
        state, opened = _on_plugged(state, Plugged("charger"), now)
        decisions += opened
    elif event.state is ChargerState.AVAILABLE:
        state, closed = _on_unplugged(state, Unplugged("charger"), now)
        decisions += closed
    decisions += _charging_change(state, was_charging, now)
    if state.plugged and previous is not None and previous != event.state and not any(
            isinstance(d, MakePlan) for d in decisions):
        state, planned = _replan(state, f"charger is {event.state.value}", now)
        decisions += planned
    return state, decisions


def _on_car_charging(state: VehicleState, event: CarChargingChanged, now: datetime) -> Result:
    was_charging = state.charging
    state = replace(state, car_charging=event.charging)
    return state, _charging_change(state, was_charging, now)


def _charging_change(state: VehicleState, was_charging: bool, now: datetime) -> list[Decision]:
    if state.charging == was_charging or state.session is None:
        return []
    spec, session = state.spec, state.session
    soc = state.soc.soc_pct if state.soc is not None else None
    if state.charging:
        return [Notify(messages.charging_started(
            spec.name, session.id, now, spec.tz, soc, _power_now(state, now),
            _start_reason(state)))]
    reason = "target reached" if soc is not None and soc >= state.target else "plan"
    return [Notify(messages.charging_stopped(spec.name, session.id, now, spec.tz, soc,
                                             session.energy_kwh, reason))]


def _power_now(state: VehicleState, now: datetime) -> float:
    """The planned power of the slot running now (the charger's maximum when off-plan)."""
    if state.plan is not None:
        for slot in state.plan.charging_slots:
            if slot.start <= now < slot.end:
                return slot.power_kw
    return state.spec.max_power_kw


def _start_reason(state: VehicleState) -> str:
    if state.boost:
        return "boost"
    if not state.smart:
        return "smart charging off"
    if state.soc is not None and state.soc.soc_pct < state.spec.min_soc_pct:
        return "minimum SoC"
    return "plan"


def _on_prices(state: VehicleState, event: PricesUpdated, now: datetime) -> Result:
    """Re-plan only when a future price is new or different: the same prices in a window that
    moved on (the shell sends them again as time passes) change no plan."""
    def known(prices: Sequence[PriceSlot]) -> set[tuple[datetime, float]]:
        return {(s.start, s.price) for s in prices if s.end > now and s.price is not None}

    news = known(event.prices) - known(state.prices)
    state = replace(state, prices=event.prices)
    return _replan(state, "new prices", now) if state.plugged and news else (state, [])


def _on_target(state: VehicleState, event: TargetSet, now: datetime) -> Result:
    if event.soc_pct is not None and not 0.0 < event.soc_pct <= 100.0:
        raise ValueError(f"soc_pct: {event.soc_pct:g} is not a target; use 1..100")
    if event.departure is not None and event.departure <= now:
        raise ValueError(f"departure: {event.departure.isoformat()} is not in the future")
    state = replace(
        state,
        target_soc_pct=event.soc_pct if event.soc_pct is not None else state.target_soc_pct,
        departure=event.departure if event.departure is not None else state.departure)
    return _replan(state, "target or departure changed", now, routine=False)


def _on_boost(state: VehicleState, event: BoostSet, now: datetime) -> Result:
    state = replace(state, boost=event.on)
    return _replan(state, "boost on" if event.on else "boost off", now, routine=False)


def _on_smart(state: VehicleState, event: SmartSet, now: datetime) -> Result:
    state = replace(state, smart=event.on)
    return _replan(state, "smart charging on" if event.on else "smart charging off", now,
                   routine=False)


def _on_tick(state: VehicleState, event: Tick, now: datetime) -> Result:
    decisions: list[Decision] = []
    since = state.charger_offline_since
    if since is not None and now - since >= state.spec.charger_offline_after:
        state, attention = _once(state, messages.charger_offline(
            state.spec.charger or state.spec.name, since, now, state.spec.tz))
        decisions += attention
    if state.plugged:
        state, planned = _replan(state, "slot boundary", now)
        decisions += planned
    return state, decisions


def _on_plan(state: VehicleState, event: PlanReady, now: datetime) -> Result:
    if not state.plugged:
        return state, []  # the car left while the plan was being made
    tolerance_kw = 1e-6 if event.whole else state.spec.material_power_kw
    keep = not plan_changed_materially(state.plan, event.plan, now, tolerance_kw) or (
        event.routine and not event.whole and state.plan is not None
        and still_as_good(state.plan, event.plan, now, state.spec.capacity_kwh))
    if keep:
        return _on_footing_change(state, event)
    plan = event.plan
    session = state.session
    assert session is not None
    version = state.plan_version + 1
    state = replace(state, plan=plan, plan_version=version, plan_reason=event.reason)
    name, spec = state.spec.name, state.spec
    decisions: list[Decision] = [
        SavePlan(name, session.id, version, plan, event.reason),
        ApplySchedule(name, plan),
        Notify(messages.plan_made(name, session.id, plan, spec.tz, spec.currency)),
    ]
    if not plan.feasible:
        state, unreachable = _unreachable(state, plan, now)
        decisions += unreachable
    return state, decisions


def _on_footing_change(state: VehicleState, event: PlanReady) -> Result:
    """A plan the charger need not hear about may still stand on other prices: when the real
    prices arrive and the plan on the forecast was right, the charger keeps its schedule, but
    the plan is taken (a new version, not uploaded) so it no longer says it is provisional."""
    old = state.plan
    if old is None or old.provisional == event.plan.provisional:
        return state, []
    session = state.session
    assert session is not None
    version = state.plan_version + 1
    state = replace(state, plan=event.plan, plan_version=version, plan_reason=event.reason)
    return state, [SavePlan(state.spec.name, session.id, version, event.plan, event.reason)]


def _unreachable(state: VehicleState, plan: ChargePlan, now: datetime) -> Result:
    """Said once per session, departure and target: as soon as a plan falls short."""
    session_id = state.session.id if state.session else ""
    return _once(state, messages.target_unreachable(state.spec.name, session_id, plan,
                                                    state.spec.tz))


def _on_refresh_failed(state: VehicleState, event: SocRefreshFailed, now: datetime) -> Result:
    if not event.quota_exhausted:
        return state, []
    if event.quota_resets_at is not None and event.quota_used is not None \
            and event.quota_limit is not None:
        return _once(state, messages.rest_quota_used_up(
            event.quota_used, event.quota_limit, event.quota_resets_at, now, state.spec.tz))
    return _attention(state, f"quota:{now.date().isoformat()}", "CarData REST quota used up",
                      event.reason, now)


def _on_attention(state: VehicleState, event: Attention, now: datetime) -> Result:
    if event.key == CARDATA_LOGIN:
        return _once(state, messages.cardata_login_expired(now))
    return _attention(state, event.key, event.title, event.body, now)


def _attention(state: VehicleState, key: str, title: str, body: str, now: datetime) -> Result:
    return _once(state, Notification(NotificationKind.ATTENTION, state.spec.name, title, body,
                                     f"attention:{state.spec.name}:{key}", now))


def _once(state: VehicleState, notification: Notification) -> Result:
    """A one-off notification: sent once per session (its dedupe key is remembered)."""
    if notification.dedupe_key in state.notified:
        return state, []
    state = replace(state, notified=state.notified | {notification.dedupe_key})
    return state, [Notify(notification)]


def _refresh(state: VehicleState, reason: str, now: datetime) -> Result:
    last = state.last_refresh_at
    if last is not None and now - last < state.spec.refresh_interval:
        return state, []
    state = replace(state, last_refresh_at=now)
    return state, [RefreshSoc(state.spec.name, state.spec.vin, reason)]


def _replan(state: VehicleState, reason: str, now: datetime, *,
            refresh_if_wide: bool = True, routine: bool = True) -> Result:
    """Ask for a plan for what the car wants now (and, if the SoC is too uncertain for a good
    decision, for a fresh SoC first: the plan follows again when it arrives)."""
    if not state.plugged:
        return state, []
    decisions: list[Decision] = []
    soc = state.soc
    if refresh_if_wide and soc is not None and soc.band_pct > state.spec.max_band_pct:
        state, decisions = _refresh(state, f"the SoC band is {soc.band_pct:.1f} points wide",
                                    now)
    spec = state.spec
    departure = state.session_departure(now)
    at_once = state.boost or not state.smart
    if departure is None:
        at_once, why = True, "no departure known: charging at once"
    elif departure <= now:
        if spec.keep_charging_after_departure:
            at_once, why = True, "departure passed, target not reached: charging at once"
        else:
            departure = spec.departure_after(now)
            why = "departure passed: planning for the next one"
            at_once = at_once or departure is None
    else:
        why = ""
    if at_once and (departure is None or departure <= now):
        departure = now + spec.asap_horizon
    assert departure is not None
    if why:
        reason = f"{reason}; {why}"
    if soc is None:
        # enough cheap slots for a full charge (the car stops at its own target), but no
        # charging at once on a guess: the minimum SoC waits for a real SoC (REST refresh)
        reason += "; SoC unknown, planned as if empty (the car stops at its own target)"
    inputs = PlanInputs(
        # from the low end of the band: the target is promised, so the plan must reach it
        # even if the car is at the bottom of what the estimate allows
        soc_pct=soc.low_pct if soc is not None else 0.0,
        target_soc_pct=state.target,
        departure=departure,
        min_soc_pct=state.target if at_once else (
            min(spec.min_soc_pct, state.target) if soc is not None else 0.0),
        at_once=at_once,
        charging_now=state.charging)
    return state, [*decisions, MakePlan(spec.name, inputs, reason, routine)]


_HANDLERS: dict[type, Callable[[VehicleState, object, datetime], Result]] = {
    Plugged: _on_plugged,  # type: ignore[dict-item]
    Unplugged: _on_unplugged,  # type: ignore[dict-item]
    SocReport: _on_soc,  # type: ignore[dict-item]
    MeterReading: _on_meter,  # type: ignore[dict-item]
    ChargerStatusChanged: _on_charger,  # type: ignore[dict-item]
    CarChargingChanged: _on_car_charging,  # type: ignore[dict-item]
    PricesUpdated: _on_prices,  # type: ignore[dict-item]
    TargetSet: _on_target,  # type: ignore[dict-item]
    BoostSet: _on_boost,  # type: ignore[dict-item]
    SmartSet: _on_smart,  # type: ignore[dict-item]
    Tick: _on_tick,  # type: ignore[dict-item]
    PlanReady: _on_plan,  # type: ignore[dict-item]
    SocRefreshFailed: _on_refresh_failed,  # type: ignore[dict-item]
    Attention: _on_attention,  # type: ignore[dict-item]
}

