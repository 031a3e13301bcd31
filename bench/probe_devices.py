"""Probe: bad input for the device and stream commands, through the real CLI.

    .venv/bin/python bench/probe_devices.py [--only CLASS]

Every input runs `python -m optimizer ...` in a subprocess (estimate, stream --replay, charger
status/set/stop against lying pymodbus boxes and raw-frame OCPP stations; the CLI is the OCPP
central system); the Modbus heartbeat, which the CLI never runs for long, is driven directly
against the lying boxes. Each outcome is one of:

- clear error: exit 2, one line on stderr starting `error:` that names the culprit;
- correct answer: exit 0 and, with `--json`, every stdout line strict JSON (no NaN/Infinity),
  plus the class's own check where it has one;
- traceback / "unexpected" / hang (no exit within the time limit) / wrong (anything else).

It prints one table row per class and exits 1 if any input was not a clear error or a correct
answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lying_peers import (
    PATTERNS,
    LyingModbusBox,
    RawStation,
    boot,
    deep,
    free_port,
    meter_16,
    status_201,
    transaction_201,
)
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.modbus import ModbusCharger
from optimizer.chargers.modbus_map import available_maps, load_map

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "optimizer" / "sim" / "data" / "sample_stream.jsonl"
OUTCOMES = ("clear error", "correct answer", "wrong", "traceback", "unexpected", "hang")
Check = Callable[[list[Any]], bool]


@dataclass
class Result:
    outcome: str
    detail: str


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    failures: list[str] = field(default_factory=list)

    def add(self, label: str, result: Result) -> None:
        self.counts[result.outcome] += 1
        if result.outcome not in ("clear error", "correct answer"):
            self.failures.append(f"{label}: {result.outcome}: {result.detail}")


def _strict_json(line: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(line, parse_constant=refuse)


def judge(code: int | None, out: str, err: str, *, culprit: str | None, as_json: bool,
          check: Check | None = None) -> Result:
    """Classify one CLI run (code None = it hung and was killed)."""
    if code is None:
        return Result("hang", err[-200:])
    if "Traceback" in err:
        return Result("traceback", err.strip().splitlines()[-1])
    if "error: unexpected " in err:
        return Result("unexpected", err.strip()[:200])
    if code == 2:
        lines = err.strip().splitlines()
        # ours: "error: ..."; argparse's: "ev-optimizer estimate: error: argument --every: ..."
        errors = [line for line in lines if line.startswith("error: ")
                  or (line.startswith("ev-optimizer") and ": error: " in line)]
        named = culprit is None or culprit in err
        try:  # what was printed before the error (a replay stops at the bad line) stays JSON
            if as_json:
                [_strict_json(line) for line in out.splitlines()]
        except ValueError as exc:
            return Result("wrong", f"exit 2 and invalid JSON on stdout: {exc}")
        if len(errors) == 1 and lines[-1] == errors[0] and named:
            return Result("clear error", errors[0][:200])
        return Result("wrong", f"exit 2 but stderr {err.strip()[:200]!r}")
    if code == 0:
        try:
            rows = [_strict_json(line) for line in out.splitlines()] if as_json else []
        except ValueError as exc:
            return Result("wrong", f"invalid JSON on stdout: {exc}")
        if check is not None and not check(rows):
            return Result("wrong", f"answer failed its check: {out[:200]!r}")
        return Result("correct answer", out[:80])
    return Result("wrong", f"exit {code}: {err.strip()[:200]}")


async def run_cli(*args: str, timeout: float = 60.0) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "optimizer", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


# -- estimate and stream ------------------------------------------------------------------------

def _sample() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def stream_files(folder: Path) -> dict[str, Path]:
    lines = _sample()
    first = lines[3]
    files: dict[str, bytes] = {
        "Latin-1": first.replace("WBA", "WBÄ").encode("latin-1") + b"\n",
        "binary": bytes(range(256)) * 64,
        "/etc/passwd-like": b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n",
        "empty": b"",
        "blank lines": b"\n\n\n",
        "year 9999": "\n".join(x.replace("2026-", "9999-") for x in lines).encode(),
        "year 0001 with offset": "\n".join(
            x.replace("2026-01-15T17:31:20.000Z", "0001-01-01T00:00:00+05:00")
            for x in lines[3:4]).encode(),
        "NaN and Infinity": first.replace('"value": 35.0', '"value": NaN').replace(
            '"value": 11.0', '"value": Infinity').encode(),
        "1e400 numbers": first.replace('"value": 35.0', '"value": 1e400').encode(),
        "JSON 100k deep": ("[" * 100_000 + "]" * 100_000).encode(),
        "line over 1 MiB": b"{" + b" " * (1 << 21) + b"}\n",
        "a VIN 10 kB long": first.replace("WBA00000000000U11", "W" * 10_000).encode(),
        "far future line": "\n".join([*lines[:5], lines[5].replace("2026-", "2099-")]).encode(),
        "numbers as garbage": first.replace('"value": 35.0', '"value": "abc"').encode(),
    }
    paths = {}
    for name, data in files.items():
        path = folder / (name.replace("/", "_").replace(" ", "_") + ".jsonl")
        path.write_bytes(data)
        paths[name] = path
    paths["a directory"] = folder
    paths["missing file"] = folder / "nope.jsonl"
    paths["/dev/zero"] = Path("/dev/zero")
    return paths


METER_BODIES: dict[str, bytes] = {
    "decimal comma": b"time,energy_kwh\n2026-01-15T17:40:00Z,12,5\n",
    "NaN energy": b"time,energy_kwh\n2026-01-15T17:40:00Z,nan\n",
    "inf energy": b"time,energy_kwh\n2026-01-15T17:40:00Z,inf\n",
    "negative energy": b"time,energy_kwh\n2026-01-15T17:40:00Z,-3\n",
    "1e400 energy": b"time,energy_kwh\n2026-01-15T17:40:00Z,1e400\n",
    "year 9999": b"time,energy_kwh\n9999-12-31T23:59:59Z,1\n",
    "no UTC offset": b"time,energy_kwh\n2026-01-15T17:40:00,1\n",
    "Latin-1": "time,energy_kwh\n2026-01-15T17:40:00Z,1\n2026-01-15,\xe9\n".encode("latin-1"),
    "binary": bytes(range(256)) * 16,
    "field over 128 KiB": b"time,energy_kwh\n" + b"1" * 200_000 + b",1\n",
    "NUL byte": b"time,energy_kwh\n2026-01-15T17:40:00Z,1\x00\n",
    "/etc/passwd-like": b"root:x:0:0:root:/root:/bin/bash\n",
    "missing header": b"2026-01-15T17:40:00Z,1\n",
    "unclosed quote": b'time,energy_kwh\n"2026-01-15T17:40:00Z,1\n',
}


async def probe_streams(folder: Path, tally: dict[str, Tally]) -> None:
    files = stream_files(folder)
    for name, path in files.items():
        for command in (["estimate", "--stream"], ["stream", "--replay"]):
            code, out, err = await run_cli(*command, str(path), "--json", timeout=60)
            klass = f"{command[0]} files"
            culprit = str(path)
            tally.setdefault(klass, Tally()).add(
                f"{command[0]} {name}",
                judge(code, out, err, culprit=culprit, as_json=True))
    for name, body in METER_BODIES.items():
        meter = folder / f"meter-{len(name)}-{abs(hash(name)) % 10_000}.csv"
        meter.write_bytes(body)
        code, out, err = await run_cli("estimate", "--stream", str(SAMPLE), "--meter",
                                       str(meter), "--json")
        tally.setdefault("estimate --meter files", Tally()).add(
            f"meter {name}", judge(code, out, err, culprit=f"meter file {meter}", as_json=True))
    knobs = [("--every", v) for v in ("0.001", "0", "-1", "nan", "inf", "1e12", "abc", "60")]
    knobs += [("--capacity", v) for v in ("nan", "inf", "0", "-5", "1e9", "x", "76.4")]
    for flag, value in knobs:
        code, out, err = await run_cli("estimate", "--stream", str(SAMPLE), flag, value,
                                       "--json")
        tally.setdefault("estimate knobs", Tally()).add(
            f"estimate {flag} {value}", judge(code, out, err, culprit=flag, as_json=True))
    for value in ("0", "-1", "x", "1e3", "3"):
        code, out, err = await run_cli("stream", "--replay", str(SAMPLE), "--count", value,
                                       "--json")
        tally.setdefault("stream knobs", Tally()).add(
            f"stream --count {value}", judge(code, out, err, culprit="--count", as_json=True))
    code, out, err = await run_cli("stream", "--replay", str(SAMPLE), "--record",
                                   str(folder), "--json")
    tally.setdefault("stream knobs", Tally()).add(
        "stream --record <directory>", judge(code, out, err, culprit=str(folder), as_json=True))


# -- chargers -----------------------------------------------------------------------------------

CONFIG_HEAD = """\
tariff = "none.toml"
[[vehicles]]
name = "car"
vin = "WBA00000000000U11"
capacity_kwh = 60
charger = "wb"
[[chargers]]
name = "wb"
kind = "{kind}"
"""


def write_config(folder: Path, kind: str, table: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(CONFIG_HEAD.format(kind=kind) + table, encoding="utf-8")
    return path


BAD_CONFIGS: dict[str, tuple[str, str, str]] = {
    # name: (kind, table, culprit)
    "map path": ("modbus", '[chargers.modbus]\nhost = "127.0.0.1"\nmodel = "../../etc/x"\n',
                 "chargers[0].modbus.model"),
    "unknown map": ("modbus", '[chargers.modbus]\nhost = "127.0.0.1"\nmodel = "tesla"\n',
                    "chargers[0].modbus.model"),
    "port as text": ("modbus", '[chargers.modbus]\nhost = "h"\nmodel = "keba_p30"\nport = "502"\n',
                     "chargers[0].modbus.port"),
    "timeout inf": ("modbus", '[chargers.modbus]\nhost = "h"\nmodel = "keba_p30"\n'
                              "timeout_s = inf\n", "chargers[0].modbus.timeout_s"),
    "missing HA token": ("homeassistant", '[chargers.homeassistant]\ntoken_file = "none.tok"\n'
                                          'switch_entity = "switch.x"\n', "token_file"),
    "TLS cert without key": ("ocpp", '[chargers.ocpp]\nstation_id = "CP"\n'
                                     'password_file = "pw"\ntls_cert_file = "pw"\n',
                             "tls_key_file"),
    "0.0.0.0 without TLS": ("ocpp", '[chargers.ocpp]\nstation_id = "CP"\npassword_file = "pw"\n'
                                    'host = "0.0.0.0"\n', "allow_insecure"),
    "allow_insecure as text": ("ocpp", '[chargers.ocpp]\nstation_id = "CP"\n'
                                       'password_file = "pw"\nhost = "0.0.0.0"\n'
                                       'allow_insecure = "yes"\n', "allow_insecure"),
    "password file readable": ("ocpp", '[chargers.ocpp]\nstation_id = "CP"\n'
                                       'password_file = "open.pw"\n', "chmod 600"),
    "password file binary": ("ocpp", '[chargers.ocpp]\nstation_id = "CP"\n'
                                     'password_file = "binary.pw"\n', "binary.pw"),
}


async def probe_configs(folder: Path, tally: dict[str, Tally]) -> None:
    (folder / "pw").write_text("x")
    (folder / "pw").chmod(0o600)
    (folder / "open.pw").write_text("x")
    (folder / "open.pw").chmod(0o644)
    (folder / "binary.pw").write_bytes(b"\xff\xfe\x00")
    (folder / "binary.pw").chmod(0o600)
    for index, (name, (kind, table, culprit)) in enumerate(BAD_CONFIGS.items()):
        config = write_config(folder, kind, table, f"bad-{index}.toml")
        code, out, err = await run_cli("charger", "status", "--json", "--wait", "2",
                                       "--config", str(config))
        tally.setdefault("charger config", Tally()).add(
            f"config {name}", judge(code, out, err, culprit=culprit, as_json=True))
    cardata = write_config(folder, "simulated", '[cardata]\nauth_base_url = '
                                                '"http://cardata.example/oauth"\n', "cd.toml")
    code, out, err = await run_cli("stream", "--json", "--config", str(cardata))
    tally.setdefault("charger config", Tally()).add(
        "cardata http URL", judge(code, out, err, culprit="cardata.auth_base_url", as_json=True))
    good = write_config(folder, "modbus", '[chargers.modbus]\nhost = "127.0.0.1"\n'
                                          'model = "keba_p30"\n', "good.toml")
    for value in ("nan", "-1", "x"):
        code, out, err = await run_cli("charger", "set", "--current", value, "--json",
                                       "--config", str(good))
        tally.setdefault("charger knobs", Tally()).add(
            f"set --current {value}", judge(code, out, err, culprit="--current", as_json=True))
    for value in ("nan", "0", "inf", "-3", "1e12"):
        code, out, err = await run_cli("charger", "status", "--wait", value, "--json",
                                       "--config", str(good))
        tally.setdefault("charger knobs", Tally()).add(
            f"status --wait {value}", judge(code, out, err, culprit="--wait", as_json=True))


def _state_is(state: str) -> Check:
    return lambda rows: bool(rows) and rows[-1].get("state") == state


async def probe_modbus_cli(folder: Path, tally: dict[str, Tally]) -> None:
    for pattern_name, pattern in PATTERNS.items():
        async with LyingModbusBox(pattern) as box:
            for model in available_maps():
                config = write_config(folder, "modbus", (
                    f'[chargers.modbus]\nhost = "127.0.0.1"\nport = {box.port}\n'
                    f'model = "{model}"\ntimeout_s = 1\nretries = 0\n'), f"mb-{model}.toml")
                for action in (["status"], ["set", "--current", "10"]):
                    code, out, err = await run_cli("charger", *action, "--json", "--config",
                                                   str(config), timeout=60)
                    # all zero is an idle box for most maps (status may answer; a set must
                    # fail, the read-back says 0 A) and an invalid state code for some
                    idle = pattern_name.startswith("all zero")
                    result = judge(code, out, err, culprit="charger 'wb'", as_json=True)
                    believed = result.outcome == "correct answer"
                    if believed and (not idle or action != ["status"]):
                        result = Result("wrong", f"a lying box was believed: {out.strip()}")
                    tally.setdefault(f"modbus CLI: {pattern_name}", Tally()).add(
                        f"{model} {' '.join(action)}", result)
    config = write_config(folder, "modbus", (
        f'[chargers.modbus]\nhost = "127.0.0.1"\nport = {free_port()}\nmodel = "keba_p30"\n'
        "timeout_s = 1\n"), "mb-closed.toml")
    code, out, err = await run_cli("charger", "status", "--json", "--config", str(config))
    tally.setdefault("modbus CLI: nobody listening", Tally()).add(
        "closed port", judge(code, out, err, culprit="cannot connect", as_json=True))


class _Ticks:
    """The heartbeat's sleep, granted a fixed number of times by the probe."""

    def __init__(self, beats: int) -> None:
        self.left = beats
        self.done = asyncio.Event()

    async def __call__(self, period_s: float) -> None:
        if not math.isfinite(period_s) or period_s > 3600:
            raise AssertionError(f"absurd heartbeat period {period_s}")
        if self.left == 0:
            self.done.set()
            await asyncio.Event().wait()
        self.left -= 1


