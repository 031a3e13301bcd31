"""The shipped live-feed tariffs load, name their feed, and price nothing before a fetch."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from optimizer.prices.source import TariffPrices
from optimizer.tariffs import load_tariff

LIVE = Path(__file__).resolve().parents[2] / "tariffs" / "live"


@pytest.mark.parametrize("path", sorted(LIVE.glob("*.toml")), ids=lambda p: p.name)
def test_live_tariff_loads_and_is_unknown_until_fetched(path, tmp_path):
    tariff = load_tariff(path)
    assert tariff.feed_settings is not None
    start = datetime(2024, 3, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    assert all(s.price is None for s in tariff.price_slots(start, start.replace(day=6)))
    if tariff.feed_settings.source in ("entsoe", "tibber"):
        return  # they need a token file, which the repository does not ship
    prices = TariffPrices.open(tariff, path.parent, tmp_path)
    assert prices.source == tariff.feed_settings.source and prices.known_until is None
    slots, forecast_from = prices.planning_slots(start, start.replace(day=6))
    assert all(s.price is None for s in slots) and forecast_from == start.replace(day=6)
