"""The imperative shell around the session machine: one queue in, decisions carried out.

Adapters (the CarData stream, chargers, the scheduler, the HTTP API) only ever `submit` events;
one task (`run`) takes them off the queue in order, calls the pure `step`, commits the new state
and carries the decisions out. So there are no locks, and what the API shows is exactly the
state the last step committed. This class is also the `ServiceFacade` the API, the dashboard and
the Home Assistant entities read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from optimizer.chargers.factory import current_range
from optimizer.chargers.follower import PlanFollower
from optimizer.commands.plan import plan_to_json
from optimizer.config import ChargerConfig, Config, VehicleConfig
from optimizer.events import Notification, VehicleEvent
from optimizer.model import ChargePlan, PriceSlot
from optimizer.planner import PlanOptions, PlanRequest
from optimizer.ports import Charger, Notifier, PlanExecutor, PriceSource, ScheduleCharger
from optimizer.prices.source import planning_prices
from optimizer.service.database import ServiceDatabase
from optimizer.service.planning import VehiclePlanRequest, exceeds, plan_vehicles
from optimizer.service.prices import prices_health
from optimizer.service.tell import vehicle_extras
from optimizer.session import (
    ApplySchedule,
    BoostSet,
    CarChargingChanged,
    Decision,
    Event,
    MakePlan,
    MeterReading,
    Notify,
    PlanInputs,
    PlanReady,
    Plugged,
    PricesUpdated,
    RefreshSoc,
    SavePlan,
    SaveSession,
    SmartSet,
    SocReport,
    Stop,
    TargetSet,
    Tick,
    Unplugged,
    VehicleSpec,
    VehicleState,
    price_at,
    step,
)
from optimizer.soc.estimator import EstimatorSettings, SocEstimator
from optimizer.soc.learning import LearnedVehicle
from optimizer.soc.replay import learned_key
from optimizer.web.facade import SessionView, VehicleView

log = logging.getLogger(__name__)

CHARGER_CALL_TIMEOUT_S = 20.0
PRICE_WINDOW_BACK_H = 36
PRICE_WINDOW_AHEAD_H = 48


class ServiceClock(Protocol):
    def now(self) -> datetime: ...

    def wall_seconds_until(self, at: datetime) -> float: ...


SocRefresher = Callable[["Vehicle", str], Coroutine[Any, Any, None]]


@dataclass
class Vehicle:
    """One vehicle at run time: its config, machine state, estimator and charger."""

    config: VehicleConfig
    charger_config: ChargerConfig
    state: VehicleState
    estimator: SocEstimator
    charger: Charger | None = None
    executor: ScheduleCharger | None = None
    """What carries plans out: the charger itself (OCPP) or a `PlanFollower` in front of it."""
    last_inputs: PlanInputs | None = None
    car_plugged: bool | None = None
    car_charging: bool | None = None
    """What CarData said last, so its re-sends of held values are not new events."""
    last_report_at: datetime | None = None
    counters: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.config.name


def vehicle_spec(config: Config, vehicle: VehicleConfig, currency: str = "EUR") -> VehicleSpec:
    service = config.service
    charger = config.charger(vehicle.charger)
    tz = config.tz
    return VehicleSpec(
        name=vehicle.name, vin=vehicle.vin, capacity_kwh=vehicle.capacity_kwh,
        target_soc_pct=vehicle.target_soc_pct, min_soc_pct=vehicle.min_soc_pct,
        max_power_kw=charger.max_power_kw,
        departure_after=lambda now: vehicle.next_departure(now, tz),
        soc_stale_after=timedelta(minutes=service.soc_stale_after_minutes),
        max_band_pct=service.max_band_pct,
        refresh_interval=timedelta(minutes=service.refresh_interval_minutes),
        keep_charging_after_departure=service.keep_charging_after_departure,
        material_power_kw=service.material_power_kw,
        charger_offline_after=timedelta(minutes=service.charger_offline_minutes),
        charger=charger.name, tz=tz, currency=currency)


class Service:
    """The running service: vehicles, the queue, the decision executor, the facade."""

    def __init__(self, config: Config, db: ServiceDatabase, clock: ServiceClock,
                 prices: PriceSource, *, notifiers: Sequence[Notifier] = ()) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.prices = prices
        self.notifiers = list(notifiers)
        self.counters: Counter[str] = Counter()
        self.started_at = clock.now()
        self.queue: asyncio.Queue[tuple[str, Event, asyncio.Future[None] | None]] = \
            asyncio.Queue()
        self.refresher: SocRefresher | None = None
        self.stream_stats: Callable[[], dict[str, Any]] | None = None
        self._subscribers: set[asyncio.Queue[list[VehicleView] | None]] = set()
        self._changes_ended = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.fleet: dict[str, Vehicle] = {}
        saved_prices = db.load_prices()
        for vehicle in config.vehicles:
            spec = vehicle_spec(config, vehicle, getattr(prices, "currency", "EUR"))
            state = db.load_state(spec) or VehicleState(spec=spec)
            learned = LearnedVehicle.from_json(db.load(learned_key(vehicle.vin)))
            estimator = SocEstimator(vehicle.vin, learned, EstimatorSettings(
                fallback_capacity_kwh=vehicle.capacity_kwh))
            self.fleet[vehicle.name] = Vehicle(
                vehicle, config.charger(vehicle.charger), replace(state, prices=saved_prices),
                estimator)
        self.by_vin = {v.config.vin: v for v in self.fleet.values()}

    # -- wiring -------------------------------------------------------------------------

    def attach_charger(self, name: str, charger: Charger) -> None:
        """Give every vehicle on charger `name` its charger and plan executor."""
        for vehicle in self.fleet.values():
            if vehicle.charger_config.name != name:
                continue
            vehicle.charger = charger
            if isinstance(charger, ScheduleCharger):
                vehicle.executor = charger
            else:
                vehicle.executor = PlanFollower(charger, current_range(vehicle.charger_config))

    async def resume(self) -> None:
        """After a restart: hand every open session's committed plan to its charger again.

        It is the same plan, so the charger gets the same schedule (an OCPP station gets it on
        its next connection); nothing is re-planned until an event asks for it, and then only a
        material change replaces it.
        """
        for vehicle in self.fleet.values():
            plan = vehicle.state.plan
            if vehicle.state.plugged and plan is not None and vehicle.executor is not None:
                log.info("vehicle '%s': resuming session %s with plan version %d",
                         vehicle.name, vehicle.state.session.id if vehicle.state.session
                         else "?", vehicle.state.plan_version)
                await self._charger_call(vehicle, "apply the plan",
                                         vehicle.executor.apply_plan(plan))

    # -- input --------------------------------------------------------------------------

    def submit(self, vehicle: str, event: Event) -> None:
        self.queue.put_nowait((vehicle, event, None))

    async def submit_and_wait(self, vehicle: str, event: Event) -> None:
        """Submit and wait until the step ran (its errors, e.g. a bad target, are raised)."""
        if vehicle not in self.fleet:
            raise KeyError(vehicle)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((vehicle, event, done))
        await done

    def vehicle_event(self, event: VehicleEvent) -> None:
        """A normalised CarData event: into the estimator, and into the machine if it says
        something the machine acts on (plug, charging status, a SoC report)."""
        vehicle = self.by_vin.get(event.vin)
        if vehicle is None:
            self.counters["events_unknown_vin"] += 1
            return
        vehicle.estimator.ingest(event)
        if event.field == "plugged" and isinstance(event.value, bool):
            if vehicle.car_plugged != event.value:  # BMW re-sends held values: news only
                vehicle.car_plugged = event.value
                self.submit(vehicle.name, Plugged("car") if event.value else Unplugged("car"))
        elif event.field == "charging_status":
            charging = str(event.value) == "charging"
            if vehicle.car_charging != charging:
                vehicle.car_charging = charging
                self.submit(vehicle.name, CarChargingChanged(charging))
        elif event.field == "soc_pct" and (
                vehicle.last_report_at is None or event.measured_at > vehicle.last_report_at):
            vehicle.last_report_at = event.measured_at
            self._submit_estimate(vehicle, self.clock.now())

    def meter_reading(self, vehicle: Vehicle, measured_at: datetime,
                      energy_kwh: float | None, power_kw: float | None) -> None:
        if energy_kwh is not None:
            vehicle.estimator.add_meter(measured_at, energy_kwh)
        self.submit(vehicle.name, MeterReading(measured_at, energy_kwh, power_kw))

    def _submit_estimate(self, vehicle: Vehicle, now: datetime) -> None:
        estimate = vehicle.estimator.estimate(now)
        if estimate is not None:
            self.submit(vehicle.name, SocReport(estimate.soc_pct, estimate.soc_low_pct,
                                                estimate.soc_high_pct, vehicle.last_report_at))

    def tick(self, now: datetime) -> None:
        """A slot boundary: fresh estimates and prices, then `Tick` for every vehicle."""
        prices = self._known_prices(now)
        for vehicle in self.fleet.values():
            self._submit_estimate(vehicle, now)
            self.submit(vehicle.name, PricesUpdated(prices))
            self.submit(vehicle.name, Tick(now))

    def prices_arrived(self, now: datetime) -> None:
        """A live feed brought new prices: every plugged vehicle is re-planned on them."""
        prices = self._known_prices(now)
        for vehicle in self.fleet.values():
            self.submit(vehicle.name, PricesUpdated(prices))

    def _known_prices(self, now: datetime) -> tuple[PriceSlot, ...]:
        return tuple(self.prices.price_slots(
            now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=PRICE_WINDOW_BACK_H),
            now + timedelta(hours=PRICE_WINDOW_AHEAD_H)))

    # -- the core loop ------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            name, event, done = await self.queue.get()
            try:
                await self.handle(name, event)
            except Exception as exc:  # one bad event must not stop the service
                if done is not None:
                    done.set_exception(exc)
                    continue
                self.counters["core_errors"] += 1
                log.exception("vehicle '%s': %s failed", name, type(event).__name__)
            else:
                if done is not None and not done.done():
                    done.set_result(None)

    async def handle(self, name: str, event: Event) -> None:
        vehicle = self.fleet[name]
        now = self.clock.now()
        before = vehicle.state
        state, decisions = step(before, event, now)
        vehicle.state = state
        if isinstance(event, PricesUpdated) and event.prices != before.prices:
            self.db.save_prices(event.prices)
        if state != before:
            self.db.save_state(name, state, now)
        if state != before or decisions:  # re-sends that change nothing are not logged
            self.db.log_event(now, name, type(event).__name__, _describe(event))
        plans = [d for d in decisions if isinstance(d, MakePlan)]
        for decision in decisions:
            if not isinstance(decision, MakePlan):
                await self.execute(vehicle, decision, now)
        if plans:
            for decision in plans:
                self.db.log_event(now, name, "MakePlan", {"reason": decision.reason,
                                                          "routine": decision.routine})
            await self._plan(plans, now)
        if isinstance(event, Tick):
            await self._slot_boundary(vehicle, now)
        if state != before:
            self._publish()

    async def execute(self, vehicle: Vehicle, decision: Decision, now: datetime) -> None:
        if not isinstance(decision, Notify | SaveSession):
            self.db.log_event(now, vehicle.name, type(decision).__name__, _describe(decision))
        if isinstance(decision, SaveSession):
            self.db.save_session(decision.session)
            if decision.session.ended_at is not None:
                self.db.save(learned_key(vehicle.config.vin),
                             vehicle.estimator.learned.to_json(), now)
        elif isinstance(decision, SavePlan):
            self.db.save_plan(decision, now)
        elif isinstance(decision, ApplySchedule):
            await self._apply(vehicle, decision.plan, now)
        elif isinstance(decision, Stop):
            await self._stop(vehicle)
        elif isinstance(decision, Notify):
            await self._notify(decision.notification)
        elif isinstance(decision, RefreshSoc):
            self._refresh(vehicle, decision.reason)

    async def _plan(self, decisions: list[MakePlan], now: datetime) -> None:
        """Plan the asking vehicles together with every other plugged vehicle of the site.

        Each vehicle's session takes its new plan only if it changed materially. Under a site
        limit, if the plans kept and the plans taken would together exceed the limit in some
        slot, every vehicle takes its part of the joint plan (`whole`), so the limit holds."""
        reasons = {d.vehicle: d.reason for d in decisions}
        routine = {d.vehicle: d.routine for d in decisions}
        for d in decisions:
            self.fleet[d.vehicle].last_inputs = d.inputs
        # whole seconds: a station's schedule counts in seconds from the plan's start, so a
        # start with a fraction would put every later period a fraction off the slot grid
        planned_at = now.replace(microsecond=0)
        requests = []
        for vehicle in self.fleet.values():
            if vehicle.name in reasons or (vehicle.state.plugged and vehicle.last_inputs):
                inputs = vehicle.last_inputs
                assert inputs is not None
                requests.append(self._request(vehicle, inputs, planned_at))
        site_kw = self.config.site.max_power_kw
        plans = plan_vehicles(requests, planned_at, site_kw)
        for name, plan in plans.items():
            reason = reasons.get(name, "re-planned with the other vehicles of the site")
            await self.handle(name, PlanReady(plan, reason, routine.get(name, True)))
        if site_kw is None or len(plans) < 2:
            return
        current = [v.state.plan for v in self.fleet.values()
                   if v.state.plugged and v.state.plan is not None]
        if exceeds(current, now, site_kw):
            for name, plan in plans.items():
                reason = reasons.get(name, "re-planned with the other vehicles of the site")
                await self.handle(name, PlanReady(plan, reason, False, whole=True))

    def _request(self, vehicle: Vehicle, inputs: PlanInputs, now: datetime
                 ) -> VehiclePlanRequest:
        charger = vehicle.charger_config
        planner = self.config.planner
        estimator = vehicle.estimator
        departure = max(inputs.departure, now)
        prices, forecast_from = planning_prices(self.prices, now, departure) \
            if departure > now else ([], None)
        request = PlanRequest(
            now=now, departure=departure, soc_pct=min(100.0, max(0.0, inputs.soc_pct)),
            target_soc_pct=inputs.target_soc_pct,
            capacity_kwh=estimator.capacity_kwh or vehicle.config.capacity_kwh,
            max_power_kw=charger.max_power_kw, min_power_kw=charger.min_power_kw,
            efficiency=estimator.efficiency() if estimator.capacity_kwh
            else vehicle.config.efficiency,
            taper=estimator.taper_points(charger.max_power_kw),
            prices=prices, forecast_from=forecast_from)
        options = PlanOptions(
            mode="cheapest" if inputs.at_once else planner.mode,
            min_run_minutes=0 if inputs.at_once else planner.min_run_minutes,
            start_penalty=planner.start_penalty,
            buffer_minutes=0 if inputs.at_once else planner.buffer_minutes,
            min_soc_pct=inputs.min_soc_pct,
            opportunistic_limit_soc_pct=planner.opportunistic_limit_soc_pct,
            opportunistic_price_cap=planner.opportunistic_price_cap,
            unknown_price=planner.unknown_price, charging_now=inputs.charging_now)
        return VehiclePlanRequest(vehicle.name, request, options, inputs.at_once,
                                  vehicle.config.priority)

    # -- carrying decisions out ---------------------------------------------------------

    async def _charger_call(self, vehicle: Vehicle, what: str, call: Awaitable[Any]) -> bool:
        """Run one charger call; a failure is counted and logged, never raised."""
        try:
            async with asyncio.timeout(CHARGER_CALL_TIMEOUT_S):
                await call
            return True
        except Exception as exc:
            vehicle.counters["charger_errors"] += 1
            self.counters["charger_errors"] += 1
            log.warning("vehicle '%s': charger '%s' could not %s: %s", vehicle.name,
                        vehicle.charger_config.name, what, exc or type(exc).__name__)
            return False

    async def _apply(self, vehicle: Vehicle, plan: ChargePlan, now: datetime) -> None:
        executor = vehicle.executor
        if executor is None:
            log.info("vehicle '%s': plan v%d (no charger to carry it out)", vehicle.name,
                     vehicle.state.plan_version)
            return
        if await self._charger_call(vehicle, "apply the plan", executor.apply_plan(plan)) \
                and isinstance(executor, PlanFollower):
            await self._charger_call(vehicle, "follow the plan", executor.tick(now))

    async def _stop(self, vehicle: Vehicle) -> None:
        executor = vehicle.executor
        if isinstance(executor, PlanFollower):
            await self._charger_call(vehicle, "stop", executor.charger.set_current_limit(0.0))
        elif vehicle.charger is not None and getattr(vehicle.charger, "transaction_id", None):
            await self._charger_call(vehicle, "stop", vehicle.charger.stop())

    async def _slot_boundary(self, vehicle: Vehicle, now: datetime) -> None:
        """Drive a live-driven charger (or an OCPP remote start) at a slot boundary."""
        executor = vehicle.executor
        if isinstance(executor, PlanExecutor) and vehicle.state.plugged:
            await self._charger_call(vehicle, "follow the plan", executor.tick(now))

    async def _notify(self, notification: Notification) -> None:
        if not self.notifiers:
            log.info("notification [%s] %s: %s", notification.kind.value, notification.title,
                     notification.body)
            return
        for notifier in self.notifiers:
            try:
                await notifier.notify(notification)
            except Exception:
                self.counters["notify_errors"] += 1
                log.exception("notifier %s failed", type(notifier).__name__)

    def _refresh(self, vehicle: Vehicle, reason: str) -> None:
        if self.refresher is None:
            return
        log.info("vehicle '%s': refreshing the SoC over CarData REST (%s)", vehicle.name,
                 reason)
        task = asyncio.get_running_loop().create_task(self.refresher(vehicle, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def safe_state(self) -> None:
        """On shutdown: an uploaded schedule ends by itself at `validTo`; a live-driven
        charger gets the configured safe current."""
        safe_a = self.config.service.safe_current_a
        for vehicle in self.fleet.values():
            charger = vehicle.charger
            live = isinstance(vehicle.executor, PlanFollower) or getattr(
                charger, "mode", "schedule") == "live"
            if charger is not None and live:
                await self._charger_call(vehicle, f"go to the safe current {safe_a:g} A",
                                         charger.set_current_limit(safe_a))

    # -- the facade ---------------------------------------------------------------------

    def vehicles_view(self) -> list[VehicleView]:
        now = self.clock.now()
        views = []
        for vehicle in self.fleet.values():
            state = vehicle.state
            soc = state.soc
            session = state.session
            departure = state.session_departure(now)
            views.append({
                "name": vehicle.name, "vin": vehicle.config.vin, "plugged": state.plugged,
                "charging": state.charging,
                "soc_pct": soc.soc_pct if soc else None,
                "soc_low_pct": soc.low_pct if soc else None,
                "soc_high_pct": soc.high_pct if soc else None,
                "target_soc_pct": state.target,
                "departure": departure.isoformat() if departure else None,
                "plan": plan_to_json(state.plan) if state.plan else None,
                "session": None if session is None else {
                    "id": session.id, "started_at": session.started_at.isoformat(),
                    "energy_kwh": session.energy_kwh, "cost": session.cost},
                "phase": state.phase, "smart": state.smart, "boost": state.boost,
                "plan_version": state.plan_version, "plan_reason": state.plan_reason,
                "charger": vehicle.charger_config.name, "charger_online": state.charger_online,
                "price_now": price_at(state.prices, now),
                **vehicle_extras(state, now, getattr(self.prices, "currency", "EUR")),
            })
        return views

    def vehicles(self) -> list[VehicleView]:
        return self.vehicles_view()

    def sessions(self) -> list[SessionView]:
        return self.db.sessions()

    def health(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "status": "ok", "now": now.isoformat(),
            "uptime_s": (now - self.started_at).total_seconds(),
            "vehicles": len(self.fleet), "queue": self.queue.qsize(),
            "counters": dict(self.counters),
            "prices": prices_health(self.prices, now),
            "stream": self.stream_stats() if self.stream_stats else None,
            "chargers": {v.charger_config.name: {"online": v.state.charger_online,
                                                  "errors": v.counters["charger_errors"]}
                         for v in self.fleet.values()},
        }

    async def set_target(self, name: str, soc_pct: float | None,
                         departure: datetime | None) -> None:
        await self.submit_and_wait(name, TargetSet(soc_pct, departure))

    async def set_boost(self, name: str, on: bool) -> None:
        await self.submit_and_wait(name, BoostSet(on))

    async def set_smart(self, name: str, on: bool) -> None:
        await self.submit_and_wait(name, SmartSet(on))

    async def changes(self) -> AsyncGenerator[list[VehicleView], None]:
        queue: asyncio.Queue[list[VehicleView] | None] = asyncio.Queue(maxsize=16)
        self._subscribers.add(queue)
        try:
            while not self._changes_ended and (snapshot := await queue.get()) is not None:
                yield snapshot
        finally:
            self._subscribers.discard(queue)

    def end_changes(self) -> None:
        """On shutdown: end every `changes()` stream (an open dashboard's event stream), so
        the HTTP server stops at once instead of cutting them off after its grace period."""
        self._changes_ended = True
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    def _publish(self) -> None:
        if not self._subscribers:
            return
        snapshot = self.vehicles_view()
        for queue in self._subscribers:
            if queue.full():  # a slow reader gets the newest snapshot, not a backlog
                queue.get_nowait()
            queue.put_nowait(snapshot)


def _describe(item: object) -> dict[str, Any]:
    """A short JSON-able summary of an event or decision for the event log."""
    out: dict[str, Any] = {}
    for name in getattr(item, "__slots__", ()):
        value = getattr(item, name)
        if isinstance(value, ChargePlan):
            out[name] = {"feasible": value.feasible, "energy_kwh": round(value.energy_kwh, 3),
                         "cost": round(value.cost, 4), "slots": len(value.charging_slots)}
        elif isinstance(value, tuple) and value and isinstance(value[0], PriceSlot):
            out[name] = len(value)
        elif isinstance(value, int | float | str | bool) or value is None:
            out[name] = value
        else:
            out[name] = str(value)
    return out