class _Clock:
    def now(self) -> Any:
        from datetime import UTC, datetime
        return datetime.now(UTC)


async def probe_heartbeats(tally: dict[str, Tally]) -> None:
    limits = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)
    for pattern_name, pattern in PATTERNS.items():
        async with LyingModbusBox(pattern) as box:
            for model in available_maps():
                register_map = load_map(model)
                if register_map.heartbeat is None:
                    continue
                driver = ModbusCharger("wb", register_map, limits, _Clock(), host="127.0.0.1",
                                       port=box.port, timeout_s=1.0, retries=0,
                                       retry_delay_s=0.0)
                ticks = _Ticks(5)
                result: Result
                try:
                    await driver.connect()
                    task = asyncio.create_task(driver.run_heartbeat(ticks))
                    finished = asyncio.create_task(ticks.done.wait())
                    await asyncio.wait({task, finished}, timeout=60,
                                       return_when=asyncio.FIRST_COMPLETED)
                    if task.done():
                        exc = task.exception()
                        result = Result("traceback", f"heartbeat died: {exc!r}")
                    elif not finished.done():
                        result = Result("hang", "five beats took over 60 s")
                    elif pattern_name.startswith("all zero"):
                        result = (Result("correct answer", "beats fine")
                                  if driver.last_error is None or "device fault" not in
                                  driver.last_error else Result("wrong", driver.last_error))
                    else:
                        # a box that lies everywhere: each beat may fail, the task never does
                        result = Result("clear error" if driver.last_error else "correct answer",
                                        driver.last_error or "beats fine")
                    for pending in (task, finished):
                        pending.cancel()
                    await asyncio.gather(task, finished, return_exceptions=True)
                finally:
                    await driver.close()
                tally.setdefault(f"modbus heartbeat: {pattern_name}", Tally()).add(model, result)


