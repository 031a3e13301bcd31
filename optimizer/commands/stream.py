"""`ev-optimizer stream`: print the CarData stream, one line per message.

With `--json` each line is `{"vin", "received_at", "measured_at", <field>: value, ...}` with the
normalised fields present in that message (soc_pct, capacity_kwh, charging_power_kw,
charging_status, plugged, target_soc_pct, range_km, odometer_km, latitude, longitude, and the
AC voltage/current/phases). `--record FILE` also writes every raw message, one per line, as
`estimate --stream` and `stream --replay` read them. `--replay FILE` reads such a recording
instead of connecting. An invalid message is counted and reported on stderr (what is wrong,
not what it holds), never fatal; a replay with no valid message at all exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from optimizer.cardata.client import http_client, token_manager, unreachable
from optimizer.cardata.messages import MessageError, message_record, parse_message
from optimizer.cardata.recording import Recorder, read_recording
from optimizer.cardata.stream import CardataStream, StreamMessage
from optimizer.config import Config, load_config
from optimizer.errors import InputError
from optimizer.ports import WallClock


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("stream", help="print the CarData MQTT stream")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="stop after N messages")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="parse recorded envelopes (JSON lines) instead of connecting")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="also write each raw message to FILE, one per line (mode 0600)")
    parser.set_defaults(handler=run)


class _Printer:
    def __init__(self, as_json: bool, recorder: Recorder | None = None, *,
                 hold_warnings: bool = False) -> None:
        self.as_json = as_json
        self.recorder = recorder
        self.invalid = 0
        self.printed = 0
        self.first_problem: str | None = None
        self._held: list[str] | None = [] if hold_warnings else None
        """A replay holds its warnings until the first valid message: a file with none gets
        one error line, not one warning per line of, say, a binary file."""

    def message(self, topic: str, payload: bytes | str, received: StreamMessage | None) -> None:
        if self.recorder is not None:
            self.recorder.write(payload)
        try:
            events = parse_message(payload, received.received_at if received else None)
        except MessageError as exc:
            self.skip(topic, str(exc))
            return
        received_at = received.received_at if received else (
            events[0].received_at if events else WallClock().now())
        record = message_record(topic.rsplit("/", 1)[-1], received_at, events)
        if self._held:
            print("\n".join(self._held), file=sys.stderr, flush=True)
        self._held = None
        self.printed += 1
        print(json.dumps(record, allow_nan=False) if self.as_json else _text(record),
              flush=True)

    def skip(self, where: str, problem: str) -> None:
        self.invalid += 1
        if self.first_problem is None:
            self.first_problem = f"{where}: {problem}"
        warning = f"warning: skipped invalid message #{self.invalid} on {where}: {problem}"
        if self._held is None:
            print(warning, file=sys.stderr, flush=True)
        elif len(self._held) < 100:
            self._held.append(warning)


def _text(record: dict[str, Any]) -> str:
    fields = " ".join(f"{k}={v}" for k, v in record.items()
                      if k not in ("vin", "received_at", "measured_at"))
    return f"{record['measured_at']} {record['vin']} {fields or '(no mapped fields)'}"


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise InputError(f"--count must be at least 1 (got {args.count})")
    if args.record is not None and args.replay is not None \
            and args.record.resolve() == args.replay.resolve():
        raise InputError(f"--record {args.record}: that is the file being replayed")
    with contextlib.ExitStack() as stack:
        recorder = (stack.enter_context(Recorder(args.record)) if args.record is not None
                    else None)
        printer = _Printer(args.json, recorder, hold_warnings=args.replay is not None)
        if args.replay is not None:
            _replay(args.replay, printer, args.count)
        else:
            config = load_config(args.config)
            asyncio.run(_stream(config, printer, args.count))
    return 0


def _replay(path: Path, printer: _Printer, count: int | None) -> None:
    for line in read_recording(path, "replay file"):
        where = f"{path} line {line.number}"
        if line.text is None:
            printer.skip(where, line.problem or "unreadable")
        else:
            printer.message(where, line.text, None)
        if count is not None and printer.printed + printer.invalid >= count:
            break
    if printer.printed == 0:
        raise InputError(f"replay file {path}: no valid CarData message in it"
                         + (f" ({printer.invalid} invalid; first at {printer.first_problem})"
                            if printer.invalid else " (empty)"))


async def _stream(config: Config, printer: _Printer, count: int | None) -> None:
    done = asyncio.Event()
    async with http_client() as http:
        stream = CardataStream(config.cardata, token_manager(config, http), clock=WallClock())

        async def handle(message: StreamMessage) -> None:
            printer.message(message.topic, message.payload, message)
            if count is not None and printer.printed + printer.invalid >= count:
                done.set()

        runner = asyncio.create_task(stream.run(handle))
        finished = asyncio.create_task(done.wait())
        try:
            await asyncio.wait({runner, finished}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()  # a LoginRequired or similar: raise it
        except httpx.HTTPError as exc:
            raise unreachable(exc, config.cardata.auth_base_url) from None
        finally:
            for task in (runner, finished):
                task.cancel()
            await asyncio.gather(runner, finished, return_exceptions=True)
