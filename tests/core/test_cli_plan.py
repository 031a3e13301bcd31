"""`ev-optimizer plan`: the JSON contract, the batch mode, the text output and bad input."""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from optimizer.cli import main
from optimizer.commands import plan as plan_command

REPO = Path(__file__).resolve().parents[2]
PRICES = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
CONTRACT = [
    "plan", "--prices", str(PRICES), "--now", "2024-03-05T18:00:00+01:00",
    "--departure", "2024-03-06T07:30:00+01:00", "--soc", "30", "--target", "80",
    "--capacity", "76.4", "--max-power", "11",
]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_contract(result: dict[str, Any], now: str, departure: str, min_kw: float,
                    max_kw: float) -> None:
    assert set(result) >= {"feasible", "reason", "energy_kwh", "cost", "soc_at_departure_pct",
                           "slots"}
    start, end = datetime.fromisoformat(now), datetime.fromisoformat(departure)
    total = 0.0
    for slot in result["slots"]:
        a, b = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert start <= a < b <= end
        assert slot["power_kw"] > 0
        assert min_kw - 1e-9 <= slot["power_kw"] <= max_kw + 1e-9
        hours = (b - a) / timedelta(hours=1)
        assert slot["energy_kwh"] == pytest.approx(slot["power_kw"] * hours)
        total += slot["energy_kwh"]
    assert result["energy_kwh"] == pytest.approx(total)
    assert result["cost"] == pytest.approx(sum(s["energy_kwh"] * s["price"]
                                               for s in result["slots"]))


def test_contract_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*CONTRACT, "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    _check_contract(result, CONTRACT[4], CONTRACT[6], 0.0, 11.0)
    assert result["feasible"] is True and result["reason"] is None
    assert result["soc_at_departure_pct"] == pytest.approx(80.0)
    assert result["energy_kwh"] == pytest.approx(50 / 100 * 76.4 / 0.9)


def test_contract_json_with_min_power_and_efficiency(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*CONTRACT, "--min-power", "4.1", "--efficiency", "0.85", "--json"],
                        capsys)
    assert code == 0
    result = json.loads(out)
    _check_contract(result, CONTRACT[4], CONTRACT[6], 4.1, 11.0)
    assert result["energy_kwh"] >= 50 / 100 * 76.4 / 0.85 - 1e-6


