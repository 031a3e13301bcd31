"""The last good prices of a feed, on disk in the state directory, with when they were fetched.

One JSON file per feed (`prices_<feed>.json`, written atomically): the 15-minute grid from its
first slot, null where unknown, plus `fetched_at`, the last failure and how many attempts in a
row failed, so a restarted service knows both what it has and how hard to back off. Only the
last `KEEP_DAYS` are kept: the forecast looks four weeks back, and nothing else needs more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.cardata.files import read_json, write_json_atomic
from optimizer.errors import InputError
from optimizer.prices.grid import PriceGrid, slot_index, slot_start

KEEP_DAYS = 35
_VERSION = 1


@dataclass(frozen=True, slots=True)
class CachedPrices:
    grid: PriceGrid
    fetched_at: datetime | None = None
    """When the feed last answered with prices."""
    failures: int = 0
    """Failed attempts in a row since then (the feed is down: plans run on cache + forecast)."""
    last_error: str | None = None
    last_attempt: datetime | None = None
    retries: int = 0
    """Attempts in a row that did not bring what is published by now (failed, or tomorrow not
    out yet); drives the backoff."""

    def trimmed(self, now: datetime) -> CachedPrices:
        first = slot_index(now - timedelta(days=KEEP_DAYS))
        if not len(self.grid) or self.grid.first >= first:
            return self
        last = self.grid.first + len(self.grid)
        return replace(self, grid=PriceGrid(first, self.grid.window(first, last)))


def cache_path(state_dir: Path, feed_name: str) -> Path:
    return state_dir / f"prices_{feed_name}.json"


def load_cache(path: Path) -> CachedPrices:
    """The cache at `path`; an absent file is an empty cache, a broken one an error naming it."""
    document = read_json(path)
    if document is None:
        return CachedPrices(PriceGrid(0, np.zeros(0)))
    try:
        if document["version"] != _VERSION:
            raise ValueError(f"version {document['version']!r}")
        first = slot_index(datetime.fromisoformat(document["first_slot"]))
        values = np.array([math.nan if v is None else float(v) for v in document["prices"]])
        return CachedPrices(
            PriceGrid(first, values),
            _time(document.get("fetched_at")),
            int(document.get("failures", 0)),
            document.get("last_error"),
            _time(document.get("last_attempt")),
            int(document.get("retries", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a price cache ({exc}); delete it to start over") from None


def _time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def save_cache(path: Path, cache: CachedPrices) -> None:
    values = cache.grid.values.tolist()
    write_json_atomic(path, {
        "version": _VERSION,
        "first_slot": slot_start(cache.grid.first).isoformat(),
        "prices": [None if math.isnan(v) else v for v in values],
        "fetched_at": cache.fetched_at.isoformat() if cache.fetched_at else None,
        "failures": cache.failures,
        "last_error": cache.last_error,
        "last_attempt": cache.last_attempt.isoformat() if cache.last_attempt else None,
        "retries": cache.retries,
    })
