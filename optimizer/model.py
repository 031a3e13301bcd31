"""Domain types shared by every layer: prices and plans (`optimizer.events` has what the car,
the wallbox and the estimator report, and the notifications).

Units are in the names (`_kw`, `_kwh`, `_pct`, `_a`, `_v`). Every datetime is timezone-aware;
intervals are half-open `[start, end)`. These types are plain frozen dataclasses so that the pure
core (estimator, tariffs, planner) can use them without I/O or validation overhead; validation
happens once at the edges (config, CLI, adapters).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import accumulate
from typing import overload

SLOT = timedelta(minutes=15)
"""The common slot grid: every tariff and price feed lands on 15-minute slots."""


def require_aware(name: str, value: datetime) -> None:
    """Raise if `value` is naive: a naive datetime is a bug that would shift a plan by hours."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class PriceSlot:
    """The price of grid energy during `[start, end)`, in currency per kWh.

    `price` is None where the price is not known yet (past the published day-ahead horizon).
    """

    start: datetime
    end: datetime
    price: float | None

    @property
    def duration_h(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


class PriceWindow(Sequence[PriceSlot]):
    """Consecutive 15-minute price slots kept as two parallel lists (epoch seconds of each
    start, price or None), and a `Sequence[PriceSlot]` for everyone who wants objects.

    A price series hands this to the planner, whose horizon reads the lists directly: making
    and unpacking ~100 `PriceSlot`s with two datetimes each was most of the time of a plan.
    """

    __slots__ = ("prices", "starts")

    def __init__(self, starts: list[float], prices: list[float | None]) -> None:
        self.starts = starts
        self.prices = prices

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> PriceSlot: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PriceSlot]: ...

    def __getitem__(self, index: int | slice) -> PriceSlot | Sequence[PriceSlot]:
        if isinstance(index, slice):
            return PriceWindow(self.starts[index], self.prices[index])
        start = datetime.fromtimestamp(self.starts[index], UTC)
        return PriceSlot(start, start + SLOT, self.prices[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PriceWindow):
            return self.starts == other.starts and self.prices == other.prices
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class TaperPoint:
    """A charge-curve point: at `soc_pct` the car accepts at most `power_kw` (grid side)."""

    soc_pct: float
    power_kw: float


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """What the plan does in one slot. `energy_kwh` is grid-side: power × duration."""

    start: datetime
    end: datetime
    power_kw: float
    energy_kwh: float
    price: float
    provisional: bool
    """True where `price` is a fallback because the real price is not published yet."""
    soc_start_pct: float
    soc_end_pct: float


class SlotTable(Sequence[PlannedSlot]):
    """A plan's slots kept as parallel lists; each `PlannedSlot` is made when it is read.

    A plan covers every slot to departure, most of them idle, and making ~100 frozen objects
    with two datetimes each took half the time of a plan; `plan --batch` reads only the slots
    that charge. The SoC at each boundary is worked out when a slot is first read: the battery
    gains `energy * pct_per_kwh` in a slot that charges, up to 100 %.
    """

    __slots__ = ("_charging", "_ends", "_energies", "_pct_per_kwh", "_powers", "_prices",
                 "_provisional", "_soc_pct", "_socs", "_starts", "_tz")

    def __init__(
        self, starts: Sequence[float], ends: Sequence[float], tz: tzinfo | None,
        powers: Sequence[float], energies: Sequence[float], prices: Sequence[float],
        provisional: Sequence[bool], soc_pct: float, pct_per_kwh: float,
        charging: Sequence[int] | None = None,
    ) -> None:
        """`charging`: the indices of the slots with power, if the caller has them."""
        self._starts, self._ends, self._tz = starts, ends, tz
        self._powers, self._energies, self._prices = powers, energies, prices
        self._provisional, self._soc_pct, self._pct_per_kwh = provisional, soc_pct, pct_per_kwh
        self._socs: list[float] | None = None
        self._charging = (charging if charging is not None
                          else [i for i, p in enumerate(powers) if p > 0])

    def socs(self) -> list[float]:
        """The SoC at each slot boundary (one entry more than the slots).

        The gains only add up, so the running sum capped at 100 is the capped SoC, made by C's
        `accumulate` without a Python step per slot. Until the first slot that charges the SoC
        is the one given (as given: an int stays an int).
        """
        socs = self._socs
        if socs is None:
            energies, soc_pct = self._energies, self._soc_pct
            first = next((i for i, e in enumerate(energies) if e > 0.0), len(energies))
            socs = list(accumulate(map(self._pct_per_kwh.__rmul__, energies[first:]),
                                   initial=soc_pct))
            full = bisect_right(socs, 100.0)
            socs[full:] = [100.0] * (len(socs) - full)
            socs = self._socs = [soc_pct] * first + socs
        return socs

    def __len__(self) -> int:
        return len(self._starts)

    def _slot(self, i: int) -> PlannedSlot:
        socs = self.socs()
        return PlannedSlot(
            datetime.fromtimestamp(self._starts[i], self._tz),
            datetime.fromtimestamp(self._ends[i], self._tz),
            self._powers[i], self._energies[i], self._prices[i], self._provisional[i],
            socs[i], socs[i + 1],
        )

    @overload
    def __getitem__(self, index: int) -> PlannedSlot: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PlannedSlot]: ...

    def __getitem__(self, index: int | slice) -> PlannedSlot | Sequence[PlannedSlot]:
        if isinstance(index, slice):
            return tuple(self._slot(i) for i in range(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._slot(index)

    def charging(self) -> tuple[PlannedSlot, ...]:
        return tuple(self._slot(i) for i in self._charging)

    def charging_rows(
        self,
    ) -> list[tuple[float, float, float, float, float, bool]]:
        """(start and end in epoch seconds, power, energy, price, provisional) of each slot
        that charges, without making objects: what a JSON writer needs."""
        starts, ends, powers = self._starts, self._ends, self._powers
        energies, prices, provisional = self._energies, self._prices, self._provisional
        return [(starts[i], ends[i], powers[i], energies[i], prices[i], provisional[i])
                for i in self._charging]

    @property
    def tz(self) -> tzinfo | None:
        return self._tz

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SlotTable({len(self)} slots, {sum(p > 0 for p in self._powers)} charging)"


@dataclass(frozen=True, slots=True)
class ChargePlan:
    """The planner's answer.

    `slots` covers the whole horizon from `now` to departure, including slots with zero power, so
    a chart can show the SoC trajectory; `charging_slots` keeps only those with power.
    """

    feasible: bool
    reason: str | None
    now: datetime
    departure: datetime
    soc_start_pct: float
    target_soc_pct: float
    soc_at_departure_pct: float
    energy_kwh: float
    cost: float
    slots: Sequence[PlannedSlot]
    provisional: bool = False
    """True when any charging slot uses a fallback price."""
    method: str = "greedy"

    @property
    def charging_slots(self) -> tuple[PlannedSlot, ...]:
        if isinstance(self.slots, SlotTable):
            return self.slots.charging()
        return tuple(s for s in self.slots if s.power_kw > 0)