def test_text_output_has_table_and_chart(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(CONTRACT, capsys)
    assert code == 0
    assert "feasible" in out and "power kW" in out and "# = charging" in out


def test_config_and_tariff(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["plan", "--config", str(REPO / "config.toml"), "--now",
                         "2024-03-05T18:00:00+01:00", "--soc", "30", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["feasible"] is True
    _check_contract(result, "2024-03-05T18:00:00+01:00", "2024-03-06T07:30:00+01:00",
                    4.14, 11.04)
    assert datetime.fromisoformat(result["slots"][-1]["end"]) <= datetime.fromisoformat(
        "2024-03-06T07:00:00+01:00")  # the config's 30-minute buffer


def test_tariff_flag(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a for a in CONTRACT if a not in ("--prices", str(PRICES))]
    code, out, _ = _run([*args, "--tariff", str(REPO / "tariffs" / "uk_octopus_go.toml"),
                         "--json"], capsys)
    assert code == 0
    assert {s["price"] for s in json.loads(out)["slots"]} <= {0.085, 0.245}


def test_batch_keeps_order_and_reports_bad_lines(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = {"prices": str(PRICES), "now": "2024-03-05T18:00:00+01:00",
            "departure": "2024-03-06T07:30:00+01:00", "soc": 30, "target": 80,
            "capacity": 76.4, "max_power": 11}
    lines = [
        json.dumps(base),
        json.dumps({**base, "soc": 70, "min_power": 4.1}),
        json.dumps({**base, "soc": "thirty"}),
        "not json",
        json.dumps({**base, "target": 100, "departure": "2024-03-05T19:00:00+01:00"}),
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    code, out, err = _run(["plan", "--batch", str(batch)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 5
    assert results[0]["feasible"] and results[1]["feasible"]
    assert results[0]["energy_kwh"] > results[1]["energy_kwh"]
    assert "soc: 'thirty' is not a number" in results[2]["error"]
    assert "not valid JSON" in results[3]["error"]
    assert results[4]["feasible"] is False
    assert code == 2 and "2 of the batch lines failed" in err


def test_batch_matches_single_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = {"prices": str(PRICES), "now": "2024-07-01T12:07:00+02:00",
            "departure": "2024-07-02T06:00:00+02:00", "soc": 15, "target": 90,
            "capacity": 64.7, "max_power": 7.4, "min_power": 1.4, "efficiency": 0.88}
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(item) + "\n")
    _, out_batch, _ = _run(["plan", "--batch", str(batch)], capsys)
    _, out_single, _ = _run(["plan", "--prices", str(PRICES), "--now", item["now"],
                             "--departure", item["departure"], "--soc", "15", "--target", "90",
                             "--capacity", "64.7", "--max-power", "7.4", "--min-power", "1.4",
                             "--efficiency", "0.88", "--json"], capsys)
    assert json.loads(out_batch) == json.loads(out_single)


def _cycles_left_by_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            lines: list[str]) -> int:
    batch = tmp_path / f"cycles-{len(lines)}.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    gc.collect()
    gc.disable()  # as the batch itself does; and so that nothing is collected before we look
    try:
        _run(["plan", "--batch", str(batch)], capsys)
        assert not gc.isenabled()  # the batch gives the collector back as it found it
        return gc.collect()
    finally:
        gc.enable()


def test_a_batch_leaves_no_reference_cycles(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --batch` runs without the cyclic collector: that is only sound while a line,
    planned or refused, leaves nothing that reference counting cannot free."""
    base = {"prices": str(PRICES), "now": "2024-03-05T18:07:00+01:00",
            "departure": "2024-03-06T07:30:00+01:00", "soc": 30, "target": 80,
            "capacity": 76.4, "max_power": 11}
    kinds = [json.dumps(base), json.dumps({**base, "min_power": 4.1, "buffer": 30}),
             json.dumps({**base, "taper": "80:11,100:2", "min_soc": 40}),
             json.dumps({**base, "soc": "thirty"}), "not json"]
    few = _cycles_left_by_a_batch(tmp_path, capsys, kinds)
    many = _cycles_left_by_a_batch(tmp_path, capsys, kinds * 40)
    assert many <= few + 10, (few, many)


class _Recorder(io.StringIO):
    """stdout that counts how often it is flushed, and what it held at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[int] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue().count("\n"))


@pytest.mark.parametrize(("seconds_per_line", "expected"), [(0.6, [1, 2, 3]), (0.0, [])])
def test_a_slow_batch_shows_each_line_as_it_is_planned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds_per_line: float,
        expected: list[int]) -> None:
    """A batch of slow (MILP) lines reaches a reader on a pipe line by line; a fast one is
    written in blocks (flushed at exit), not with one system call per line."""
    base = {"prices": str(PRICES), "now": "2024-03-05T18:00:00+01:00",
            "departure": "2024-03-06T07:30:00+01:00", "soc": 30, "target": 80,
            "capacity": 76.4, "max_power": 11}
    batch = tmp_path / "slow.jsonl"
    batch.write_text("\n".join(json.dumps({**base, "soc": soc}) for soc in (10, 20, 30)) + "\n")
    clock = iter(range(100))
    monkeypatch.setattr(plan_command.time, "monotonic", lambda: next(clock) * seconds_per_line)
    out = _Recorder()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["plan", "--batch", str(batch)]) == 0
    assert out.getvalue().count("\n") == 3
    assert out.flushed == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--soc", "130"], "argument --soc: '130' is out of range; use a number from 0 to 100 %"),
        (["--min-power", "12"], "min_power: 12 is not valid"),
        (["--now", "tomorrow"], "now: 'tomorrow' is not an ISO 8601 time"),
        (["--departure", "2024-03-06T07:30:00"], "departure: '2024-03-06T07:30:00' has no UTC"),
        (["--taper", "80-11"], "taper: '80-11' is not SOC:KW"),
    ],
)
def test_bad_flags_exit_2_with_a_message(extra: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*CONTRACT, *extra], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_inputs_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["plan", "--prices", str(PRICES), "--now", CONTRACT[4], "--departure",
                         CONTRACT[6], "--soc", "30", "--target", "80", "--max-power", "11"],
                        capsys)
    assert code == 2 and "missing --capacity" in err


def test_bad_price_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("start,cost\n2024-03-05T18:00:00+01:00,0.3\n")
    args = list(CONTRACT)
    args[args.index(str(PRICES))] = str(bad)
    code, _, err = _run(args, capsys)
    assert code == 2 and "missing column 'price'" in err


def test_console_script_and_module_entry_point() -> None:
    for command in ([str(Path(sys.executable).parent / "ev-optimizer")],
                    [sys.executable, "-m", "optimizer"]):
        done = subprocess.run([*command, *CONTRACT, "--json"], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["feasible"] is True


def test_reader_going_away_is_not_an_error(tmp_path: Path) -> None:
    """`ev-optimizer plan --batch big.jsonl | head -1` ends quietly, without a traceback."""
    item = {"prices": str(PRICES), "now": CONTRACT[4], "departure": CONTRACT[6], "soc": 30,
            "target": 80, "capacity": 76.4, "max_power": 11}
    batch = tmp_path / "big.jsonl"
    batch.write_text((json.dumps(item) + "\n") * 400)  # far more than a pipe buffer holds
    process = subprocess.Popen([sys.executable, "-m", "optimizer", "plan", "--batch", str(batch)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["feasible"] is True
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert stderr == ""
