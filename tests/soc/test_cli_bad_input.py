"""`estimate` and `stream --replay` on files a person might hand them by mistake, through the
real CLI in a subprocess: each gets exit 2 and one line naming the file (and line) and what is
wrong, never the file's content, or a correct answer whose `--json` is valid JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.cardata.recording import MAX_LINE_BYTES
from optimizer.soc.replay import MAX_TICKS
from tests.cli_contract import assert_error_stdout

SAMPLE = Path(__file__).resolve().parents[2] / "optimizer" / "sim" / "data" / "sample_stream.jsonl"
SECRET = "root:x:0:0:SECRET-CONTENT:/root:/bin/bash"


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], capture_output=True,
                          text=True, timeout=timeout)


def strict_json(line: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")
    return json.loads(line, parse_constant=refuse)


def one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert_error_stdout(result.stdout, result.stderr, "--json" in result.args)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    for part in parts:
        assert part in result.stderr, (part, result.stderr)
    return result.stderr


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_the_shipped_sample_estimates_a_whole_charge() -> None:
    result = _run("estimate", "--stream", str(SAMPLE), "--every", "60", "--json")
    assert result.returncode == 0, result.stderr
    rows = [strict_json(line) for line in result.stdout.splitlines()]
    assert rows and all(isinstance(r, dict) for r in rows)
    socs = [r["soc_pct"] for r in rows if isinstance(r, dict)]
    assert socs == sorted(socs) and socs[0] >= 35 and socs[-1] == 80.0


@pytest.mark.parametrize("every", ["0.001", "0", "-5", "nan", "inf", "1e9"])
def test_every_is_bounded(every: str) -> None:
    one_line_error(_run("estimate", "--stream", str(SAMPLE), "--every", every, "--json"),
                   "--every must be between 1 and 86400 seconds")


@pytest.mark.parametrize("command", [["estimate", "--stream"], ["stream", "--replay"]])
@pytest.mark.parametrize("kind", ["latin1", "binary", "passwd", "empty", "year9999",
                                  "nan_values"])
def test_files_that_are_not_recordings_exit_2(tmp_path: Path, command: list[str],
                                              kind: str) -> None:
    path = tmp_path / f"{kind}.jsonl"
    first = sample_lines()[3]
    if kind == "latin1":
        path.write_bytes(first.replace("WBA", "WBÄ").encode("latin-1") + b"\n")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "passwd":
        path.write_text(SECRET + "\n")
    elif kind == "empty":
        path.write_text("\n\n")
    elif kind == "year9999":
        path.write_text("\n".join(line.replace("2026-", "9999-") for line in sample_lines()))
    else:
        path.write_text(first.replace('"value": 35.0', '"value": NaN').replace(
            '"timestamp": "2026-01-15T17:31:20.000Z"', '"timestamp": NaN') + "\n")
    message = one_line_error(_run(*command, str(path), "--json"), str(path))
    assert SECRET not in message and "SECRET" not in message
    if kind == "latin1":
        assert "line 1: not UTF-8 text" in message
    if kind == "year9999":
        assert "line 1" in message and "years 2000-2099" in message


def test_a_line_too_long_to_be_a_message_ends_the_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    path.write_bytes(sample_lines()[0].encode() + b"\n" + b"0" * (MAX_LINE_BYTES + 10))
    one_line_error(_run("estimate", "--stream", str(path), "--json"), f"{path} line 2: longer")
    one_line_error(_run("estimate", "--stream", "/dev/zero", "--json", timeout=30),
                   "/dev/zero line 1: longer")


def test_a_timestamp_far_after_the_rest_is_named_not_run(tmp_path: Path) -> None:
    lines = sample_lines()
    far = lines[5].replace("2026-01-15", "2099-01-15")
    path = tmp_path / "far.jsonl"
    path.write_text("\n".join([*lines[:5], far]) + "\n")
    result = _run("estimate", "--stream", str(path), "--every", "1", "--json", timeout=120)
    assert result.returncode == 2
    err = result.stderr
    assert err.count("\n") == 1 and f"stream file {path} line 6: its time is" in err
    assert f"more than {MAX_TICKS:,} estimates per car" in err
    for line in result.stdout.splitlines():  # what was printed before stays valid JSON
        strict_json(line)


def test_good_and_bad_lines_mix_with_a_warning_that_quotes_nothing(tmp_path: Path) -> None:
    lines = sample_lines()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes("\n".join(lines[:4]).encode() + b"\n" + SECRET.encode() + b"\n\xff\xfe\n"
                     + "\n".join(lines[4:]).encode() + b"\n")
    result = _run("estimate", "--stream", str(path), "--every", "900", "--json")
    assert result.returncode == 0, result.stderr
    assert "skipped 2 line(s)" in result.stderr and "line 5, 6" in result.stderr
    assert "SECRET" not in result.stderr
    assert all(isinstance(strict_json(line), dict) for line in result.stdout.splitlines())
    replay = _run("stream", "--replay", str(path), "--json")
    assert replay.returncode == 0, replay.stderr
    assert [strict_json(line) for line in replay.stdout.splitlines()]
    assert replay.stderr.count("warning: skipped invalid message") == 2
    assert "SECRET" not in replay.stderr


def _meter(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "meter.csv"
    path.write_bytes(body)
    return path


@pytest.mark.parametrize("body, expected", [
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,12,5\n", "line 2: 2 fields expected"),
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,nan\n", "line 2: energy_kwh must be"),
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,inf\n", "line 2: energy_kwh must be"),
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,-3\n", "line 2: energy_kwh must be"),
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,abc\n", "line 2: energy_kwh is not a"),
    (b"time,energy_kwh\n9999-12-31T23:59:59Z,1\n", "line 2: time must be ISO 8601"),
    (b"time,energy_kwh\n0001-01-01T00:00:00+05:00,1\n", "line 2: time must be"),
    (b"time,energy_kwh\n2026-01-15T17:40:00,1\n", "line 2: time must be ISO 8601"),
    ("time,energy_kwh\n2026-01-15T17:40:00Z,1\n2026-01-15T18:00:00Z,\xe9\n".encode("latin-1"),
     "line 3: not UTF-8 text"),
    (b"\x00\x01\x02\xff" * 100, "not UTF-8 text"),
    (b"time,energy_kwh\n" + b"1" * 200_000 + b",1\n", "line 2: not a CSV row (field larger"),
    (b"time,energy_kwh\n2026-01-15T17:40:00Z,1\x00\n", "line 2: energy_kwh is not a number"),
    (SECRET.encode() + b"\n", "the first line must be the header 'time,energy_kwh'"),
])
def test_bad_meter_files_exit_2_naming_the_line(tmp_path: Path, body: bytes,
                                                expected: str) -> None:
    meter = _meter(tmp_path, body)
    message = one_line_error(_run("estimate", "--stream", str(SAMPLE), "--meter", str(meter),
                                  "--json"), f"meter file {meter}", expected)
    assert "SECRET" not in message and "root:x" not in message


def test_replay_with_no_valid_message_exits_2_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_text("{not json\n" * 500)
    message = one_line_error(_run("stream", "--replay", str(path), "--json"),
                             f"replay file {path}: no valid CarData message in it (500 invalid")
    assert "{not json" not in message
