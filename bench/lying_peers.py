"""Peers that lie, for `probe_devices.py`: a Modbus TCP box whose every register holds the same
bad pattern, and an OCPP station that speaks raw WebSocket frames (so it can send what the
`ocpp` library never would: frames nested 100,000 deep, invalid JSON, NaN meter values,
CALLERRORs and garbage as answers, or no answer at all)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

REGISTERS = 0x4200
"""Every address the shipped maps use lies below this."""

PATTERNS: dict[str, int | list[int]] = {
    "all 0xFFFF": 0xFFFF,
    "NaN floats": [0x7FC0, 0x0000],
    "0x7FFF (huge)": 0x7FFF,
    "all zero (idle box)": 0,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LyingModbusBox:
    """A pymodbus server (unit ids 1 and 255) whose holding and input registers all read the
    pattern; writes are accepted and forgotten, so a read-back lies too."""

    def __init__(self, pattern: int | list[int]) -> None:
        self.pattern = pattern
        self.port = free_port()

    def _device(self, unit_id: int) -> SimDevice:
        words = self.pattern if isinstance(self.pattern, list) else [self.pattern]
        count = REGISTERS // len(words)

        def block() -> list[SimData]:
            return [SimData(0, count=count, values=words, datatype=DataType.REGISTERS)]

        bits = [SimData(0, count=1024, values=True, datatype=DataType.BITS)]
        return SimDevice(id=unit_id, simdata=(bits, list(bits), block(), block()),
                         action=self._forget_writes)

    async def _forget_writes(self, fc: int, start: int, address: int, count: int,
                             registers: list[int], values: list[Any] | None) -> None:
        if values is not None:  # the box "takes" a write, then reads the pattern again
            words = self.pattern if isinstance(self.pattern, list) else [self.pattern]
            values[:] = [words[(address - start + i) % len(words)] for i in range(len(values))]

    async def __aenter__(self) -> LyingModbusBox:
        self.server = ModbusTcpServer([self._device(1), self._device(255)],
                                      address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.shutdown()


Reply = str
"""How the raw station answers the central system's CALLs: "ok" (an empty-ish CALLRESULT),
"reject" (status Rejected), "error" (a CALLERROR), "garbage" (not JSON) or "silent"."""


@dataclass
class RawStation:
    """An OCPP station as raw frames: sends `frames` in order, then answers every CALL per
    `reply` until the central system is done with it."""

    url: str
    station_id: str
    password: str
    subprotocol: str
    frames: Sequence[str]
    reply: Reply = "ok"
    received: list[Any] = field(default_factory=list)

    async def run(self, done: asyncio.Event) -> None:
        token = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
        try:
            async with connect(f"{self.url}/{self.station_id}",
                               subprotocols=[self.subprotocol],  # type: ignore[list-item]
                               additional_headers={"Authorization": f"Basic {token}"},
                               max_size=None, open_timeout=10) as ws:
                for frame in self.frames:
                    await ws.send(frame)
                await self._answer(ws, done)
        except (ConnectionClosed, OSError, TimeoutError):
            return  # refused, or the central system went away: what is probed is the CLI
        except Exception as exc:  # e.g. a refused handshake (401)
            self.received.append(repr(exc))

    async def _answer(self, ws: ClientConnection, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            self.received.append(message)
            if not (isinstance(message, list) and message and message[0] == 2):
                continue
            call_id, action = message[1], message[2]
            if self.reply == "silent":
                continue
            if self.reply == "garbage":
                await ws.send("\xff{not json")
            elif self.reply == "error":
                await ws.send(json.dumps([4, call_id, "InternalError", "lying station", {}]))
            else:
                status = "Rejected" if self.reply == "reject" else "Accepted"
                await ws.send(json.dumps([3, call_id, _result(action, status)]))


def _result(action: str, status: str) -> dict[str, Any]:
    if action == "GetTransactionStatus":
        return {"messagesInQueue": False}
    return {"status": status}


def boot(subprotocol: str, call_id: str = "boot-1") -> str:
    payload: dict[str, Any] = (
        {"chargePointVendor": "Lying", "chargePointModel": "Probe"}
        if subprotocol == "ocpp1.6" else
        {"chargingStation": {"vendorName": "Lying", "model": "Probe"}, "reason": "PowerUp"})
    return json.dumps([2, call_id, "BootNotification", payload])


def deep(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def meter_16(value: str) -> str:
    return json.dumps([2, f"mv-{value}", "MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": "2026-12-01T20:00:00Z",
        "sampledValue": [{"value": value, "measurand": "Power.Active.Import", "unit": "W"}]}]}])


def status_201(status: str, call_id: str) -> str:
    return json.dumps([2, call_id, "StatusNotification", {
        "timestamp": "2026-12-01T20:00:00Z", "connectorStatus": status, "evseId": 1,
        "connectorId": 1}])


def transaction_201(event: str, state: str, call_id: str, seq: int) -> str:
    return json.dumps([2, call_id, "TransactionEvent", {
        "eventType": event, "timestamp": "2026-12-01T20:00:00Z", "triggerReason": "CablePluggedIn",
        "seqNo": seq, "transactionInfo": {"transactionId": "tx-probe", "chargingState": state},
        "evse": {"id": 1, "connectorId": 1}}])
