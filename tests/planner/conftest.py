"""Shared builders for planner tests: price slots from a list, real DE-LU prices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from optimizer.model import PriceSlot
from optimizer.tariffs import PriceSeries, read_price_csv

REPO = Path(__file__).resolve().parents[2]
DE_LU_2024 = REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv"


def slots(prices: Sequence[float | None], start: datetime, minutes: int = 60) -> list[PriceSlot]:
    step = timedelta(minutes=minutes)
    return [PriceSlot(start + i * step, start + (i + 1) * step, p) for i, p in enumerate(prices)]


@pytest.fixture(scope="session")
def de_lu() -> PriceSeries:
    return read_price_csv(DE_LU_2024)