# -- OCPP ---------------------------------------------------------------------------------------

@dataclass
class OcppCase:
    name: str
    subprotocol: str
    frames: list[str]
    action: list[str]
    expect: str  # "answer", "error" or "either"
    reply: str = "ok"
    culprit: str | None = "charger 'wb'"
    password: str = "probe-Passw0rd"
    check: Check | None = None
    timeout: float = 90.0


def ocpp_cases() -> list[OcppCase]:
    b16, b201 = boot("ocpp1.6"), boot("ocpp2.0.1")
    return [
        OcppCase("deep CALL then boot", "ocpp1.6",
                 [f'[2,"d1","Heartbeat",{{"x":{deep()}}}]', b16], ["status"], "answer"),
        OcppCase("deep non-CALL then boot", "ocpp2.0.1", [deep(), b201], ["status"], "answer"),
        OcppCase("invalid JSON then boot", "ocpp1.6", ["{{{", "\xff\xfe", "[2,", b16],
                 ["status"], "answer"),
        OcppCase("boot with wrong types", "ocpp1.6",
                 ['[2,"b0","BootNotification",{"chargePointVendor":5}]',
                  '[2,"h1","Heartbeat",{}]'], ["status"], "answer"),
        OcppCase("unknown action then boot", "ocpp2.0.1", ['[2,"u1","SelfDestruct",{}]', b201],
                 ["status"], "answer"),
        # The CLI acts once the station is ready (after its boot), so what is to be checked
        # is sent before the boot.
        OcppCase("NaN / 1e400 / -inf meter values", "ocpp1.6",
                 [meter_16("7000"), meter_16("NaN"), meter_16("1e400"), meter_16("-inf"), b16],
                 ["status"], "answer",
                 check=lambda rows: bool(rows) and rows[-1].get("power_kw") == 7.0),
        OcppCase("2.0.1 Occupied during a charge", "ocpp2.0.1",
                 [transaction_201("Started", "Charging", "t1", 1), status_201("Occupied", "s2"),
                  b201], ["status"], "answer", check=_state_is("charging")),
        OcppCase("2.0.1 stop, TriggerMessage answered CALLERROR", "ocpp2.0.1",
                 [status_201("Occupied", "s1")], ["stop"], "error", reply="error",
                 culprit="TriggerMessage"),
        OcppCase("2.0.1 stop, station rejects everything", "ocpp2.0.1",
                 [transaction_201("Started", "Charging", "t1", 1), b201], ["stop"], "error",
                 reply="reject", culprit="rejected the remote stop"),
        OcppCase("1.6 set, remote start rejected", "ocpp1.6", [b16],
                 ["set", "--current", "10"], "error", reply="reject",
                 culprit="rejected the remote start"),
        OcppCase("1.6 set, answers garbage (no answer in time)", "ocpp1.6", [b16],
                 ["set", "--current", "10"], "error", reply="garbage",
                 culprit="did not answer RemoteStartTransaction in time", timeout=120),
        OcppCase("wrong password", "ocpp1.6", [b16], ["status"], "error",
                 password="wrong", culprit="timed out waiting for the station to connect"),
        OcppCase("frame over 1 MiB", "ocpp1.6", ["[" + " " * (2 << 20) + "]", b16],
                 ["status"], "either"),
    ]


