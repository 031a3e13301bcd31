"""`ev-optimizer plan` on a live tariff, through the real entry point: the feed's cached prices
(fetched by `ev-optimizer prices` from a local server) plus the forecast past them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from tests.prices import formats
from tests.prices.conftest import Reply
from tests.prices.test_prices_cli import awattar_tariff, prices

REPO = Path(__file__).resolve().parents[2]
CAR = ("--soc", "10", "--target", "100", "--capacity", "80", "--max-power", "11")


def plan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", "plan", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_plans_on_the_cache_then_the_forecast_marked_provisional(provider, tmp_path):
    days = [formats.local_day(datetime(2024, 3, 2) + timedelta(days=d)) for d in range(29)]
    provider.answer(Reply(body=formats.awattar(days[0][0], days[-1][1])))
    tariff = awattar_tariff(tmp_path, provider.base_url)
    state = tmp_path / "state"
    fetched = prices("--tariff", tariff, "--state-dir", state, "--now",
                     "2024-03-30T13:00:00+01:00", "--json")
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["known_until"] == "2024-03-30T23:00:00+00:00"

    # 80 kWh from the wall need 7.3 of the 8 hours to departure at 11 kW: the six known hours
    # to midnight and two of the forecast.
    run = plan("--tariff", tariff, "--state-dir", state, "--now", "2024-03-30T18:00:00+01:00",
               "--departure", "2024-03-31T02:00:00+01:00", *CAR, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["feasible"] is True and data["provisional"] is True
    forecast_from = datetime.fromisoformat("2024-03-31T00:00:00+01:00")
    assert "forecast from 2024-03-31T00:00:00+01:00" in data["reason"]
    starts = [(datetime.fromisoformat(s["start"]), s.get("provisional", False))
              for s in data["slots"]]
    assert any(flag for _, flag in starts) and any(not flag for _, flag in starts)
    assert all(flag == (start >= forecast_from) for start, flag in starts)
    # The known hours are real prices from the feed; the forecast ones are prices too.
    assert all(isinstance(s["price"], float) for s in data["slots"])
    assert provider.requests and len(provider.requests) == 1  # plan itself fetches nothing


def test_within_the_cache_nothing_is_provisional(provider, tmp_path):
    days = [formats.local_day(datetime(2024, 3, 2) + timedelta(days=d)) for d in range(29)]
    provider.answer(Reply(body=formats.awattar(days[0][0], days[-1][1])))
    tariff = awattar_tariff(tmp_path, provider.base_url)
    state = tmp_path / "state"
    assert prices("--tariff", tariff, "--state-dir", state, "--now",
                  "2024-03-30T13:00:00+01:00").returncode == 0
    run = plan("--tariff", tariff, "--state-dir", state, "--now", "2024-03-30T18:00:00+01:00",
               "--departure", "2024-03-30T23:30:00+01:00", "--soc", "40", "--target", "60",
               "--capacity", "80", "--max-power", "11", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["feasible"] is True and data["provisional"] is False
    assert data["reason"] is None
    assert data["slots"] and not any(s.get("provisional") for s in data["slots"])


def test_without_a_cache_it_says_to_fetch_first(provider, tmp_path):
    tariff = awattar_tariff(tmp_path, provider.base_url)
    state = tmp_path / "empty"
    run = plan("--tariff", tariff, "--state-dir", state, "--now", "2024-03-30T18:00:00+01:00",
               "--departure", "2024-03-31T07:00:00+02:00", *CAR, "--json")
    assert run.returncode == 2
    assert run.stdout == "" or "error" in json.loads(run.stdout)
    message = run.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "no cached prices for the awattar feed" in message
    assert f"ev-optimizer prices --tariff {tariff} --state-dir {state}" in message
    assert provider.requests == []
