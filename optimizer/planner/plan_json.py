"""The charging slots of a plan as the CLI prints them: `{"start", "end", "power_kw",
"energy_kwh", "price"}` (+ `"provisional": true` where the price is a fallback).

One writer for `plan --json`, `plan --batch` and `plan --fleet`. A plan's `SlotTable` is read
as numbers, and each boundary's ISO text is made once per process: a batch of day plans
shares most of its quarter hours, and making datetimes and their text per slot was a third of
the time of a batch line.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from optimizer.model import PlannedSlot, SlotTable


@lru_cache(maxsize=16384)
def _iso(stamp: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(stamp, tz).isoformat()


def slot_to_json(slot: PlannedSlot) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "power_kw": slot.power_kw,
        "energy_kwh": slot.energy_kwh,
        "price": slot.price,
    }
    if slot.provisional:
        item["provisional"] = True
    return item


def charging_slots_to_json(slots: Any) -> list[dict[str, Any]]:
    """The slots that charge, from a `SlotTable` or any sequence of `PlannedSlot`s."""
    if not isinstance(slots, SlotTable):
        return [slot_to_json(s) for s in slots if s.power_kw > 0]
    tz = slots.tz
    out = []
    for start, end, power, energy, price, provisional in slots.charging_rows():
        item: dict[str, Any] = {"start": _iso(start, tz), "end": _iso(end, tz),
                                "power_kw": power, "energy_kwh": energy, "price": price}
        if provisional:
            item["provisional"] = True
        out.append(item)
    return out
