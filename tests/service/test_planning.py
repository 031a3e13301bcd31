"""`plan_vehicles`: every vehicle of a site in one call; a refused request is left out."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from optimizer.planner import PlanOptions, PlanRequest
from optimizer.service.planning import VehiclePlanRequest, plan_vehicles
from tests.service.test_session import DEPARTURE, T0, prices


def request(soc_pct: float) -> PlanRequest:
    return PlanRequest(now=T0, departure=DEPARTURE, soc_pct=soc_pct, target_soc_pct=80.0,
                       capacity_kwh=64.7, max_power_kw=11.0,
                       prices=[p for p in prices() if p.end > T0 and p.start < DEPARTURE])


def test_each_vehicle_gets_its_plan_and_a_bad_request_is_logged_and_left_out(
        caplog: pytest.LogCaptureFixture) -> None:
    bad = replace(request(30.0), soc_pct=150.0)
    plans = plan_vehicles([VehiclePlanRequest("iX1", request(30.0), PlanOptions()),
                           VehiclePlanRequest("i4", request(70.0), PlanOptions()),
                           VehiclePlanRequest("mini", bad, PlanOptions())], T0)
    assert set(plans) == {"iX1", "i4"}
    assert plans["iX1"].energy_kwh > plans["i4"].energy_kwh > 0
    assert all(s.start >= T0 + timedelta(hours=8) for s in plans["i4"].charging_slots)
    assert "vehicle 'mini': no plan" in caplog.text and "soc" in caplog.text
    assert caplog.records[0].levelno == logging.WARNING
