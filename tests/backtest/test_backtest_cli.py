"""`ev-optimizer backtest` through its real entry point, checked against independent references."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[2]
DE_2024 = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
CHROMIUM = Path("/usr/bin/chromium")


def backtest(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", "backtest", *map(str, args)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )


def write_prices(path: Path, start: datetime, prices: list[float], step_min: int = 60) -> Path:
    lines = ["start,price"]
    for i, price in enumerate(prices):
        lines.append(f"{(start + timedelta(minutes=step_min * i)).isoformat()},{price}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_sessions(path: Path, rows: list[tuple[datetime, datetime, float]]) -> Path:
    lines = ["arrival,departure,energy_kwh"]
    lines += [f"{a.isoformat()},{d.isoformat()},{e}" for a, d, e in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def reference_costs(prices: dict[datetime, float], arrival: datetime, departure: datetime,
                    energy: float, power: float) -> tuple[float, float]:
    """Dumb and perfect-foresight cost of one session on hourly prices (fractional knapsack)."""
    pieces = []
    at = arrival
    while at < departure:
        hour = at.replace(minute=0, second=0, microsecond=0)
        stop = min(departure, hour + timedelta(hours=1))
        pieces.append((at, (stop - at).total_seconds() / 3600, prices[hour]))
        at = stop
    dumb, left = 0.0, energy
    for _, hours, price in pieces:
        take = min(left, power * hours)
        dumb += take * price
        left -= take
    best, left = 0.0, energy
    for _, hours, price in sorted(pieces, key=lambda p: p[2]):
        take = min(left, power * hours)
        best += take * price
        left -= take
    return dumb, best


def test_weekday_commute_on_de_lu_2024_keeps_the_contract_and_nearly_reaches_the_optimum():
    run = backtest("--prices", DE_2024, "--commute", "18:00-07:30,22kWh,Mon-Fri",
                   "--timezone", "Europe/Berlin", "--max-power", "11", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no progress bar when stderr is not a terminal
    data = json.loads(run.stdout)
    assert set(data) == {"sessions", "strategies", "saving_vs_dumb"}
    assert set(data["strategies"]) == {"dumb", "evcc_like", "ours", "optimum"}
    assert set(data["saving_vs_dumb"]) == {"evcc_like", "ours", "optimum"}
    for row in data["strategies"].values():
        assert set(row) == {"cost", "energy_kwh", "missed", "avg_price"}
        assert row["missed"] == 0
        assert row["energy_kwh"] == pytest.approx(22 * data["sessions"])
        assert row["avg_price"] == pytest.approx(row["cost"] / row["energy_kwh"])
        assert row["cost"] >= data["strategies"]["optimum"]["cost"] - 1e-6
    assert data["sessions"] == 261  # weekdays of 2024 whose 07:30 departure is still in 2024
    saving = data["saving_vs_dumb"]
    assert saving["ours"]["amount"] >= 0.999 * saving["optimum"]["amount"]
    dumb = data["strategies"]["dumb"]["cost"]
    assert saving["ours"]["pct"] == pytest.approx(100 * saving["ours"]["amount"] / dumb)


def test_costs_match_an_independent_reference_on_a_sessions_file(tmp_path):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    hourly = [0.10 + 0.08 * math.sin(i / 3.0) + 0.01 * (i % 5) for i in range(24 * 40)]
    prices_file = write_prices(tmp_path / "p.csv", start, hourly)
    table = {start + timedelta(hours=i): p for i, p in enumerate(hourly)}
    tz = ZoneInfo("Europe/Berlin")
    rows = [
        (datetime(2024, 1, 30, 18, 7, tzinfo=tz), datetime(2024, 1, 31, 7, 30, tzinfo=tz), 20.0),
        (datetime(2024, 2, 2, 20, 0, tzinfo=tz), datetime(2024, 2, 3, 6, 0, tzinfo=tz), 35.5),
    ]
    sessions_file = write_sessions(tmp_path / "s.csv", rows)
    run = backtest("--prices", prices_file, "--sessions", sessions_file, "--max-power", "7.4",
                   "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    dumb = best = 0.0
    for arrival, departure, energy in rows:
        d, b = reference_costs(table, arrival.astimezone(UTC), departure.astimezone(UTC),
                               energy, 7.4)
        dumb, best = dumb + d, best + b
    assert data["strategies"]["dumb"]["cost"] == pytest.approx(dumb, rel=1e-9)
    assert data["strategies"]["optimum"]["cost"] == pytest.approx(best, rel=1e-6)
    # Both sessions plug in after 12:45, so every price they need is published: ours is optimal.
    assert data["strategies"]["ours"]["cost"] == pytest.approx(best, rel=1e-6)


def test_overlapping_sessions_are_an_error_naming_the_rows(tmp_path):
    tz = ZoneInfo("Europe/Berlin")
    rows = [
        (datetime(2024, 3, 1, 18, tzinfo=tz), datetime(2024, 3, 2, 7, tzinfo=tz), 10.0),
        (datetime(2024, 3, 2, 6, tzinfo=tz), datetime(2024, 3, 2, 9, tzinfo=tz), 5.0),
        (datetime(2024, 3, 3, 18, tzinfo=tz), datetime(2024, 3, 4, 7, tzinfo=tz), 10.0),
    ]
    run = backtest("--prices", DE_2024, "--sessions", write_sessions(tmp_path / "s.csv", rows),
                   "--json")
    assert run.returncode == 2
    assert "rows 1 and 2" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_sessions_outside_the_prices_are_an_error_naming_the_rows(tmp_path):
    tz = ZoneInfo("Europe/Berlin")
    rows = [
        (datetime(2024, 3, 1, 18, tzinfo=tz), datetime(2024, 3, 2, 7, tzinfo=tz), 10.0),
        (datetime(2024, 12, 31, 18, tzinfo=tz), datetime(2025, 1, 1, 7, tzinfo=tz), 10.0),
    ]
    run = backtest("--prices", DE_2024, "--sessions", write_sessions(tmp_path / "s.csv", rows))
    assert run.returncode == 2
    assert "row 2 lies outside the prices" in run.stderr


def test_bad_flags_exit_2_with_one_line(tmp_path):
    for args in (["--commute", "18:00-07:30,22,Mon-Fri"],
                 ["--commute", "18:00-07:30,22kWh,Mon-Fry"],
                 ["--commute", "18:00-07:30,22kWh", "--published-at", "25:99"],
                 ["--commute", "18:00-07:30,22kWh", "--publication-tz", "Mars/Olympus"],
                 ["--commute", "18:00-07:30,22kWh", "--max-power", "0"]):
        run = backtest("--prices", DE_2024, *args)
        assert run.returncode == 2, args
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_friday_plug_in_leaves_on_saturday_and_dst_days_keep_wall_clock(tmp_path):
    from optimizer.backtest.sessions import Commute

    tz = ZoneInfo("Europe/Berlin")
    sessions = Commute.parse("18:00-07:30,22kWh,Fri").sessions(
        datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 6, tzinfo=UTC), tz)
    assert all(s.arrival.astimezone(tz).weekday() == 4 for s in sessions)
    assert all(s.departure.astimezone(tz).weekday() == 5 for s in sessions)
    assert {s.departure.astimezone(tz).strftime("%H:%M") for s in sessions} == {"07:30"}
    # The night of 29 -> 30 March has no DST change; 30 -> 31 does, but is a Saturday.
    assert [s.hours for s in sessions] == [13.5] * len(sessions)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_is_self_contained_and_renders_in_headless_chromium(tmp_path):
    report = tmp_path / "report.html"
    run = backtest("--prices", DE_2024, "--commute", "18:00-07:30,22kWh,Mon-Fri",
                   "--timezone", "Europe/Berlin", "--report", report)
    assert run.returncode == 0, run.stderr
    page = report.read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert "<script" not in page and "<link" not in page
    for heading in ("Monthly cost per strategy", "Cumulative saving", "When ours charged"):
        assert heading in page
    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--window-size=1000,1600",
         f"--screenshot={shot}", report.as_uri()],
        capture_output=True, timeout=60, check=False,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout
    assert dom.count("<svg") == 4 and dom.count("<rect") > 7 * 24 * 2


def test_no_terminal_no_progress_but_a_terminal_gets_one():
    from io import StringIO

    from optimizer.commands.backtest import _Progress

    stream = StringIO()
    bar = _Progress(stream)
    for done in range(1, 5):
        bar(done, 4)
    assert stream.getvalue().endswith("4/4\n") and "[" in stream.getvalue()


def test_config_planner_options_apply_and_stdout_stays_json(tmp_path):
    """config.toml asks for 30-minute minimum runs, which needs the MILP (HiGHS prints a
    banner from C); the JSON on stdout must still parse."""
    args = ("--prices", DE_2024, "--commute", "18:00-07:30,22kWh,Mon", "--json")
    plain = json.loads(backtest(*args).stdout)
    run = backtest(*args, "--config", REPO / "config.toml")
    assert run.returncode == 0, run.stderr
    configured = json.loads(run.stdout)
    assert configured["sessions"] == plain["sessions"]
    # min runs and the 4.1 kW minimum of the config's charger cannot make charging cheaper
    assert configured["strategies"]["optimum"]["cost"] >= (
        plain["strategies"]["optimum"]["cost"] - 1e-6)
    assert configured["strategies"]["ours"]["missed"] == 0


def test_sessions_on_a_gap_in_the_prices_are_an_error(tmp_path):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = ["start,end,price"]
    for i in range(72):
        if 30 <= i < 33:
            continue
        a = start + timedelta(hours=i)
        lines.append(f"{a.isoformat()},{(a + timedelta(hours=1)).isoformat()},0.1")
    prices_file = tmp_path / "gappy.csv"
    prices_file.write_text("\n".join(lines) + "\n")
    rows = [(start + timedelta(hours=2), start + timedelta(hours=10), 5.0),
            (start + timedelta(hours=28), start + timedelta(hours=40), 5.0)]
    run = backtest("--prices", prices_file, "--sessions",
                   write_sessions(tmp_path / "s.csv", rows))
    assert run.returncode == 2 and "row 2 falls on a gap" in run.stderr
