"""Tariff files and price CSVs: shipped examples, zone rules, DST, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from optimizer.errors import InputError
from optimizer.planner import PlanRequest, plan
from optimizer.tariffs import load_tariff, read_price_csv

REPO = Path(__file__).resolve().parents[2]
TARIFFS = REPO / "tariffs"
BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")


def _day(tz: ZoneInfo, year: int, month: int, day: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, day, tzinfo=tz)
    return start, datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=tz)


@pytest.mark.parametrize("path", sorted(TARIFFS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_tariff_loads_and_prices_a_day(path: Path) -> None:
    tariff = load_tariff(path)
    start, end = _day(tariff.tz, 2024, 3, 5)
    slots = tariff.price_slots(start, end)
    assert len(slots) == 96
    assert all(s.price is not None and 0.0 < s.price < 1.5 for s in slots)


def test_flat_tariff() -> None:
    tariff = load_tariff(TARIFFS / "de_flat.toml")
    assert {s.price for s in tariff.price_slots(*_day(BERLIN, 2024, 6, 1))} == {0.40}


@pytest.mark.parametrize(("day", "slots"), [(31, 92), (27, 100)])
def test_dst_days_in_berlin_have_the_right_number_of_slots(day: int, slots: int) -> None:
    month = 3 if day == 31 else 10
    tariff = load_tariff(TARIFFS / "de_flat.toml")
    assert len(tariff.price_slots(*_day(BERLIN, 2024, month, day))) == slots


@pytest.mark.parametrize(("month", "day", "cheap_slots"), [(3, 31, 16), (10, 27, 24), (6, 1, 20)])
def test_octopus_go_window_follows_the_wall_clock_across_dst(month: int, day: int,
                                                             cheap_slots: int) -> None:
    """00:30-05:30 local is 4 h on the spring-forward night, 6 h on the fall-back night."""
    tariff = load_tariff(TARIFFS / "uk_octopus_go.toml")
    slots = tariff.price_slots(*_day(LONDON, 2024, month, day))
    assert sum(1 for s in slots if s.price == 0.085) == cheap_slots


def test_dynamic_price_formula() -> None:
    tariff = load_tariff(TARIFFS / "de_dynamic.toml")
    at = datetime(2024, 3, 5, 17, 0, tzinfo=UTC)
    spot = read_price_csv(TARIFFS / "prices" / "de_lu_dayahead_2024.csv").price_at(at)
    assert spot is not None
    assert tariff.price_at(at) == pytest.approx((spot + 0.0215) * 1.19 + 0.1926)


def test_module3_grid_fee_zones_apply_by_quarter_and_hour() -> None:
    tariff = load_tariff(TARIFFS / "de_dynamic_14a_module3.toml")
    flat = load_tariff(TARIFFS / "de_dynamic.toml")
    def charges(at: datetime) -> float:
        price = tariff.price_at(at)
        base = flat.price_at(at)
        assert price is not None and base is not None
        return price - (base - 0.1926)
    january_night = datetime(2024, 1, 10, 2, 0, tzinfo=BERLIN)
    january_peak = datetime(2024, 1, 10, 18, 0, tzinfo=BERLIN)
    july_night = datetime(2024, 7, 10, 2, 0, tzinfo=BERLIN)
    assert charges(january_night) == pytest.approx(0.1057)
    assert charges(january_peak) == pytest.approx(0.2413)
    assert charges(july_night) == pytest.approx(0.1699)


def test_nl_low_rate_on_weekend_and_weekday_nights() -> None:
    tariff = load_tariff(TARIFFS / "nl_day_night.toml")
    tz = tariff.tz
    assert tariff.price_at(datetime(2024, 3, 4, 3, 0, tzinfo=tz)) == 0.27  # Monday 03:00
    assert tariff.price_at(datetime(2024, 3, 4, 12, 0, tzinfo=tz)) == 0.31  # Monday noon
    assert tariff.price_at(datetime(2024, 3, 4, 23, 30, tzinfo=tz)) == 0.27  # Monday 23:30
    assert tariff.price_at(datetime(2024, 3, 9, 12, 0, tzinfo=tz)) == 0.27  # Saturday noon


def test_last_matching_zone_wins(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        'name = "t"\nkind = "fixed"\nprice = 0.3\n'
        '[[zones]]\nprice = 0.2\nhours = "00:00-12:00"\n'
        '[[zones]]\nprice = 0.1\nhours = "06:00-08:00"\n'
    )
    tariff = load_tariff(path)
    tz = tariff.tz
    assert tariff.price_at(datetime(2024, 1, 1, 5, tzinfo=tz)) == 0.2
    assert tariff.price_at(datetime(2024, 1, 1, 7, tzinfo=tz)) == 0.1
    assert tariff.price_at(datetime(2024, 1, 1, 13, tzinfo=tz)) == 0.3


def test_plan_over_the_spring_forward_night() -> None:
    tariff = load_tariff(TARIFFS / "de_dynamic.toml")
    now = datetime(2024, 3, 30, 20, 0, tzinfo=BERLIN)
    departure = datetime(2024, 3, 31, 7, 0, tzinfo=BERLIN)  # 10 real hours, 11 on the clock
    request = PlanRequest(now=now, departure=departure, soc_pct=20, target_soc_pct=90,
                          capacity_kwh=76.4, max_power_kw=11.0,
                          prices=tariff.price_slots(now, departure))
    result = plan(request)
    assert len(result.slots) == 40
    assert result.feasible
    for slot in result.charging_slots:
        assert slot.energy_kwh == pytest.approx(slot.power_kw * 0.25)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,price\n2024-01-01T00:00Z,0.1\n", "missing column 'start'"),
        ("start,price\nyesterday,0.1\n", "is not an ISO 8601 time"),
        ("start,price\n2024-01-01T00:00,0.1\n", "has no UTC offset"),
        ("start,price\n2024-01-01T00:00Z,abc\n", "'abc' is not a number"),
        ("start,price\n2024-01-01T01:00Z,0.1\n2024-01-01T00:00Z,0.1\n", "not after the previous"),
        ("start,price\n", "no price rows"),
        ("start,end,price\n2024-01-01T01:00Z,2024-01-01T00:00Z,0.1\n", "end is not after start"),
    ],
)
def test_bad_price_csv_names_file_line_and_column(tmp_path: Path, content: str,
                                                  message: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_price_csv(path)
    assert str(path) in str(info.value)


def test_price_csv_without_end_and_its_slots() -> None:
    series = read_price_csv(TARIFFS / "prices" / "de_lu_dayahead_2024.csv")
    start = datetime(2024, 12, 31, 22, 0, tzinfo=UTC)
    slots = series.price_slots(start, start + timedelta(hours=4))
    assert len(slots) == 16
    assert slots[7].price is not None and slots[8].price is None  # the series ends at 2025


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('name = "x"\nkind = "fixed"\n', "needs a base price"),
        ('name = "x"\nkind = "hourly"\nprice = 1\n', "kind"),
        ('name = "x"\nkind = "fixed"\nprice = 1\nprise = 2\n', "unknown key"),
        ('name = "x"\nkind = "fixed"\nprice = 1\n[[zones]]\nprice = 1\ndays = "Mon-Fry"\n',
         "'fry' is not valid here"),
        ('name = "x"\nkind = "fixed"\nprice = 1\n[[zones]]\nprice = 1\nhours = "25:00-26:00"\n',
         "not a time of day"),
        ('name = "x"\nkind = "dynamic"\n', "needs a \\[spot\\] table"),
        ('name = "x"\nkind = "fixed"\nprice = 1\ntimezone = "Mars/Base"\n', "IANA"),
        ('name = "x"\nkind = ', "not valid TOML"),
    ],
)
def test_bad_tariff_files_name_the_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tariff.toml"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_tariff(path)
