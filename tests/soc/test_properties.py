"""Property tests: the rules hold for any order and mix of reports (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.events import ChargingStatus, VehicleEvent
from optimizer.soc.estimator import SocEstimator
from tests.soc.conftest import VIN, at, event

_status = st.sampled_from([ChargingStatus.CHARGING, ChargingStatus.CHARGING,
                           ChargingStatus.FINISHED, ChargingStatus.WAITING])
_sample = st.one_of(
    st.tuples(st.just("charging_power_kw"), st.floats(0.0, 150.0)),
    st.tuples(st.just("charging_status"), _status),
    st.tuples(st.just("plugged"), st.booleans()),
    st.tuples(st.just("capacity_kwh"), st.floats(20.0, 110.0)),
)
_timeline = st.lists(st.tuples(st.floats(0.5, 600.0), _sample), min_size=1, max_size=30)


def _start(soc: float, target: float) -> list[VehicleEvent]:
    return [event("soc_pct", soc, 0), event("capacity_kwh", 60.0, 0),
            event("target_soc_pct", target, 0), event("plugged", True, 0),
            event("charging_status", ChargingStatus.CHARGING, 0)]


def _events(timeline: list[tuple[float, tuple[str, object]]]) -> list[VehicleEvent]:
    return [event(field, value, minutes) for minutes, (field, value) in timeline]


@settings(max_examples=150, deadline=None)
@given(soc=st.floats(0.0, 100.0), target=st.sampled_from([50.0, 80.0, 90.0, 100.0]),
       timeline=_timeline, order=st.randoms(use_true_random=False))
def test_never_above_the_target_or_100(soc: float, target: float,
                                      timeline: list[tuple[float, tuple[str, object]]],
                                      order: object) -> None:
    est = SocEstimator(VIN)
    events = _events(timeline)
    order.shuffle(events)  # type: ignore[attr-defined]
    for e in [*_start(soc, target), *events]:
        est.ingest(e)
    for minutes in (1, 30, 120, 600, 2000):
        got = est.estimate(at(minutes))
        assert got is not None
        assert got.soc_pct <= max(target, soc) + 1e-9
        assert got.soc_high_pct <= max(min(target, 100.0), soc + 0.6) + 1e-9
        assert 0.0 <= got.soc_low_pct <= got.soc_pct <= got.soc_high_pct <= 100.0


@settings(max_examples=150, deadline=None)
@given(soc=st.floats(0.0, 95.0), timeline=_timeline,
       arrivals=st.lists(st.integers(0, 60), min_size=30, max_size=30),
       meter_kw=st.lists(st.floats(0.0, 30.0), min_size=30, max_size=30))
def test_never_decreases_during_a_charge_without_a_newer_report(
        soc: float, timeline: list[tuple[float, tuple[str, object]]], arrivals: list[int],
        meter_kw: list[float]
) -> None:
    """Whatever arrives, late or not, car reports or wallbox meter, the answers over rising
    `now` never fall."""
    est = SocEstimator(VIN)
    for e in _start(soc, 100.0):
        est.ingest(e)
    events = sorted(_events(timeline), key=lambda e: e.measured_at)
    # deliver in a scrambled order interleaved with questions at rising times
    delivered = sorted(range(len(events)), key=lambda i: (i + arrivals[i] // 10))
    last = soc
    energy = 100.0
    for step, i in enumerate(delivered):
        est.ingest(events[i])
        energy += meter_kw[step] * 10.0 / 60.0
        est.add_meter(at(10.0 * step), energy)
        got = est.estimate(at(10.0 * (step + 1)))
        assert got is not None
        assert got.soc_pct >= last - 1e-9
        last = got.soc_pct


@settings(max_examples=150, deadline=None)
@given(soc=st.floats(0.0, 95.0), timeline=_timeline,
       stale=st.lists(st.integers(0, 29), max_size=10))
def test_stale_resends_do_not_change_the_estimate(
        soc: float, timeline: list[tuple[float, tuple[str, object]]], stale: list[int]
) -> None:
    """Re-sent values with their old timestamps (BMW does this on every speed change) and
    SoC reports older than the last one leave every answer exactly as it was."""
    events = sorted(_events(timeline), key=lambda e: e.measured_at)
    clean, noisy = SocEstimator(VIN), SocEstimator(VIN)
    for e in _start(soc, 100.0):
        clean.ingest(e)
        noisy.ingest(e)
    for i, e in enumerate(events):
        clean.ingest(e)
        noisy.ingest(e)
        for j in stale:
            if j <= i:
                noisy.ingest(events[j])  # the same value again, old timestamp
        noisy.ingest(event("soc_pct", max(0.0, soc - 5), -10))  # older than the anchor
    for minutes in (5, 60, 240, 900):
        assert clean.estimate(at(minutes)) == noisy.estimate(at(minutes))
