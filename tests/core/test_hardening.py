"""Issue 8: machine-readable output, and every bad input a clear exit 2 through the real CLI.

Each test here failed before its fix (the issue's item number is in the test's docstring).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from optimizer.cli import main
from optimizer.config import PlannerConfig, VehicleConfig, load_config, parse_config
from optimizer.errors import ConfigError
from optimizer.planner import PlanOptions

REPO = Path(__file__).resolve().parents[2]
PRICES = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
CONFIG = REPO / "config.toml"
NOW = "2024-03-05T18:00:00+01:00"
DEPARTURE = "2024-03-06T07:30:00+01:00"
CONTRACT = ["plan", "--prices", str(PRICES), "--now", NOW, "--departure", DEPARTURE,
            "--soc", "30", "--target", "80", "--capacity", "76.4", "--max-power", "11"]
GOOD = {"prices": str(PRICES), "now": NOW, "departure": DEPARTURE, "soc": 30, "target": 80,
        "capacity": 76.4, "max_power": 11}


def cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "optimizer", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, check=False)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_clear_error(code: int, out: str, err: str, culprit: str) -> None:
    """Exit 2, one line naming the culprit, and with --json a JSON error object on stdout."""
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert culprit in err, err
    assert "Traceback" not in err and "unexpected" not in err
    if out:
        assert set(json.loads(out)) == {"error"}


# --------------------------------------------------------------------------- 1. HiGHS banner


def test_milp_path_prints_pure_json() -> None:
    """1: the shipped config (min_run 30) takes the MILP; stdout must be one JSON document."""
    done = cli("plan", "--config", str(CONFIG), "--now", NOW, "--soc", "30", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole stdout: a banner line would break this
    assert result["feasible"] is True
    starts = [datetime.fromisoformat(s["start"]) for s in result["slots"]]
    assert starts and min(starts) >= datetime.fromisoformat(NOW)


def test_example_plan_json_is_valid() -> None:
    """1: the README's example plan (the shipped config, min_run 30: the MILP) with `--json`
    piped through `python -m json.tool`. (`scripts/run.sh` now runs the demo, whose `--json`
    lines are checked by tests/service/test_demo.py.)"""
    done = cli("plan", "--config", str(REPO / "config.toml"), "--now",
               "2024-03-05T18:00:00+01:00", "--soc", "30", "--json")
    assert done.returncode == 0, done.stderr
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=done.stdout,
                          capture_output=True, text=True, check=False)
    assert tool.returncode == 0, done.stdout[:300]


def test_milp_batch_gives_one_json_line_per_request(tmp_path: Path) -> None:
    """1: with min_run (the MILP) every batch request is exactly one JSON line."""
    batch = tmp_path / "b.jsonl"
    batch.write_text("\n".join(json.dumps({**GOOD, "min_run": 30, "soc": soc})
                               for soc in (20, 40, 60)) + "\n")
    done = cli("plan", "--batch", str(batch))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["feasible"] for line in lines)


# --------------------------------------------------------------------------- 2. batch


@pytest.mark.parametrize(
    ("fragment", "culprit"),
    [
        ('"capacity": Infinity', "capacity"),
        ('"soc": NaN', "soc"),
        ('"min_run": 1e400', "min_run"),
        ('"taper": 123', "taper"),
        ('"soc": true', "soc"),
        ('"soc": 1' + "0" * 5000, "soc"),
        ('"charging_now": "yes"', "charging_now"),
        ('"mode": 5', "mode"),
    ],
)
def test_one_bad_batch_line_never_aborts_the_batch(tmp_path: Path, fragment: str, culprit: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """2: the bad line gets {"error", "line"} in its place; the others still plan; exit 2."""
    key = fragment.split(":")[0].strip('"')
    item = {k: v for k, v in GOOD.items() if k != key}
    bad = json.dumps(item)[:-1] + ", " + fragment + "}"
    batch = tmp_path / "b.jsonl"
    batch.write_text(f"{json.dumps(GOOD)}\n{bad}\n{json.dumps(GOOD)}\n")
    code, out, err = run(["plan", "--batch", str(batch)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 3
    assert results[0]["feasible"] and results[2]["feasible"]
    assert set(results[1]) == {"error", "line"} and results[1]["line"] == 2
    assert f"b.jsonl:2: {culprit}" in results[1]["error"]
    assert code == 2 and "1 of the batch lines failed" in err


def test_binary_prices_file_in_a_batch_is_an_error_object(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """2/5: a binary prices file is refused for its line only."""
    binary = tmp_path / "prices.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    batch = tmp_path / "b.jsonl"
    batch.write_text(f"{json.dumps({**GOOD, 'prices': str(binary)})}\n{json.dumps(GOOD)}\n")
    code, out, _ = run(["plan", "--batch", str(batch)], capsys)
    first, second = (json.loads(line) for line in out.splitlines())
    assert "prices.csv: not UTF-8 text" in first["error"] and first["line"] == 1
    assert second["feasible"] is True
    assert code == 2


# --------------------------------------------------------------------------- 3. numbers


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--unknown-price", "nan"), ("--max-power", "inf"), ("--min-soc", "150"),
        ("--buffer", "-600"), ("--min-run", "-30"), ("--start-penalty", "-1"),
        ("--capacity", "1e400"), ("--efficiency", "nan"), ("--price-cap", "inf"),
        ("--opportunistic-limit", "150"), ("--soc", "-5"), ("--taper", "80:inf"),
    ],
)
def test_non_finite_and_out_of_range_flags_are_refused(flag: str, value: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """3: every number is finite and within its physical range, checked at the edge."""
    code, out, err = run([*CONTRACT, flag, value, "--json"], capsys)
    assert_clear_error(code, out, err, flag if flag != "--taper" else "taper")


def test_unknown_price_nan_never_reaches_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    """3: `--unknown-price nan` printed `"cost": NaN`, which no JSON parser accepts."""
    args = [a if a != NOW else "2024-12-31T18:00:00+01:00" for a in CONTRACT]
    args = [a if a != DEPARTURE else "2025-01-01T07:30:00+01:00" for a in args]
    code, out, _ = run([*args, "--unknown-price", "nan", "--json"], capsys)
    assert code == 2
    assert "NaN" not in out
    json.loads(out)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("start_penalty", float("inf")),
        ("opportunistic_price_cap", float("nan")),
        ("unknown_price", float("-inf")),
        ("min_run_minutes", 100_000),
    ],
)
def test_config_planner_numbers_are_finite_and_bounded(key: str, value: Any) -> None:
    """3: `start_penalty = inf` and `opportunistic_price_cap = nan` were accepted."""
    data = _shipped()
    data["planner"][key] = value
    with pytest.raises(ConfigError, match=f"planner.{key}"):
        parse_config(data, "config.toml")


# --------------------------------------------------------------------------- 4. horizon


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["--departure", "9999-12-31T23:00:00+00:00"], "departure"),
        (["--departure", "2024-03-30T07:30:00+01:00"], "plan at most 14 days ahead"),
        (["--now", "0001-01-01T00:00:00+00:00"], "now"),
        (["--departure", "2024-03-05T12:00:00+01:00"], "is not after now"),
    ],
)
def test_absurd_horizons_exit_2_fast(args: list[str], culprit: str) -> None:
    """4: a year-9999 departure took 7 GB; `--now 0001-01-01` hung."""
    flags = list(CONTRACT)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        flags[flags.index(flag) + 1] = value
    started = time.monotonic()
    done = cli(*flags, "--json", timeout=30)
    assert time.monotonic() - started < 15
    assert_clear_error(done.returncode, done.stdout, done.stderr, culprit)


def test_now_0001_with_the_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """4: with the config the departure comes from the weekday table: year 1 is still refused."""
    code, out, err = run(["plan", "--config", str(CONFIG), "--now", "0001-01-01T00:00:00+00:00",
                          "--soc", "30", "--json"], capsys)
    assert_clear_error(code, out, err, "now")


# --------------------------------------------------------------------------- 5./6. files


def _plan_with_prices(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = list(CONTRACT)
    args[args.index(str(PRICES))] = str(path)
    return run([*args, "--json"], capsys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("start,price\n2024-03-05T17:00:00Z,0.30 \xa4\n".encode("latin-1"), "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not UTF-8 text"),
        (b"start,price\n9999-12-31T23:00:00+00:00,0.3\n", ":2: start"),
        (b"start,price\n2024-03-05T17:00:00Z," + b"9" * 140_000 + b"\n", "not a CSV file"),
        (b"start,price\n2024-03-05T17:00:00Z,0.3\x00\n", ":2: price"),
    ],
)
def test_unreadable_price_files_exit_2(tmp_path: Path, content: bytes, message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """5: Latin-1, binary, year 9999, a 140 KB field: "unexpected ..." and exit 1 before."""
    path = tmp_path / "prices.csv"
    path.write_bytes(content)
    code, out, err = _plan_with_prices(path, capsys)
    assert_clear_error(code, out, err, "prices.csv")
    assert message in err


def test_a_non_csv_file_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    """5: the missing-column message printed /etc/passwd's first line."""
    code, out, err = _plan_with_prices(Path("/etc/passwd"), capsys)
    assert_clear_error(code, out, err, "/etc/passwd")
    assert "root" not in err and "root" not in out


