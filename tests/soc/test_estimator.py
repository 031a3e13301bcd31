"""The estimator's rules, one behaviour per test, with hand-checkable numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from optimizer.events import ChargingStatus
from optimizer.planner.taper import power_limit
from optimizer.soc.estimator import EstimatorSettings, SocEstimator
from optimizer.soc.learning import LearnedVehicle
from tests.soc.conftest import VIN, at, charge_start, event

Feed = Callable[..., None]


def test_nothing_before_the_first_report() -> None:
    assert SocEstimator(VIN).estimate(at(0)) is None


def test_extrapolates_power_times_prior_efficiency_over_max_energy(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50, capacity=76, power_kw=11))
    # the first report is taken to have held since the start: 11 kW for 60 min, less the
    # 0.3 kW the car draws itself, at 0.90
    expected = 50 + (11 - 0.3) * 0.90 / 76 * 100
    got = est.estimate(at(60))
    assert got is not None
    assert got.soc_pct == pytest.approx(expected, abs=1e-6)
    assert got.soc_low_pct < got.soc_pct < got.soc_high_pct


def test_stops_at_zero_watts_while_status_stays_charging(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, [*charge_start(), event("charging_power_kw", 0.0, 30)])
    held = est.estimate(at(30))
    later = est.estimate(at(300))
    assert held is not None and later is not None
    assert later.soc_pct == pytest.approx(held.soc_pct)


@pytest.mark.parametrize("stop", [
    event("charging_status", ChargingStatus.FINISHED, 30),
    event("charging_status", ChargingStatus.NOT_CHARGING, 30),
    event("plugged", False, 30),
])
def test_stops_on_stop_status_or_unplug(feed: Feed, stop: object) -> None:
    est = SocEstimator(VIN)
    feed(est, [*charge_start(), stop])
    held = est.estimate(at(30))
    later = est.estimate(at(240))
    assert held is not None and later is not None
    assert held.soc_pct > 50
    assert later.soc_pct == pytest.approx(held.soc_pct)


def test_stops_at_the_target_and_at_100(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=70, target=80))
    got = est.estimate(at(600))
    assert got is not None and got.soc_pct == 80.0 and got.soc_high_pct <= 80.0
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=95, target=100, power_kw=22))
    got = est.estimate(at(600))
    assert got is not None and got.soc_pct == 100.0 and got.soc_high_pct <= 100.0


def test_stale_resend_of_an_old_soc_changes_nothing(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50))
    before = est.estimate(at(60))
    # BMW re-sends the start SoC with its old timestamp when the charging speed changes
    feed(est, [event("soc_pct", 50, 0, arrived=59), event("soc_pct", 42, -30, arrived=59)])
    after = est.estimate(at(60))
    assert before == after


def test_newer_report_moves_the_estimate_even_backwards(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50))
    assert (e := est.estimate(at(60))) is not None and e.soc_pct > 60
    feed(est, [event("soc_pct", 59, 60)])
    got = est.estimate(at(60))
    assert got is not None and got.soc_pct == 59
    assert got.soc_high_pct - got.soc_low_pct < 1.5  # the band collapses on a fresh report


def test_out_of_order_arrival_gives_the_in_order_answer(feed: Feed) -> None:
    events = [*charge_start(), event("charging_power_kw", 7.0, 20),
              event("charging_power_kw", 0.0, 40), event("charging_power_kw", 11.0, 50)]
    in_order = SocEstimator(VIN)
    feed(in_order, events)
    shuffled = SocEstimator(VIN)
    feed(shuffled, [*events[:6], events[8], events[6], events[7]])
    for minutes in (30, 45, 70):
        a, b = in_order.estimate(at(minutes)), shuffled.estimate(at(minutes))
        assert a is not None and b is not None
        assert a.soc_pct == pytest.approx(b.soc_pct)


def test_band_widens_with_time_since_the_report(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start())
    widths = []
    for minutes in (5, 30, 60, 90):
        got = est.estimate(at(minutes))
        assert got is not None
        widths.append(got.soc_high_pct - got.soc_low_pct)
    assert widths == sorted(widths) and widths[-1] > widths[0] + 1


def test_learns_efficiency_from_a_pair_of_reports(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=20, capacity=80, target=100, power_kw=10))
    # 10 kW for 4 h less 0.3 kW auxiliary = 38.8 kWh; +42 points of 80 kWh = 33.6 kWh
    feed(est, [event("charging_status", ChargingStatus.FINISHED, 240),
               event("soc_pct", 62, 240)])
    stats = est.learned.efficiency["ac:car"]
    assert stats.samples == ((pytest.approx(33.6 / 38.8), 42.0),)
    # the prior (0.90) still weighs like 10 points against the 42 seen
    assert stats.value() == pytest.approx((0.90 * 10 + 33.6 / 38.8 * 42) / 52)


def test_learned_state_round_trips_through_json(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=20, capacity=80, target=100, power_kw=10))
    feed(est, [event("charging_power_kw", 6.0, 200), event("soc_pct", 62, 240)])
    data = est.learned.to_json()
    assert LearnedVehicle.from_json(data).to_json() == data
    assert LearnedVehicle.from_json({"version": 99}).efficiency == {}


def test_max_energy_drift_is_taken_and_a_glitch_is_not(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(capacity=76.0))
    feed(est, [event("capacity_kwh", 77.0, 10)])
    assert est.capacity_kwh == 77.0
    feed(est, [event("capacity_kwh", 7.7, 20)])
    assert est.capacity_kwh == 77.0 and est.rejected["capacity_kwh"] == 1


def test_an_implausible_soc_sentinel_while_charging_is_ignored(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=40, target=100))
    before = est.estimate(at(120))
    feed(est, [event("soc_pct", 0, 100)])
    assert est.estimate(at(120)) == before
    assert est.rejected["soc_pct"] == 1


def test_meter_energy_replaces_the_cars_power_reports(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50, capacity=80, target=100, power_kw=11))
    for minute in range(0, 61, 5):  # the wallbox says 10 kW, the car said 11
        est.add_meter(at(minute), 1000.0 + 10.0 * minute / 60)
    got = est.estimate(at(60))
    assert got is not None
    assert got.soc_pct == pytest.approx(50 + (10 - 0.3) * 0.90 / 80 * 100)


def test_a_meter_that_disagrees_with_the_car_is_someone_elses(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50, capacity=80, target=100, power_kw=11))
    for minute in range(0, 61, 5):  # 2 kW: another car on another wallbox
        est.add_meter(at(minute), 500.0 + 2.0 * minute / 60)
    got = est.estimate(at(60))
    assert got is not None
    assert got.soc_pct == pytest.approx(50 + (11 - 0.3) * 0.90 / 80 * 100)


def test_planner_predictions(feed: Feed) -> None:
    est = SocEstimator(VIN)
    feed(est, [*charge_start(soc=50, capacity=80, target=100), event("charging_power_kw", 0, 2)])
    now = est.estimate(at(2))
    assert now is not None and now.soc_pct > 50
    # the missing points of 80 kWh at the prior 0.90, plus the 0.3 kW the car draws itself
    # for as long as 11 kW takes, grid side
    expected = (80 - now.soc_pct) / 100 * 80 / 0.90 * 11 / (11 - 0.3)
    assert est.energy_to_reach_kwh(80, at(2), power_kw=11) == pytest.approx(expected)
    assert est.power_available_kw(50, 11.0) == 11.0
    assert est.power_available_kw(99, 11.0) < 11.0 * 0.5  # AC taper near full
    assert est.power_available_kw(70, 150.0, kind="dc") < 150.0  # DC tapers early


def test_fallback_capacity_until_max_energy_arrives(feed: Feed) -> None:
    est = SocEstimator(VIN, settings=EstimatorSettings(fallback_capacity_kwh=50.0))
    events = [e for e in charge_start(soc=40, target=100) if e.field != "capacity_kwh"]
    feed(est, events)
    got = est.estimate(at(60))
    assert got is not None
    assert got.soc_pct == pytest.approx(40 + (11 - 0.3) * 0.90 / 50 * 100)
    without = SocEstimator(VIN)
    feed(without, events)
    held = without.estimate(at(60))
    assert held is not None and held.soc_pct == 40  # no capacity: nothing to extrapolate with


def test_what_one_charge_teaches_carries_over_to_the_next(feed: Feed) -> None:
    est = SocEstimator(VIN)
    # first charge: the car gains less than the prior predicts (effective efficiency ~0.78)
    feed(est, charge_start(soc=20, capacity=80, target=100, power_kw=10))
    feed(est, [event("charging_status", ChargingStatus.FINISHED, 240),
               event("soc_pct", 58, 240), event("plugged", False, 250)])
    # second charge, a day later, same car and power
    feed(est, [event("plugged", True, 1439), event("soc_pct", 30, 1440),
               event("charging_status", ChargingStatus.CHARGING, 1440),
               event("charging_power_kw", 10.0, 1441)])
    got = est.estimate(at(1440 + 120))
    assert got is not None
    learned = est.learned.efficiency_for("ac", "car")[0]
    assert learned < 0.82
    assert got.soc_pct == pytest.approx(30 + (10 - 0.3) * 2 * learned / 80 * 100)
    naive = 30 + (10 - 0.3) * 2 * 0.90 / 80 * 100
    assert got.soc_pct < naive - 1.5


@pytest.mark.parametrize(("kind", "max_kw"), [("ac", 11.0), ("ac", 22.0), ("dc", 150.0)])
def test_taper_points_fit_the_planner(feed: Feed, kind: str, max_kw: float) -> None:
    est = SocEstimator(VIN)
    feed(est, charge_start(soc=50, capacity=80))
    # a learned, noisy taper near full (car-limited samples of earlier charges)
    for soc, kw in ((82, 10.5), (88, 9.0), (90, 9.6), (96, 5.0), (99, 4.2)):
        est.learned.taper_for("ac").add(soc, kw)
    points = est.taper_points(max_kw, kind)
    limit = power_limit(max_kw, points)  # the planner refuses rising or non-concave tapers
    for point in points:
        assert point.power_kw <= est.power_available_kw(point.soc_pct, max_kw, kind) + 1e-9
        assert limit.at(point.soc_pct) == pytest.approx(point.power_kw)
