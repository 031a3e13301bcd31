"""`ev-optimizer prices` through the real entry point, with a live feed on a local server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.prices import formats
from tests.prices.conftest import Reply

REPO = Path(__file__).resolve().parents[2]


def prices(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", "prices", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def awattar_tariff(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "awattar.toml"
    path.write_text(
        'name = "aWATTar DE"\nkind = "dynamic"\ntimezone = "Europe/Berlin"\n'
        "markup_per_kwh = 0.0\nvat_pct = 19\ncharges_per_kwh = 0.20\n"
        f'[spot]\nsource = "awattar"\ncountry = "de"\nbase_url = "{base_url}"\n'
    )
    return path


def test_fetches_caches_and_shows_known_then_forecast(provider, tmp_path):
    days = [formats.local_day(datetime(2024, 3, 2) + timedelta(days=d)) for d in range(29)]
    provider.answer(Reply(body=formats.awattar(days[0][0], days[-1][1])))
    tariff = awattar_tariff(tmp_path, provider.base_url)
    state = tmp_path / "state"
    now = "2024-03-30T13:00:00+01:00"  # after publication, so the feed is asked
    run = prices("--tariff", tariff, "--state-dir", state, "--now", now, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["source"] == "awattar" and data["fetched_at"] == "2024-03-30T13:00:00+01:00"
    assert data["stale"] is False
    assert data["known_until"] == "2024-03-30T23:00:00+00:00"  # end of the served days
    assert data["forecast_from"] == data["known_until"]
    known = [s for s in data["slots"] if not s["forecast"]]
    forecast = [s for s in data["slots"] if s["forecast"]]
    assert len(known) == 96 and len(forecast) == 92  # 30 March, then the 23-hour 31 March
    spot = formats.price_for(datetime.fromisoformat(known[0]["start"]).astimezone(UTC)) / 1000
    assert known[0]["price"] == pytest.approx(spot * 1.19 + 0.20)
    assert (state / "prices_awattar.json").exists()

    # The feed then fails: the cache is still shown, with its fetch time, and the failure said.
    provider.answer(Reply(status=500, body=b"oops"))
    later = "2024-03-30T14:00:00+01:00"
    run = prices("--tariff", tariff, "--state-dir", state, "--now", later, "--json")
    assert run.returncode == 0, run.stderr
    again = json.loads(run.stdout)
    assert again["stale"] is True and "HTTP 500" in again["last_error"]
    assert again["fetched_at"] == data["fetched_at"]
    assert [s["price"] for s in again["slots"]][:96] == [s["price"] for s in known]
    text = prices("--tariff", tariff, "--state-dir", state, "--now", later, "--no-fetch")
    assert "feed down" in text.stdout and "forecast" in text.stdout


def test_a_token_file_readable_by_others_is_refused(tmp_path):
    token = tmp_path / "entsoe.token"
    token.write_text("secret-token\n")
    token.chmod(0o644)
    tariff = tmp_path / "entsoe.toml"
    tariff.write_text('name = "x"\nkind = "dynamic"\n[spot]\nsource = "entsoe"\n'
                      'zone = "10Y1001A1001A82H"\ntoken_file = "entsoe.token"\n')
    run = prices("--tariff", tariff, "--state-dir", tmp_path / "state")
    assert run.returncode == 2 and "chmod 600" in run.stderr
    assert "secret-token" not in run.stderr + run.stdout


def test_a_wrong_spot_key_names_the_key_and_the_feeds_keys(tmp_path):
    tariff = tmp_path / "t.toml"
    tariff.write_text('name = "x"\nkind = "dynamic"\n[spot]\nsource = "awattar"\n'
                      'zone = "10Y1001A1001A82H"\n')
    run = prices("--tariff", tariff)
    assert run.returncode == 2
    assert "spot.zone: unknown key; known keys: base_url, country, source, timeout_s" in run.stderr
