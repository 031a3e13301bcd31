"""`ev-optimizer estimate`: the output contract, checked from outside (a real subprocess)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.soc_traces import build_trace
from optimizer.store import SqliteStore


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", "estimate", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    trace = build_trace(sessions_per_car=2, seed=7)
    folder = tmp_path_factory.mktemp("estimate")
    jsonl = folder / "stream.jsonl"
    jsonl.write_text("\n".join(trace.jsonl_lines()) + "\n")
    vin = trace.cars[1].vin
    meter = folder / "meter.csv"
    meter.write_text("time,energy_kwh\n" + "".join(
        f"{datetime.fromtimestamp(t, UTC).isoformat()},{e}\n" for t, e in trace.meter[vin]))
    return jsonl, meter, [car.vin for car in trace.cars]


def test_json_lines_every_interval_for_every_vin(stream: tuple[Path, Path, list[str]]) -> None:
    jsonl, meter, vins = stream
    result = _cli("--stream", str(jsonl), "--meter", str(meter), "--every", "600", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["vin"] for row in rows} == set(vins)
    for row in rows:
        assert set(row) == {"time", "vin", "soc_pct", "soc_low_pct", "soc_high_pct"}
        assert row["soc_low_pct"] <= row["soc_pct"] <= row["soc_high_pct"]
    times = sorted({datetime.fromisoformat(row["time"]) for row in rows})
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert steps == {600.0}
    first = json.loads(jsonl.read_text().splitlines()[0])["timestamp"]
    assert times[0] == datetime.fromisoformat(first).replace(microsecond=0)


def test_learning_is_saved_and_reloaded(stream: tuple[Path, Path, list[str]],
                                        tmp_path: Path) -> None:
    jsonl, _, vins = stream
    store_path = tmp_path / "learned.sqlite"
    assert _cli("--stream", str(jsonl), "--every", "3600", "--store", str(store_path),
                "--json").returncode == 0
    with SqliteStore(store_path) as store:
        saved = [store.load(f"soc/learned/{vin}") for vin in vins]
    assert all(isinstance(doc, dict) and doc["version"] == 1 for doc in saved)
    assert any(doc["efficiency"] for doc in saved if isinstance(doc, dict))


def test_bad_lines_are_skipped_and_named(tmp_path: Path,
                                         stream: tuple[Path, Path, list[str]]) -> None:
    jsonl, _, _ = stream
    lines = jsonl.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([lines[0], "{not json", *lines[1:20]]) + "\n")
    result = _cli("--stream", str(broken), "--json")
    assert result.returncode == 0
    assert "line 2" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--stream", "/nonexistent.jsonl"], "/nonexistent.jsonl"),
    (["--stream", "{jsonl}", "--every", "0"], "--every"),
    (["--stream", "{jsonl}", "--capacity", "-3"], "--capacity"),
    (["--stream", "{jsonl}", "--meter", "{bad_meter}"], "line 2"),
])
def test_user_errors_exit_2_with_the_culprit(tmp_path: Path, args: list[str], message: str,
                                             stream: tuple[Path, Path, list[str]]) -> None:
    bad_meter = tmp_path / "meter.csv"
    bad_meter.write_text("time,energy_kwh\n2026-01-01T09:00:00,12.5\n")  # no UTC offset
    filled = [a.format(jsonl=stream[0], bad_meter=bad_meter) for a in args]
    result = _cli(*filled, "--json")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