@pytest.mark.parametrize("name", ["config", "tariff"])
def test_binary_config_and_tariff_files_exit_2(tmp_path: Path, name: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """5: config and tariff files that are not UTF-8 text."""
    path = tmp_path / f"{name}.toml"
    path.write_bytes(b'name = "Tarif \xe9t\xe9"\n')
    args = ["check-config", "--config", str(path)] if name == "config" else [
        *[a for a in CONTRACT if a not in ("--prices", str(PRICES))], "--tariff", str(path)]
    code, out, err = run([*args, "--json"], capsys)
    assert_clear_error(code, out, err, f"{name}.toml: not UTF-8 text")


def test_more_fields_than_the_header_is_an_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """6: a decimal comma (`...Z,0,30`) was read as price 0 with exit 0 and cost 0.00."""
    path = tmp_path / "prices.csv"
    rows = [f"2024-03-05T{h:02d}:00:00Z,0,{30 + h}" for h in range(17, 24)]
    path.write_text("start,price\n" + "\n".join(rows) + "\n")
    code, out, err = _plan_with_prices(path, capsys)
    assert_clear_error(code, out, err, "prices.csv:2: 3 fields but the header has 2")


# --------------------------------------------------------------------------- 7. config types


def _shipped() -> dict[str, Any]:
    return tomllib.loads(CONFIG.read_text())


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("planner.min_run_minutes", "30", "planner.min_run_minutes"),
        ("chargers.0.phases", 2, "chargers[0].phases"),
        ("chargers.0.phases", True, "chargers[0].phases"),
        ("vehicles.0.capacity_kwh", "64.7", "vehicles[0].capacity_kwh"),
        ("vehicles.0.target_soc_pct", True, "vehicles[0].target_soc_pct"),
        ("vehicles.0.departures.mon", 730, "vehicles[0].departures: mon"),
    ],
)
def test_config_types_are_strict(path: str, value: Any, where: str) -> None:
    """7: `"30"` became 30, `phases = 2` passed and `true` became one phase."""
    data = _shipped()
    node: Any = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    with pytest.raises(ConfigError, match=re.escape(where)):
        parse_config(data, "config.toml")


