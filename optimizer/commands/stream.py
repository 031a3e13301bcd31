"""`ev-optimizer stream`: print the CarData stream, one line per message.

With `--json` each line is `{"vin", "received_at", "measured_at", <field>: value, ...}` with the
normalised fields present in that message (soc_pct, capacity_kwh, charging_power_kw,
charging_status, plugged, target_soc_pct, range_km, odometer_km, latitude, longitude, and the
AC voltage/current/phases). `--replay FILE` reads recorded envelopes (one JSON per line)
instead of connecting. An invalid message is counted and reported on stderr, never fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from optimizer.cardata.client import http_client, token_manager, unreachable
from optimizer.cardata.messages import MessageError, message_record, parse_message
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
    parser.set_defaults(handler=run)


class _Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.invalid = 0
        self.printed = 0

    def message(self, topic: str, payload: bytes | str, received: StreamMessage | None) -> None:
        try:
            events = parse_message(payload, received.received_at if received else None)
        except MessageError as exc:
            self.invalid += 1
            print(f"warning: skipped invalid message #{self.invalid} on {topic}: {exc}",
                  file=sys.stderr, flush=True)
            return
        received_at = received.received_at if received else (
            events[0].received_at if events else WallClock().now())
        record = message_record(topic.rsplit("/", 1)[-1], received_at, events)
        self.printed += 1
        print(json.dumps(record) if self.as_json else _text(record), flush=True)


def _text(record: dict[str, Any]) -> str:
    fields = " ".join(f"{k}={v}" for k, v in record.items()
                      if k not in ("vin", "received_at", "measured_at"))
    return f"{record['measured_at']} {record['vin']} {fields or '(no mapped fields)'}"


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise InputError(f"--count must be at least 1 (got {args.count})")
    printer = _Printer(args.json)
    if args.replay is not None:
        _replay(args.replay, printer, args.count)
    else:
        config = load_config(args.config)
        asyncio.run(_stream(config, printer, args.count))
    return 0


def _replay(path: Path, printer: _Printer, count: int | None) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the replay file: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        printer.message(f"{path}:{number}", line, None)
        if count is not None and printer.printed + printer.invalid >= count:
            return


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