async def probe_ocpp(folder: Path, tally: dict[str, Tally]) -> None:
    for index, case in enumerate(ocpp_cases()):
        port = free_port()
        secret = folder / f"ocpp-{index}.pw"
        secret.write_text("probe-Passw0rd")
        secret.chmod(0o600)
        config = write_config(folder, "ocpp", (
            f'[chargers.ocpp]\nstation_id = "CP"\npassword_file = "{secret.name}"\n'
            f"port = {port}\n"), f"ocpp-{index}.toml")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "optimizer", "charger", *case.action, "--json", "--wait",
            "8", "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stderr is not None and process.stdout is not None
        announced = await asyncio.wait_for(process.stderr.readline(), 60)
        station = RawStation(f"ws://127.0.0.1:{port}/ocpp", "CP", case.password,
                             case.subprotocol, case.frames, case.reply)
        done = asyncio.Event()
        runner = asyncio.create_task(station.run(done))
        code: int | None
        try:
            out_b, err_b = await asyncio.wait_for(process.communicate(), case.timeout)
            code = process.returncode
        except TimeoutError:
            process.kill()
            out_b, err_b = await process.communicate()
            code = None
        done.set()
        await asyncio.gather(runner, return_exceptions=True)
        err = err_b.decode(errors="replace")
        if b"waiting up to" in announced:
            pass  # the announcement line is the CLI's progress note, not an error line
        else:
            err = announced.decode(errors="replace") + err
        result = judge(code, out_b.decode(errors="replace"), err, culprit=case.culprit,
                       as_json=True, check=case.check)
        if case.expect == "answer" and result.outcome == "clear error":
            result = Result("wrong", f"expected an answer, got {result.detail}")
        if case.expect == "error" and result.outcome == "correct answer":
            result = Result("wrong", f"expected an error, got {result.detail}")
        tally.setdefault("OCPP CLI vs raw stations", Tally()).add(case.name, result)


