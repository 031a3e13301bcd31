"""Bad-input probe: feeds `ev-optimizer plan` and `check-config` malformed and absurd input
through the real CLI (one subprocess each, with a timeout) and tabulates what happened.

Every case expects either a clear error (exit 2, exactly one line on stderr that names the
culprit, and with `--json` a JSON error object on stdout) or a correct answer (exit 0, a plan
whose slots lie between now and departure within the charger's power). Anything else is
counted as wrong; tracebacks, "unexpected" (the CLI's last-resort message) and hangs are
counted on their own.

Run: .venv/bin/python bench/probe_cli.py [--timeout 20] [--show wrong|all]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PRICES = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"
TARIFF = REPO / "tariffs" / "de_dynamic.toml"
CONFIG = REPO / "config.toml"
NOW = "2024-03-05T18:00:00+01:00"
DEPARTURE = "2024-03-06T07:30:00+01:00"
FLAGS = {
    "--now": NOW, "--departure": DEPARTURE, "--soc": "30", "--target": "80",
    "--capacity": "76.4", "--max-power": "11",
}
GOOD_LINE = {"prices": str(PRICES), "now": NOW, "departure": DEPARTURE, "soc": 30,
             "target": 80, "capacity": 76.4, "max_power": 11}

ERROR, ANSWER = "error", "answer"


@dataclass
class Case:
    group: str
    name: str
    args: list[str]
    expect: str
    culprit: str = ""
    """A piece of text the one-line error must contain (a flag, a key, a file name)."""
    batch_lines: int = 0
    """For `--batch` cases: how many result lines stdout must have."""
    check: Callable[[Any], bool] | None = field(default=None, repr=False)


def plan_flags(**changes: str | None) -> list[str]:
    """`plan` with the contract flags, some changed (`None` drops one)."""
    flags = dict(FLAGS)
    for key, value in changes.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            flags.pop(flag, None)
        else:
            flags[flag] = value
    return ["plan", *[part for item in flags.items() for part in item]]


def valid_plan(result: Any, max_kw: float = 11.0) -> bool:
    """The JSON contract holds and the plan respects time and power."""
    if not isinstance(result, dict) or "error" in result:
        return False
    if not {"feasible", "reason", "energy_kwh", "cost", "soc_at_departure_pct",
            "slots"} <= set(result):
        return False
    total = 0.0
    for slot in result["slots"]:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        if not (start < end and 0 < slot["power_kw"] <= max_kw + 1e-6):
            return False
        total += slot["energy_kwh"]
    return abs(total - result["energy_kwh"]) < 1e-6


def _write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def _hourly(rows: int = 30, start: str = "2024-03-05T17:00:00+00:00", sep: str = ",") -> str:
    t0 = datetime.fromisoformat(start)
    lines = [f"start{sep}price"]
    lines += [f"{(t0 + timedelta(hours=i)).isoformat()}{sep}0.{10 + i % 20}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def price_cases(d: Path) -> list[Case]:
    good = _hourly()
    files: dict[str, tuple[str | bytes, str]] = {
        "empty file": (b"", ERROR),
        "header only": ("start,price\n", ERROR),
        "whitespace only": ("   \n\n", ERROR),
        "Latin-1 text": ("start,price\n2024-03-05T17:00:00Z,0.30 €\n".encode("latin-1",
                                                                           "replace")
                         .replace(b"?", b"\xa4"), ERROR),
        "binary (PNG header)": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
                                ERROR),
        "NUL bytes": ("start,price\n2024-03-05T17:00:00Z,0.3\x00\n", ERROR),
        "UTF-16 with BOM": (good.encode("utf-16"), ERROR),
        "gzip": (b"\x1f\x8b\x08\x00" + os.urandom(64), ERROR),
        "decimal comma (…Z,0,30)": (good.replace(",0.", ",0,"), ERROR),
        "fewer fields than header": ("start,price,end\n2024-03-05T17:00:00Z,0.3\n"
                                     "2024-03-05T18:00:00Z\n", ERROR),
        "missing price column": (good.replace("start,price", "start,cost"), ERROR),
        "missing start column": (good.replace("start,price", "time,price"), ERROR),
        "semicolon separated": (_hourly(sep=";"), ERROR),
        "duplicate timestamps": (good + good.splitlines()[-1] + "\n", ERROR),
        "unsorted rows": ("start,price\n" + "\n".join(reversed(good.splitlines()[1:])) + "\n",
                          ERROR),
        "naive timestamps": (good.replace("+00:00", ""), ERROR),
        "year 9999": ("start,price\n9999-12-31T23:00:00+00:00,0.3\n", ERROR),
        "year 0001": ("start,price\n0001-01-01T00:00:00+00:00,0.3\n", ERROR),
        "field over 128 KiB": ("start,price\n2024-03-05T17:00:00Z," + "9" * 140_000 + "\n",
                               ERROR),
        "price nan": (good.replace("0.15", "nan"), ERROR),
        "price inf": (good.replace("0.15", "inf"), ERROR),
        "price 1e400": (good.replace("0.15", "1e400"), ERROR),
        "price 1e300": (good.replace("0.15", "1e300"), ERROR),
        "price text": (good.replace("0.15", "cheap"), ERROR),
        "end before start": ("start,price,end\n2024-03-05T17:00:00Z,0.3,2024-03-05T16:00:00Z\n",
                             ERROR),
        "overlapping end": ("start,price,end\n2024-03-05T17:00:00Z,0.3,2024-03-05T19:00:00Z\n"
                            "2024-03-05T18:00:00Z,0.3,2024-03-05T20:00:00Z\n", ERROR),
        "JSON instead of CSV": ('{"start": "2024-03-05T17:00:00Z", "price": 0.3}\n', ERROR),
        "one long line, no commas": ("x" * 200_000 + "\n", ERROR),
        "BOM": ("\ufeff" + good, ANSWER),
        "CRLF": (good.replace("\n", "\r\n"), ANSWER),
        "Z offsets": (good.replace("+00:00", "Z"), ANSWER),
        "prices end before departure": (_hourly(rows=5), ANSWER),
        "negative prices": (good.replace(",0.", ",-0."), ANSWER),
        "quoted fields": ('"start","price"\n' + "\n".join(
            f'"{a}","{b}"' for a, b in (line.split(",") for line in good.splitlines()[1:]))
            + "\n", ANSWER),
    }
    cases = []
    for index, (name, (content, expect)) in enumerate(files.items()):
        path = _write(d, f"prices{index}.csv", content)
        cases.append(Case("prices CSV", name, [*plan_flags(), "--prices", str(path), "--json"],
                          expect, culprit=path.name, check=valid_plan))
    for name, path in (("directory", d), ("missing file", d / "nope.csv"),
                       ("/etc/passwd", Path("/etc/passwd"))):
        cases.append(Case("prices CSV", name, [*plan_flags(), "--prices", str(path), "--json"],
                          ERROR, culprit=str(path)))
    return cases


def flag_cases() -> list[Case]:
    p = ["--prices", str(PRICES), "--json"]
    bad = {
        "soc": ["150", "-5", "nan", "inf", "abc", ""],
        "target": ["101", "-1", "nan"],
        "capacity": ["-1", "0", "inf", "1e400", "1e9"],
        "max_power": ["inf", "0", "-3", "1e9", "nan"],
        "min_power": ["-1", "12", "nan"],
        "efficiency": ["0", "1.5", "nan", "-0.9"],
        "min_run": ["-30", "1e400", "30.5", "100000"],
        "start_penalty": ["-1", "inf", "nan"],
        "buffer": ["-600", "100000", "inf"],
        "min_soc": ["150", "-1"],
        "opportunistic_limit": ["150", "0", "nan"],
        "price_cap": ["nan", "inf"],
        "unknown_price": ["nan", "inf", "-inf", "1e400"],
        "taper": ["123", "80:inf", "abc", "80:11,100:20", "150:11", "80:nan", "80:-5"],
        "now": ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:00+00:00", "0001-01-01",
                "2024-03-05T18:00:00", "yesterday", ""],
        "departure": ["2024-03-05T17:00:00+01:00", NOW, "9999-12-31T23:00:00+00:00",
                      "2024-03-30T07:30:00+01:00", "2024-03-06T07:30:00", "soon"],
        "mode": ["fastest"],
    }
    cases = []
    for key, values in bad.items():
        flag = "--" + key.replace("_", "-")
        for value in values:
            args = [*plan_flags(), flag, value, *p]
            cases.append(Case("plan flags", f"{flag} {value!r}", args, ERROR, culprit=flag[2:]))
    good = {
        "target below SoC": [*plan_flags(target="20"), *p],
        "min_run 30 (MILP path)": [*plan_flags(), "--min-run", "30", *p],
        "block mode + min power": [*plan_flags(), "--mode", "block", "--min-power", "4.1", *p],
        "taper": [*plan_flags(), "--taper", "80:11,100:2", *p],
        "unreachable target": [*plan_flags(departure="2024-03-05T19:00:00+01:00"), *p],
        "14 days ahead": [*plan_flags(departure="2024-03-19T18:00:00+01:00"), *p],
        "past the published prices, --unknown-price": [
            *plan_flags(now="2024-12-31T18:00:00+01:00", departure="2025-01-01T07:30:00+01:00"),
            "--unknown-price", "0.3", *p],
        "no published price at all": [
            *plan_flags(now="2026-03-05T18:00:00+01:00", departure="2026-03-06T07:30:00+01:00"),
            "--min-run", "30", *p],
        "now in Z": [*plan_flags(now="2024-03-05T17:00:00Z"), *p],
    }
    cases += [Case("plan flags", name, args, ANSWER, check=valid_plan)
              for name, args in good.items()]
    return cases


def tariff_cases(d: Path) -> list[Case]:
    base = TARIFF.read_text()
    spot = f'[spot]\ncsv = "{PRICES}"\nunit = "EUR/kWh"\n'
    dynamic = base.split("[spot]")[0]
    files: dict[str, tuple[str | bytes, str, str]] = {
        "binary": (bytes(range(256)) * 4, ERROR, ""),
        "Latin-1": ("name = \"Tarif \xe9t\xe9\"\nkind = \"fixed\"\nprice = 0.3\n".encode(
            "latin-1"), ERROR, ""),
        "empty": ("", ERROR, "name"),
        "not TOML": ("this is not toml\n", ERROR, "TOML"),
        "price = inf": ('name = "x"\nkind = "fixed"\nprice = inf\n', ERROR, "price"),
        "price = nan": ('name = "x"\nkind = "fixed"\nprice = nan\n', ERROR, "price"),
        "price = \"0.3\"": ('name = "x"\nkind = "fixed"\nprice = "0.3"\n', ERROR, "price"),
        "vat_pct = 200": (dynamic.replace("vat_pct = 19", "vat_pct = 200") + spot, ERROR,
                          "vat_pct"),
        "markup = -inf": (dynamic.replace("markup_per_kwh = 0.0215", "markup_per_kwh = -inf")
                          + spot, ERROR, "markup_per_kwh"),
        "spot csv = /etc/passwd": (dynamic + '[spot]\ncsv = "/etc/passwd"\n', ERROR,
                                   "/etc/passwd"),
        "spot csv missing": (dynamic + '[spot]\ncsv = "nope.csv"\n', ERROR, "nope.csv"),
        "spot csv is a directory": (dynamic + f'[spot]\ncsv = "{d}"\n', ERROR, str(d)),
        "unknown kind": ('name = "x"\nkind = "magic"\nprice = 0.3\n', ERROR, "kind"),
        "zone hours 25:00": ('name = "x"\nkind = "fixed"\nprice = 0.3\n[[zones]]\nprice = 0.1\n'
                             'hours = "25:00-26:00"\n', ERROR, "hours"),
        "fixed tariff": ('name = "x"\nkind = "fixed"\nprice = 0.3\n', ANSWER, ""),
    }
    cases = []
    for index, (name, (content, expect, culprit)) in enumerate(files.items()):
        path = _write(d, f"tariff{index}.toml", content)
        cases.append(Case("tariff TOML", name, [*plan_flags(), "--tariff", str(path), "--json"],
                          expect, culprit=culprit or path.name, check=valid_plan))
    for name, path in (("directory", d), ("missing file", d / "nope.toml")):
        cases.append(Case("tariff TOML", name, [*plan_flags(), "--tariff", str(path), "--json"],
                          ERROR, culprit=str(path)))
    return cases


def config_cases(d: Path) -> list[Case]:
    base = CONFIG.read_text().replace('tariff = "tariffs/de_dynamic.toml"',
                                      f'tariff = "{TARIFF}"')
    planning_only = base.split("[[chargers]]")[0].replace('charger = "garage"\n', "")
    edits: dict[str, tuple[str | bytes, str, str]] = {
        'min_run_minutes = "30"': (base.replace("min_run_minutes = 30",
                                                'min_run_minutes = "30"'), ERROR,
                                   "min_run_minutes"),
        "min_run_minutes = 30.5": (base.replace("min_run_minutes = 30",
                                                "min_run_minutes = 30.5"), ERROR,
                                   "min_run_minutes"),
        "phases = 2": (base.replace("phases = 3", "phases = 2"), ERROR, "phases"),
        "phases = true": (base.replace("phases = 3", "phases = true"), ERROR, "phases"),
        "start_penalty = inf": (base.replace("# start_penalty = 0.05", "start_penalty = inf"),
                                ERROR, "start_penalty"),
        "opportunistic_price_cap = nan": (base.replace("# opportunistic_price_cap = 0.0",
                                                       "opportunistic_price_cap = nan"), ERROR,
                                          "opportunistic_price_cap"),
        "unknown_price = 1e400": (base.replace("# unknown_price = 0.35", "unknown_price = 1e400"),
                                  ERROR, "unknown_price"),
        "capacity_kwh = -5": (base.replace("capacity_kwh = 64.7", "capacity_kwh = -5"), ERROR,
                              "capacity_kwh"),
        "efficiency = nan": (base.replace("efficiency = 0.9", "efficiency = nan"), ERROR,
                             "efficiency"),
        "target_soc_pct = true": (base.replace("target_soc_pct = 80", "target_soc_pct = true"),
                                  ERROR, "target_soc_pct"),
        "max_current_a = 1e9": (base.replace("max_current_a = 16", "max_current_a = 1e9"), ERROR,
                                "max_current_a"),
        "departure mon = 730": (base.replace('mon = "07:30"', "mon = 730"), ERROR, "mon"),
        "timezone = 5": (base.replace('timezone = "Europe/Berlin"', "timezone = 5"), ERROR,
                         "timezone"),
        "unknown charger": (base.replace('charger = "garage"', 'charger = "carport"'), ERROR,
                            "carport"),
        "tariff is a directory": (base.replace(f'tariff = "{TARIFF}"', f'tariff = "{d}"'),
                                  ERROR, str(d)),
        "binary": (os.urandom(512), ERROR, ""),
        "Latin-1": (base.replace("Example", "Beispiel f\u00fcr").encode("latin-1", "replace"),
                    ERROR, ""),
        "empty": ("", ERROR, "vehicles"),
        "nested 10000 deep": ("a = " + "[" * 10000 + "]" * 10000 + "\n", ERROR, ""),
        "planning-only (no [[chargers]])": (planning_only, ANSWER, ""),
    }
    cases = []
    for index, (name, (content, expect, culprit)) in enumerate(edits.items()):
        path = _write(d, f"config{index}.toml", content)
        culprit = culprit or path.name
        if name.startswith("planning-only"):
            cases.append(Case("config", name, ["plan", "--config", str(path), "--now", NOW,
                                               "--soc", "30", "--max-power", "11", "--json"],
                              expect, check=valid_plan))
            cases.append(Case("config", name + ", check-config",
                              ["check-config", "--config", str(path), "--json"], expect,
                              check=lambda r: isinstance(r, dict) and r.get("ok") is True))
            continue
        cases.append(Case("config", name, ["check-config", "--config", str(path), "--json"],
                          expect, culprit=culprit))
        cases.append(Case("config", name + ", plan", ["plan", "--config", str(path), "--now",
                                                      NOW, "--soc", "30", "--json"],
                          expect, culprit=culprit))
    for name, path in (("directory", d), ("missing file", d / "nope.toml")):
        cases.append(Case("config", name, ["check-config", "--config", str(path), "--json"],
                          ERROR, culprit=str(path)))
    return cases


def batch_cases(d: Path) -> list[Case]:
    binary = _write(d, "binary.csv", bytes(range(256)) * 8)
    bad_lines: dict[str, tuple[str, str]] = {
        "capacity Infinity": ('"capacity": Infinity', "capacity"),
        "capacity -Infinity": ('"capacity": -Infinity', "capacity"),
        "soc NaN": ('"soc": NaN', "soc"),
        "min_run 1e400": ('"min_run": 1e400', "min_run"),
        "min_run 30.5": ('"min_run": 30.5', "min_run"),
        "taper 123": ('"taper": 123', "taper"),
        "taper list": ('"taper": [[80, 11]]', "taper"),
        "soc as string": ('"soc": "30"', "soc"),
        "soc true": ('"soc": true', "soc"),
        "soc 10**5000": ('"soc": 1' + "0" * 5000, "soc"),
        "max_power 1e9": ('"max_power": 1e9', "max_power"),
        "efficiency 0": ('"efficiency": 0', "efficiency"),
        "mode 5": ('"mode": 5', "mode"),
        "mode fastest": ('"mode": "fastest"', "mode"),
        "charging_now \"yes\"": ('"charging_now": "yes"', "charging_now"),
        "unknown key": ('"colour": "red"', "colour"),
        "now naive": ('"now": "2024-03-05T18:00:00"', "now"),
        "now year 1": ('"now": "0001-01-01T00:00:00+00:00"', "now"),
        "departure year 9999": ('"departure": "9999-12-31T23:00:00+00:00"', "departure"),
        "departure before now": ('"departure": "2024-03-05T12:00:00+01:00"', "departure"),
        "prices binary file": (f'"prices": {json.dumps(str(binary))}', binary.name),
        "prices a directory": (f'"prices": {json.dumps(str(d))}', str(d)),
        "prices /etc/passwd": ('"prices": "/etc/passwd"', "/etc/passwd"),
        "prices a number": ('"prices": 42', "prices"),
        "prices null": ('"prices": null', "prices"),
    }
    cases = []
    good = json.dumps(GOOD_LINE)
    for index, (name, (fragment, culprit)) in enumerate(bad_lines.items()):
        line = good[:-1] + ", " + fragment + "}"
        if fragment.split(":")[0].strip('"') in GOOD_LINE:
            key = fragment.split(":")[0].strip('"')
            item = dict(GOOD_LINE)
            item.pop(key)
            line = json.dumps(item)[:-1] + ", " + fragment + "}"
        path = _write(d, f"batch{index}.jsonl", f"{good}\n{line}\n{good}\n")
        cases.append(Case("batch lines", name, ["plan", "--batch", str(path)], ERROR,
                          culprit=culprit, batch_lines=3))
    whole_lines = {
        "not JSON": "{not json",
        "a JSON array": "[1, 2]",
        "a JSON string": '"plan"',
        "null": "null",
        "empty object": "{}",
        "nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    }
    for index, (name, line) in enumerate(whole_lines.items()):
        path = _write(d, f"batchw{index}.jsonl", f"{good}\n{line}\n{good}\n")
        cases.append(Case("batch lines", name, ["plan", "--batch", str(path)], ERROR,
                          culprit=":2:", batch_lines=3))
    for name, content in (("binary batch file", bytes(range(256))),
                          ("Latin-1 batch file", ("{\"soc\": \"\xe9\"}\n").encode("latin-1"))):
        path = _write(d, name.replace(" ", "_") + ".jsonl", content)
        cases.append(Case("batch file", name, ["plan", "--batch", str(path)], ERROR,
                          culprit=path.name))
    for name, path in (("directory", d), ("missing file", d / "nope.jsonl")):
        cases.append(Case("batch file", name, ["plan", "--batch", str(path)], ERROR,
                          culprit=str(path)))
    empty = _write(d, "empty.jsonl", "")
    cases.append(Case("batch file", "empty batch file", ["plan", "--batch", str(empty)], ANSWER,
                      batch_lines=0))
    return cases


@dataclass
class Outcome:
    case: Case
    kind: str
    detail: str
    seconds: float


def run_case(case: Case, timeout_s: float) -> Outcome:
    command = [sys.executable, "-m", "optimizer", *case.args]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    except subprocess.TimeoutExpired:
        return Outcome(case, "hang", f"no answer within {timeout_s:g} s", timeout_s)
    seconds = time.monotonic() - started
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace")
    both = out + err
    if "Traceback" in both:
        return Outcome(case, "traceback", err.strip().splitlines()[-1][:120], seconds)
    if "unexpected" in both:
        return Outcome(case, "unexpected", err.strip()[:160], seconds)
    return Outcome(case, *_judge(case, done.returncode, out, err), seconds)


def _judge(case: Case, code: int, out: str, err: str) -> tuple[str, str]:
    wants_json = "--json" in case.args
    lines = out.splitlines()
    parsed: list[Any] = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            return "wrong", f"stdout is not JSON: {line[:80]!r}"
    if case.batch_lines:
        if len(parsed) != case.batch_lines or not all(isinstance(p, dict) for p in parsed):
            return "wrong", f"{len(parsed)} result lines, expected {case.batch_lines}"
        if not (valid_plan(parsed[0]) and valid_plan(parsed[-1])):
            return "wrong", "a good line around the bad one did not plan"
        bad = parsed[1]
        if code != 2 or set(bad) != {"error", "line"} or bad["line"] != 2:
            return "wrong", f"exit {code}, bad line gave {str(bad)[:80]}"
        if case.culprit not in bad["error"]:
            return "wrong", f"error does not name {case.culprit!r}: {bad['error'][:100]}"
        return "clear error", bad["error"]
    if case.expect == ANSWER:
        if code != 0:
            return "wrong", f"exit {code}: {err.strip()[:120]}"
        if case.batch_lines == 0 and "--batch" in case.args:
            return ("correct answer", "no lines, exit 0") if not lines else ("wrong", out[:80])
        if len(parsed) != 1 or (case.check is not None and not case.check(parsed[0])):
            return "wrong", f"answer fails its check: {out[:120]!r}"
        return "correct answer", str(parsed[0].get("reason") or "ok")[:120]
    message = err.strip()
    if code != 2:
        return "wrong", f"exit {code}, expected 2: {message[:120] or out[:120]}"
    if len(message.splitlines()) != 1:
        return "wrong", f"{len(message.splitlines())} lines on stderr: {message[:120]!r}"
    if case.culprit and case.culprit.replace("_", "-") not in message.replace("_", "-"):
        return "wrong", f"does not name {case.culprit!r}: {message[:140]}"
    if wants_json and (len(parsed) != 1 or not isinstance(parsed[0], dict)
                       or "error" not in parsed[0]):
        return "wrong", f"--json given but stdout is {out[:80]!r}"
    if "root:x:0" in message:
        return "wrong", "echoes /etc/passwd"
    return "clear error", message


KINDS = ("clear error", "correct answer", "wrong", "traceback", "unexpected", "hang")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--show", choices=["wrong", "all"], default="wrong",
                        help="which cases to list below the table")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="probe_cli_"))
    try:
        cases = [*price_cases(directory), *flag_cases(), *tariff_cases(directory),
                 *config_cases(directory), *batch_cases(directory)]
        outcomes = []
        for case in cases:
            outcome = run_case(case, args.timeout)
            outcomes.append(outcome)
            print(f"{outcome.kind:<15} {case.group}: {case.name}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    groups = list(dict.fromkeys(case.group for case in cases))
    counts = {group: Counter(o.kind for o in outcomes if o.case.group == group)
              for group in groups}
    total = Counter(o.kind for o in outcomes)
    print("| inputs | tried | " + " | ".join(KINDS) + " |")
    print("|---|---:|" + "---:|" * len(KINDS))
    for group in groups:
        tried = sum(counts[group].values())
        print(f"| {group} | {tried} | " + " | ".join(str(counts[group][k]) for k in KINDS)
              + " |")
    print(f"| **all** | **{len(outcomes)}** | "
          + " | ".join(f"**{total[k]}**" for k in KINDS) + " |")
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"\nslowest run: {slowest.seconds:.1f} s ({slowest.case.group}: {slowest.case.name})")
    for outcome in outcomes:
        if args.show == "all" or outcome.kind not in ("clear error", "correct answer"):
            print(f"- {outcome.kind}: {outcome.case.group}: {outcome.case.name}: "
                  f"{outcome.detail}")
    bad = sum(total[k] for k in ("wrong", "traceback", "unexpected", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
