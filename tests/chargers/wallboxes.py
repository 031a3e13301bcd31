"""Simulated Modbus TCP wallboxes, laid out from each vendor's register table
(reference/actuators.md §2.3), NOT from our map files: the raw register contents below are
encoded by hand with `struct`, so a wrong scale, word order or address in a map makes the
tests fail instead of agreeing with itself.

Each `Vendor` lists the registers with their initial raw words, what the box must receive for
6 A, 16 A and pause, raw status layouts with the state they mean, and the watchdog: which
accesses keep it alive and after how long it falls back to its failsafe current.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from optimizer.events import ChargerState

Write = tuple[int, int, list[Any]]
"""(function code, address, values) as the box received it."""
Layout = dict[tuple[str, int], list[int]]
"""(table, address) -> raw 16-bit words starting there."""

FC_TABLE = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 3: "holding", 6: "holding",
            16: "holding", 4: "input"}


def u32(value: int, order: str = "big") -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">I", value))
    return [hi, lo] if order == "big" else [lo, hi]


def i32(value: int, order: str = "big") -> list[int]:
    return u32(value & 0xFFFFFFFF, order)


def u64(value: int, order: str = "big") -> list[int]:
    words = list(struct.unpack(">HHHH", struct.pack(">Q", value)))
    return words if order == "big" else words[::-1]


def f32(value: float, order: str = "big") -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo] if order == "big" else [lo, hi]


def f64(value: float) -> list[int]:
    return list(struct.unpack(">HHHH", struct.pack(">d", value)))


def text(value: str, words: int) -> list[int]:
    data = value.encode().ljust(words * 2, b"\x00")
    return list(struct.unpack(f">{words}H", data))


@dataclass
class Vendor:
    map_name: str
    unit_id: int
    layout: Layout
    coils: dict[int, bool]
    writes_6a: list[Write]
    writes_16a: list[Write]
    writes_pause: list[Write]
    status_cases: list[tuple[Layout, ChargerState]]
    meter_layout: Layout
    power_kw: float
    energy_kwh: float
    keepalive: Callable[[int, int, list[Any] | None], bool] | None = None
    """Does this access reset the watchdog? None = the box has no documented watchdog."""
    timeout_s: float | None = None
    heartbeat_period_s: float | None = None
    echo: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Write-only setpoint address -> (readback address, words): the box shows what it took."""


def any_access(fc: int, address: int, values: list[Any] | None) -> bool:
    return True