# -- main ---------------------------------------------------------------------------------------

PROBES: dict[str, Callable[[Path, dict[str, Tally]], Awaitable[None]]] = {
    "streams": probe_streams,
    "configs": probe_configs,
    "modbus": probe_modbus_cli,
    "heartbeat": lambda folder, tally: probe_heartbeats(tally),
    "ocpp": probe_ocpp,
}


async def main_async(only: list[str]) -> int:
    logging.basicConfig(level=logging.ERROR)  # the driver's warnings are what is probed
    tally: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for probe, run in PROBES.items():
            if only and probe not in only:
                continue
            print(f"# probing {probe} ...", file=sys.stderr, flush=True)
            await run(folder, tally)
    header = ["class", "inputs", *OUTCOMES]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    totals = dict.fromkeys(OUTCOMES, 0)
    for klass, counts in tally.items():
        total = sum(counts.counts.values())
        for outcome in OUTCOMES:
            totals[outcome] += counts.counts[outcome]
        print(f"| {klass} | {total} | " + " | ".join(str(counts.counts[o]) for o in OUTCOMES)
              + " |")
    print(f"| **all** | {sum(totals.values())} | "
          + " | ".join(f"**{totals[o]}**" for o in OUTCOMES) + " |")
    failures = [f for counts in tally.values() for f in counts.failures]
    for failure in failures:
        print(f"NOT OK: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(PROBES), default=[])
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main_async(args.only)))


if __name__ == "__main__":
    main()
