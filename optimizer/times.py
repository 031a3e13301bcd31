"""The one parser for times that people write: ISO 8601 with a UTC offset, in a sane year."""

from __future__ import annotations

from datetime import datetime

from optimizer.errors import InputError, quoted

FIRST_YEAR = 1970
LAST_YEAR = 2100
"""Times outside these years are typos (`0001-01-01`, `9999-...`); refusing them up front keeps
the arithmetic on them (a slot grid, the next departure) away from datetime's limits."""


def parse_time(text: str, name: str) -> datetime:
    """`text` as an aware datetime; `name` (a flag, `file:line: column`) says where it came from.

    The message quotes at most 40 characters of `text`, so a wrong file is not echoed.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{name}: {quoted(text)} is not an ISO 8601 time; write e.g. 2024-03-05T18:00:00+01:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name}: {quoted(text)} has no UTC offset; add one, e.g. +01:00 or Z")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InputError(
            f"{name}: {quoted(text)} is in the year {value.year}; use a time between "
            f"{FIRST_YEAR} and {LAST_YEAR}"
        )
    return value