VENDORS: list[Vendor] = [
    Vendor(  # Phoenix Contact EV-CC-AC1-M3: HR 528 whole A, coil 400 enable, IR 100 ASCII state
        map_name="phoenix_ev_cc", unit_id=255,
        layout={("holding", 528): [16], ("holding", 904): u32(0, "little"),
                ("input", 100): [ord("A")], ("input", 120): i32(0, "little")},
        coils={400: False},
        writes_6a=[(6, 528, [6]), (5, 400, [True])],
        writes_16a=[(6, 528, [16]), (5, 400, [True])],
        writes_pause=[(5, 400, [False])],
        status_cases=[
            ({("input", 100): [ord("A")]}, ChargerState.AVAILABLE),
            ({("input", 100): [ord("B")]}, ChargerState.PLUGGED),
            ({("input", 100): [0x1200 | ord("C")]}, ChargerState.CHARGING),  # high byte ignored
            ({("input", 100): [ord("F")]}, ChargerState.FAULT),
        ],
        meter_layout={("input", 120): i32(7360, "little"),
                      ("holding", 904): u32(1234567, "little")},
        power_kw=7.36, energy_kwh=1234.567,
    ),
    Vendor(  # ABB Terra AC: HR 0x4100 mA UINT32 write-only, readback 0x400E, status 0x400C
        map_name="abb_terra_ac", unit_id=1,
        layout={("holding", 0x4100): u32(0), ("holding", 0x400E): u32(0),
                ("holding", 0x400C): [0, 0], ("holding", 0x400A): u32(0),
                ("holding", 0x401C): u32(0), ("holding", 0x401E): u32(0)},
        coils={},
        writes_6a=[(16, 0x4100, [0, 6000])],
        writes_16a=[(16, 0x4100, [0, 16000])],
        writes_pause=[(16, 0x4100, [0, 0])],
        status_cases=[
            ({("holding", 0x400C): [0, 0x0000]}, ChargerState.AVAILABLE),
            ({("holding", 0x400C): [0, 0x0100]}, ChargerState.PLUGGED),     # B1
            ({("holding", 0x400C): [0x1234, 0x8412]}, ChargerState.CHARGING),  # C2, noise bits
            # session stopped: the socket lock (32 bits in two registers) says whether the
            # cable is still locked in, i.e. the car still connected
            ({("holding", 0x400C): [0, 0x0500], ("holding", 0x400A): u32(0x0101)},
             ChargerState.PLUGGED),
            ({("holding", 0x400C): [0, 0x0500], ("holding", 0x400A): u32(0)},
             ChargerState.AVAILABLE),
        ],
        meter_layout={("holding", 0x401C): u32(11040), ("holding", 0x401E): u32(5500)},
        power_kw=11.04, energy_kwh=5.5,
        keepalive=any_access, timeout_s=60.0, heartbeat_period_s=30.0,
        echo={0x4100: (0x400E, 2)},
    ),
    Vendor(  # Alfen Eve: HR 1210 FLOAT32 A, valid for 300 s; HR 1201 Mode-3 string
        map_name="alfen_eve", unit_id=1,
        layout={("holding", 1201): text("A", 5), ("holding", 1210): f32(0.0),
                ("holding", 344): f32(0.0), ("holding", 374): f64(0.0),
                ("holding", 1212): f32(6.0)},
        coils={},
        writes_6a=[(16, 1210, [0x40C0, 0x0000])],
        writes_16a=[(16, 1210, [0x4180, 0x0000])],
        writes_pause=[(16, 1210, [0, 0])],
        status_cases=[
            ({("holding", 1201): text("A", 5)}, ChargerState.AVAILABLE),
            ({("holding", 1201): text("B2", 5)}, ChargerState.PLUGGED),
            ({("holding", 1201): text("C2", 5)}, ChargerState.CHARGING),
            ({("holding", 1201): text("F", 5)}, ChargerState.FAULT),
        ],
        meter_layout={("holding", 344): f32(3680.0), ("holding", 374): f64(98765.5)},
        power_kw=3.68, energy_kwh=98.7655,
        keepalive=lambda fc, address, values: values is not None and address == 1210,
        timeout_s=300.0, heartbeat_period_s=25.0,
    ),
    Vendor(  # Heidelberg Energy Control: HR 261 in 0.1 A (FC16); any access feeds the watchdog
        map_name="heidelberg_energy_control", unit_id=1,
        layout={("holding", 257): [15000], ("holding", 261): [0], ("holding", 262): [60],
                ("input", 5): [2], ("input", 14): [0], ("input", 17): u32(0)},
        coils={},
        writes_6a=[(16, 261, [60])],
        writes_16a=[(16, 261, [160])],
        writes_pause=[(16, 261, [0])],
        status_cases=[
            ({("input", 5): [3]}, ChargerState.AVAILABLE),
            ({("input", 5): [5]}, ChargerState.PLUGGED),
            ({("input", 5): [7]}, ChargerState.CHARGING),
            ({("input", 5): [10]}, ChargerState.AVAILABLE),
        ],
        meter_layout={("input", 14): [4140], ("input", 17): u32(23456)},
        power_kw=4.14, energy_kwh=23.456,
        keepalive=any_access, timeout_s=15.0, heartbeat_period_s=3.75,
    ),
    Vendor(  # Vestel EVC04: HR 5004 whole A; write 1 to HR 6000 within HR 2002 seconds
        map_name="vestel_evc04", unit_id=255,
        layout={("holding", 5004): [0], ("holding", 2002): [20], ("holding", 6000): [0],
                ("input", 1001): [0], ("input", 1004): [0], ("input", 1020): u32(0),
                ("input", 1036): u32(0)},
        coils={},
        writes_6a=[(6, 5004, [6])],
        writes_16a=[(6, 5004, [16])],
        writes_pause=[(6, 5004, [0])],
        status_cases=[
            ({("input", 1001): [0], ("input", 1004): [0]}, ChargerState.AVAILABLE),
            ({("input", 1001): [0], ("input", 1004): [2]}, ChargerState.PLUGGED),
            ({("input", 1001): [1], ("input", 1004): [3]}, ChargerState.CHARGING),
        ],
        meter_layout={("input", 1020): u32(7200), ("input", 1036): u32(12345)},
        power_kw=7.2, energy_kwh=1234.5,
        keepalive=lambda fc, address, values: values == [1] and address == 6000,
        timeout_s=20.0, heartbeat_period_s=5.0,
    ),
    Vendor(  # KEBA P30: HR 5004 mA write-only (readback HR 1100), HR 5014 enable, failsafe 5018
        map_name="keba_p30", unit_id=255,
        layout={("holding", 5004): [0], ("holding", 1100): u32(0), ("holding", 5014): [0],
                ("holding", 1000): u32(2), ("holding", 1004): u32(0),
                ("holding", 1020): u32(0), ("holding", 1036): u32(0),
                ("holding", 1602): u32(30), ("holding", 5018): [0]},
        coils={},
        writes_6a=[(6, 5004, [6000]), (6, 5014, [1])],
        writes_16a=[(6, 5004, [16000]), (6, 5014, [1])],
        writes_pause=[(6, 5014, [0])],
        status_cases=[
            ({("holding", 1000): u32(2), ("holding", 1004): u32(1)}, ChargerState.AVAILABLE),
            ({("holding", 1000): u32(2), ("holding", 1004): u32(7)}, ChargerState.PLUGGED),
            ({("holding", 1000): u32(3), ("holding", 1004): u32(7)}, ChargerState.CHARGING),
            ({("holding", 1000): u32(4), ("holding", 1004): u32(7)}, ChargerState.FAULT),
        ],
        meter_layout={("holding", 1020): u32(11_000_000), ("holding", 1036): u32(987_654)},
        power_kw=11.0, energy_kwh=98.7654,
        keepalive=lambda fc, address, values: values is not None and address == 5018,
        timeout_s=30.0, heartbeat_period_s=15.0,
        echo={5004: (1100, 2)},
    ),
    Vendor(  # go-eCharger: FC16 only; HR 299 volatile A, HR 200 ALLOW, IR 100 CAR_STATE
        map_name="go_e_charger", unit_id=1,
        layout={("holding", 200): [0], ("holding", 299): [16], ("input", 100): [1],
                ("input", 120): u32(0), ("input", 128): u32(0)},
        coils={},
        writes_6a=[(16, 299, [6]), (16, 200, [1])],
        writes_16a=[(16, 299, [16]), (16, 200, [1])],
        writes_pause=[(16, 200, [0])],
        status_cases=[
            ({("input", 100): [1]}, ChargerState.AVAILABLE),
            ({("input", 100): [3]}, ChargerState.PLUGGED),
            ({("input", 100): [2]}, ChargerState.CHARGING),
            ({("input", 100): [4]}, ChargerState.PLUGGED),
            ({("input", 100): [0]}, ChargerState.FAULT),
        ],
        meter_layout={("input", 120): u32(1104), ("input", 128): u32(45678)},
        power_kw=11.04, energy_kwh=4567.8,
    ),
    Vendor(  # Mennekes AMTRON Xtra: HR 0x0400 whole A, IR 0x0302 status, word-swapped meter
        map_name="mennekes_amtron_xtra", unit_id=255,
        layout={("holding", 0x0400): [0], ("input", 0x0302): [1],
                ("input", 0x030D): u32(0, "little"), ("input", 0x030F): u32(0, "little")},
        coils={},
        writes_6a=[(6, 0x0400, [6])],
        writes_16a=[(6, 0x0400, [16])],
        writes_pause=[(6, 0x0400, [0])],
        status_cases=[
            ({("input", 0x0302): [2]}, ChargerState.AVAILABLE),
            ({("input", 0x0302): [3]}, ChargerState.PLUGGED),
            ({("input", 0x0302): [6]}, ChargerState.CHARGING),
        ],
        meter_layout={("input", 0x030F): u32(7360, "little"),
                      ("input", 0x030D): u32(7_654_321, "little")},
        power_kw=7.36, energy_kwh=7654.321,
    ),
    Vendor(  # Schneider EVlink Pro AC: HR 4004 whole A, lifebit HR 4000 every 2 s
        map_name="schneider_evlink_pro", unit_id=255,
        layout={("holding", 4004): [0], ("holding", 4000): [0], ("holding", 1): [0],
                ("holding", 3059): f32(0.0, "little"), ("holding", 3203): u64(0, "little")},
        coils={},
        writes_6a=[(6, 4004, [6])],
        writes_16a=[(6, 4004, [16])],
        writes_pause=[(6, 4004, [0])],
        status_cases=[
            ({("holding", 1): [0]}, ChargerState.AVAILABLE),
            ({("holding", 1): [4]}, ChargerState.PLUGGED),
            ({("holding", 1): [9]}, ChargerState.CHARGING),
        ],
        meter_layout={("holding", 3059): f32(22.08, "little"),
                      ("holding", 3203): u64(4_321_000, "little")},
        power_kw=22.08, energy_kwh=4321.0,
        # The lifebit period is documented (2 s), the fallback delay is not: assume 3 missed.
        keepalive=lambda fc, address, values: values == [1] and address == 4000,
        timeout_s=6.0, heartbeat_period_s=2.0,
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SimulatedWallbox:
    """A pymodbus server with one vendor's registers, recording writes and modelling failsafe."""

    def __init__(self, vendor: Vendor, clock: Any) -> None:
        self.vendor = vendor
        self.clock = clock
        self.writes: list[Write] = []
        self.last_alive: datetime = clock.now()
        self.fail_with: list[int] = []
        """Exception codes to answer the next accesses with (then normal service)."""
        self.hang_next = 0
        self.release = asyncio.Event()
        self.ignore_writes_above: int | None = None
        self.lie: Layout = {}
        """Registers that read these words whatever was written or set: a box that lies."""
        self._live: dict[str, tuple[int, list[int]]] = {}
        self._pending: Layout = {}
        self.port = free_port()

    def device(self) -> SimDevice:
        blocks: dict[str, list[SimData]] = {"coil": [], "discrete": [], "holding": [],
                                            "input": []}
        runs: dict[str, list[tuple[int, list[int]]]] = {"holding": [], "input": []}
        for (table, address), words in sorted(self.vendor.layout.items()):
            run = runs[table]
            if run and run[-1][0] + len(run[-1][1]) == address:  # adjacent: one block
                run[-1][1].extend(words)
            else:
                run.append((address, list(words)))
        for table, run in runs.items():
            # `values` is the block itself (a `count` would repeat it count times)
            blocks[table] = [SimData(address, values=words, datatype=DataType.REGISTERS)
                             for address, words in run]
        for address, on in self.vendor.coils.items():
            blocks["coil"].append(SimData(address, values=on, datatype=DataType.BITS))
        if not blocks["discrete"]:
            blocks["discrete"].append(SimData(0, values=False, datatype=DataType.BITS))
        if not blocks["coil"]:
            blocks["coil"].append(SimData(0, values=False, datatype=DataType.BITS))
        if not blocks["input"]:
            blocks["input"].append(SimData(0, values=0, datatype=DataType.REGISTERS))
        return SimDevice(id=self.vendor.unit_id, action=self._action,
                         simdata=(blocks["coil"], blocks["discrete"], blocks["holding"],
                                  blocks["input"]))

    def set(self, layout: Layout) -> None:
        """Change raw registers as the box itself would (status, meter)."""
        for (table, address), words in layout.items():
            if table in self._live:
                start, registers = self._live[table]
                registers[address - start: address - start + len(words)] = words
            else:
                self._pending[(table, address)] = words

    def words(self, table: str, address: int, count: int) -> list[int]:
        start, registers = self._live[table]
        return registers[address - start: address - start + count]

    def in_failsafe(self) -> bool:
        timeout_s = self.vendor.timeout_s
        if timeout_s is None:
            return False
        return (self.clock.now() - self.last_alive).total_seconds() > timeout_s

    async def _action(self, fc: int, start: int, address: int, count: int,
                      registers: list[int], values: list[Any] | None) -> Any:
        table = FC_TABLE[fc]
        if table != "coil":
            self._live[table] = (start, registers)
            for (t, a), words in list(self._pending.items()):
                if t == table:
                    registers[a - start: a - start + len(words)] = words
                    del self._pending[(t, a)]
        if self.hang_next:
            self.hang_next -= 1
            await self.release.wait()
        if self.fail_with:
            return ExcCodes(self.fail_with.pop(0))
        if values is not None:
            written = list(values)
            if (self.ignore_writes_above is not None and table == "holding"
                    and written[-1] > self.ignore_writes_above):
                values[:] = [self.ignore_writes_above] * len(values)
            self.writes.append((fc, address, written))
            echo = self.vendor.echo.get(address)
            if echo is not None:
                target, words = echo
                taken = [int(v) for v in values]
                self.set({("holding", target): u32(taken[0]) if words == 2 and len(taken) == 1
                          else taken})
        if table != "coil":
            for (t, a), words in self.lie.items():
                if t == table:
                    registers[a - start: a - start + len(words)] = words
        keepalive = self.vendor.keepalive
        if keepalive is not None and keepalive(fc, address, values):
            self.last_alive = self.clock.now()
        return None

    async def __aenter__(self) -> SimulatedWallbox:
        self.server = ModbusTcpServer(self.device(), address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.server.shutdown()
