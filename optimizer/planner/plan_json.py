"""The charging slots of a plan as the CLI prints them: `{"start", "end", "power_kw",
"energy_kwh", "price"}` (+ `"provisional": true` where the price is a fallback).

One writer for `plan --json`, `plan --batch`, `plan --fleet` and the service's plan view. It
writes the JSON text itself instead of building a dict per slot for `json` to encode: those
dicts and their encoding were a third of the time of a batch line, and the text of a slot is
fixed but for three numbers. A number's text is the one `json` writes (its `repr`), and a
number that is not finite is refused as `json.dumps(..., allow_nan=False)` refuses it.
Each boundary's text is made once per process: a batch of day plans shares most of its quarter
hours.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from math import isfinite
from typing import Any

from optimizer.model import PlannedSlot, SlotTable
from optimizer.recent import Recent

_EPOCH = date(1970, 1, 1)
_PROVISIONAL_END = ', "provisional": true}'


_heads: dict[tzinfo | None, Recent[float, tuple[float, str]]] = {}
"""A slot's text up to its power, by zone and start (with the end it was made for), the latest
50,000 of each zone. Dicts of numbers and strings, not an `lru_cache`: the tuples and links of
one made the garbage collector walk 30,000 objects in each collection."""


def _slot_head(start: float, end: float, tz: tzinfo | None) -> str:
    by_start = _heads.get(tz)
    if by_start is None:
        by_start = _heads[tz] = Recent(50_000)
    found = by_start.get(start)
    if found is not None and found[0] == end:
        return found[1]
    head = f'{{"start": "{iso_text(start, tz)}", "end": "{iso_text(end, tz)}", "power_kw": '
    by_start.remember(start, (end, head))
    return head


_DAY_S = 86_400
_dates: dict[int, str] = {}
_clock_texts: dict[tuple[int, tzinfo], str] = {}
_offsets: dict[tzinfo, int] = {}


def iso_text(stamp: float, tz: tzinfo | None) -> str:
    """`datetime.fromtimestamp(stamp, tz).isoformat()`, five times faster for the common case.

    A batch makes some 12,000 of these, at 1.5 µs each. For a fixed offset (`timezone`, what
    an ISO time with an offset parses to) and a whole second, the text is the local date and
    the clock time with the offset, each made once and looked up after that; any other zone
    or time (DST rules, microseconds) goes through `datetime` itself.
    """
    if type(tz) is not timezone or stamp % 1.0 or tz.utcoffset(None).microseconds:
        return datetime.fromtimestamp(stamp, tz).isoformat()
    offset = _offsets.get(tz)
    if offset is None:
        offset = _offsets[tz] = int(tz.utcoffset(None).total_seconds())
    day, second = divmod(int(stamp) + offset, _DAY_S)
    date_text = _dates.get(day)
    if date_text is None:
        date_text = _dates[day] = (_EPOCH + timedelta(days=day)).isoformat()
    clock = _clock_texts.get((second, tz))
    if clock is None:
        # the clock time and the offset as isoformat writes them, from a datetime at that time
        at = datetime.combine(_EPOCH, time(second // 3600, second // 60 % 60, second % 60), tz)
        clock = _clock_texts[second, tz] = at.isoformat()[10:]
    return date_text + clock


def _head(slot: PlannedSlot) -> str:
    return f'{{"start": "{slot.start.isoformat()}", "end": "{slot.end.isoformat()}", "power_kw": '


def charging_slots_text(slots: Sequence[PlannedSlot]) -> str:
    """The JSON array of the slots that charge, from a `SlotTable` or any `PlannedSlot`s."""
    if isinstance(slots, SlotTable):
        tz = slots.tz
        rows = [(_slot_head(start, end, tz), power, energy, price, provisional)
                for start, end, power, energy, price, provisional in slots.charging_rows()]
    else:
        rows = [(_head(s), s.power_kw, s.energy_kwh, s.price, s.provisional)
                for s in slots if s.power_kw > 0]
    parts = []
    for head, power, energy, price, provisional in rows:
        if not (isfinite(power) and isfinite(energy) and isfinite(price)):
            raise ValueError(f"Out of range float values are not JSON compliant: "
                             f"{power!r}, {energy!r}, {price!r}")
        # format(x, "") is repr(x) for a float and an int, also for a float subclass such as
        # numpy's float64, whose own repr is not JSON
        parts.append(f'{head}{power}, "energy_kwh": {energy}, "price": {price}'
                     f'{_PROVISIONAL_END if provisional else "}"}')
    return f"[{', '.join(parts)}]"


def charging_slots_to_json(slots: Sequence[PlannedSlot]) -> list[dict[str, Any]]:
    """The same slots as JSON values, for a caller that embeds them in a larger document."""
    value: list[dict[str, Any]] = json.loads(charging_slots_text(slots))
    return value
