"""`ev-optimizer plan --fleet FILE.json` as a user runs it: a subprocess, its JSON and exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.cli_contract import assert_error_stdout
from tests.planner.conftest import DE_LU_2024

HOUSEHOLD: dict[str, Any] = {
    "prices": "prices.csv",
    "now": "2024-03-05T18:07:00+01:00",
    "site_max_power_kw": 11.04,
    "vehicles": [
        {"name": "iX1", "soc": 20, "target": 80, "capacity": 64.7,
         "departure": "2024-03-06T07:30:00+01:00", "max_power": 11},
        {"name": "i4", "soc": 35, "target": 90, "capacity": 80.7,
         "departure": "2024-03-06T06:45:00+01:00", "max_power": 11, "priority": 1},
    ],
}


def run_fleet(
    tmp_path: Path, fleet: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    if not (tmp_path / "prices.csv").exists():
        shutil.copy(DE_LU_2024, tmp_path / "prices.csv")
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "--fleet", str(path), *extra],
        capture_output=True, text=True, cwd="/", check=False,
    )


def test_household_plan_keeps_the_house_limit_and_meets_both_targets(tmp_path: Path) -> None:
    done = run_fleet(tmp_path, HOUSEHOLD, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"feasible", "cost", "vehicles"}
    assert out["reason"] is None
    assert out["feasible"] is True
    powers: dict[str, float] = defaultdict(float)
    for vehicle in out["vehicles"]:
        assert set(vehicle) >= {"name", "feasible", "energy_kwh", "shortfall_kwh", "cost",
                                "soc_at_departure_pct", "slots"}
        assert vehicle["feasible"] is True and vehicle["shortfall_kwh"] == 0.0
        for slot in vehicle["slots"]:
            assert set(slot) >= {"start", "end", "power_kw", "energy_kwh", "price"}
            assert 0 < slot["power_kw"] <= 11 + 1e-9
            powers[slot["start"]] += slot["power_kw"]
    assert max(powers.values()) <= 11.04 + 1e-9
    assert max(powers.values()) > 11.0  # the limit binds: the cheap hours are shared
    by_name = {v["name"]: v for v in out["vehicles"]}
    assert by_name["iX1"]["soc_at_departure_pct"] >= 80 - 1e-6
    assert by_name["i4"]["soc_at_departure_pct"] >= 90 - 1e-6
    # energies are grid-side: (80 - 20) % of 64.7 kWh at 0.9
    assert abs(by_name["iX1"]["energy_kwh"] - 0.6 * 64.7 / 0.9) <= 1e-6
    assert abs(out["cost"] - sum(v["cost"] for v in out["vehicles"])) <= 1e-9


def test_text_output_without_json(tmp_path: Path) -> None:
    done = run_fleet(tmp_path, HOUSEHOLD)
    assert done.returncode == 0, done.stderr
    assert "all targets met" in done.stdout and "iX1" in done.stdout


def test_an_unreachable_target_still_prints_a_plan_with_exit_0(tmp_path: Path) -> None:
    fleet = json.loads(json.dumps(HOUSEHOLD))
    fleet["site_max_power_kw"] = 3.0
    done = run_fleet(tmp_path, fleet, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["feasible"] is False
    assert any(v["shortfall_kwh"] > 0 and v["feasible"] is False for v in out["vehicles"])
    assert all(v["reason"] for v in out["vehicles"] if not v["feasible"])


def test_prices_path_is_relative_to_the_fleet_file_not_the_working_directory(
    tmp_path: Path,
) -> None:
    sub = tmp_path / "site"
    sub.mkdir()
    shutil.copy(DE_LU_2024, sub / "prices.csv")
    done = run_fleet(sub, HOUSEHOLD, "--json")  # run from cwd="/"
    assert done.returncode == 0, done.stderr


def _with(path: str, value: Any) -> dict[str, Any]:
    fleet = json.loads(json.dumps(HOUSEHOLD))
    target: Any = fleet
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DROP:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return fleet


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "culprit"),
    [
        ("vehicles.1.max_power", -11, "vehicles[1].max_power"),
        ("vehicles.1.max_power", True, "vehicles[1].max_power"),
        ("vehicles.0.soc", 101, "vehicles[0].soc"),
        ("vehicles.0.target", "80", "vehicles[0].target"),
        ("vehicles.0.capacity", 0, "vehicles[0].capacity"),
        ("vehicles.1.min_power", 12, "vehicles[1].min_power"),
        ("vehicles.0.efficiency", 1.2, "vehicles[0].efficiency"),
        ("vehicles.0.min_soc", 95, "vehicles[0].min_soc"),
        ("vehicles.0.departure", "2024-03-06T07:30:00", "vehicles[0].departure"),
        ("vehicles.0.departure", "2024-03-25T07:30:00+01:00", "vehicles[0].departure"),
        ("vehicles.0.departure", "tomorrow", "vehicles[0].departure"),
        ("vehicles.1.name", "iX1", "vehicles[1].name"),
        ("vehicles.0.name", "", "vehicles[0].name"),
        ("vehicles.0.capacity", _DROP, "vehicles[0].capacity"),
        ("vehicles.0.colour", "blue", "vehicles[0].colour"),
        ("now", "2024-03-05 18:07", "now"),
        ("site_max_power_kw", 0, "site_max_power_kw"),
        ("site_max_power_kw", 1e9, "site_max_power_kw"),
        ("vehicles", [], "vehicles"),
        ("prices", "missing.csv", "prices"),
        ("sites", 1, "sites"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_culprit(
    tmp_path: Path, path: str, value: Any, culprit: str
) -> None:
    done = run_fleet(tmp_path, _with(path, value), "--json")
    assert done.returncode == 2
    assert_error_stdout(done.stdout, done.stderr, "--json" in done.args)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert culprit in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected(tmp_path: Path, text: str) -> None:
    shutil.copy(DE_LU_2024, tmp_path / "prices.csv")
    raw = json.dumps(HOUSEHOLD).replace('"max_power": 11, "priority"', f'"max_power": {text}, '
                                        '"priority"')
    path = tmp_path / "fleet.json"
    path.write_text(raw, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "optimizer", "plan", "--fleet", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "vehicles[1].max_power" in done.stderr


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    path.write_text("{not json", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "optimizer", "plan", "--fleet", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "not valid JSON" in done.stderr and len(done.stderr.strip().splitlines()) == 1