def test_a_planning_only_config_is_valid(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """7/12: no [[chargers]]: check-config passes and plan takes --max-power."""
    text = CONFIG.read_text().split("[[chargers]]")[0].replace('charger = "garage"\n', "")
    text = text.replace('"tariffs/de_dynamic.toml"', f'"{REPO / "tariffs" / "de_dynamic.toml"}"')
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert load_config(path).chargers == []
    code, out, _ = run(["check-config", "--config", str(path), "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, err = run(["plan", "--config", str(path), "--now", NOW, "--soc", "30", "--json"],
                         capsys)
    assert_clear_error(code, out, err, "--max-power")
    code, out, _ = run(["plan", "--config", str(path), "--now", NOW, "--soc", "30",
                        "--max-power", "7.4", "--json"], capsys)
    assert code == 0 and json.loads(out)["feasible"] is True


# --------------------------------------------------------------------------- 12. no prices


def test_no_published_price_plans_as_early_as_possible(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """12: the shipped config on a day without prices scattered slots at 0.0000."""
    now = "2026-03-05T18:00:00+01:00"
    code, out, _ = run(["plan", "--config", str(CONFIG), "--now", now, "--soc", "30", "--json"],
                       capsys)
    assert code == 0
    result = json.loads(out)
    assert "as early as possible" in result["reason"]
    slots = result["slots"]
    assert slots[0]["start"] == datetime.fromisoformat(now).isoformat()
    for before, after in pairwise(slots):
        assert before["end"] == after["start"]  # one block from now, no gaps


def test_unknown_price_plan_says_why_it_starts_when_it_does(capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    """12: with --unknown-price, the reason (and the table) explain the start."""
    args = ["plan", "--config", str(CONFIG), "--now", "2024-12-31T18:00:00+01:00",
            "--departure", "2025-01-01T07:30:00+01:00", "--soc", "30", "--unknown-price", "0.05"]
    code, out, _ = run([*args, "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert "no price is published from 2025-01-01T01:00+01:00" in result["reason"]
    assert "fallback price 0.0500" in result["reason"]
    fallback = [s for s in result["slots"] if s.get("provisional")]
    assert fallback[0]["start"] == "2025-01-01T01:00:00+01:00"  # the earliest unpriced slot
    assert all(a["end"] == b["start"] for a, b in pairwise(fallback))  # no scattering
    code, text, _ = run(args, capsys)
    assert "note: no price is published from" in text and "fallback price 0.0500" in text


# --------------------------------------------------------------------------- 14. one of each


def test_planner_defaults_are_defined_once() -> None:
    """14: PlannerConfig's defaults are PlanOptions', and 0.9 is the one default efficiency."""
    from optimizer.planner import DEFAULT_EFFICIENCY

    options = PlanOptions()
    planner = PlannerConfig()
    assert planner.min_run_minutes == options.min_run_minutes
    assert planner.start_penalty == options.start_penalty
    assert planner.buffer_minutes == options.buffer_minutes
    assert planner.opportunistic_price_cap == options.opportunistic_price_cap
    assert planner.unknown_price is options.unknown_price
    assert VehicleConfig.model_fields["efficiency"].default == DEFAULT_EFFICIENCY


def test_the_wall_clock_is_the_one_clock() -> None:
    """14: one `Clock` protocol with one wall-clock implementation, aware and in UTC."""
    from optimizer.ports import Clock, WallClock

    clock: Clock = WallClock()
    before = datetime.now().astimezone()
    now = clock.now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - before) < timedelta(seconds=5)


def test_readme_links_stay_inside_the_repository() -> None:
    """12: the README linked ../shared/..., which a user's clone does not have."""
    text = (REPO / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert local
    for target in local:
        path = (REPO / target).resolve()
        assert path.is_relative_to(REPO), target
        assert path.exists(), target
    assert "../shared" not in text
