"""A plan as text: a table of the charging slots and a price chart with them marked.

Plain characters only (no colours), so the output reads the same in a terminal, a log file or
a notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from optimizer.model import ChargePlan, PlannedSlot

_MAX_COLUMNS = 96
_HEIGHT = 10


def render_plan(plan: ChargePlan, *, currency: str, tz: tzinfo | None) -> str:
    lines = [_headline(plan, currency, tz)]
    charging = plan.charging_slots
    if charging:
        lines += ["", _table(charging, currency, tz)]
    if plan.slots:
        lines += ["", *_chart(plan.slots, currency, tz)]
    return "\n".join(lines)


def _headline(plan: ChargePlan, currency: str, tz: tzinfo | None) -> str:
    status = "feasible" if plan.feasible else "NOT feasible"
    average = plan.cost / plan.energy_kwh if plan.energy_kwh > 0 else 0.0
    parts = [
        f"Plan {plan.now.astimezone(tz):%a %d %b %H:%M} -> departure "
        f"{plan.departure.astimezone(tz):%a %d %b %H:%M}: {status}",
        f"  SoC {plan.soc_start_pct:.1f}% -> {plan.soc_at_departure_pct:.1f}% "
        f"(target {plan.target_soc_pct:g}%)",
        f"  {plan.energy_kwh:.2f} kWh from the grid for {plan.cost:.2f} {currency} "
        f"(average {average:.4f} {currency}/kWh)",
    ]
    if plan.reason:
        parts.append(f"  note: {plan.reason}")
    return "\n".join(parts)


def _table(slots: tuple[PlannedSlot, ...], currency: str, tz: tzinfo | None) -> str:
    header = (
        f"{'start':<16} {'end':<5} {'price ' + currency + '/kWh':>15} {'power kW':>9} "
        f"{'energy kWh':>10} {'SoC %':>12}"
    )
    rows = [header, "-" * len(header)]
    for slot in slots:
        flag = " *" if slot.provisional else ""
        rows.append(
            f"{slot.start.astimezone(tz):%a %d %H:%M}".ljust(16)
            + f" {slot.end.astimezone(tz):%H:%M}"
            + f" {slot.price:>15.4f} {slot.power_kw:>9.2f} {slot.energy_kwh:>10.3f}"
            + f" {slot.soc_start_pct:>5.1f}->{slot.soc_end_pct:>5.1f}{flag}"
        )
    fallback = next((s.price for s in slots if s.provisional), None)
    if fallback is not None:
        rows.append(f"* price not published yet; planned at the fallback price {fallback:.4f} "
                    f"(the note says why)")
    return "\n".join(rows)


def _chart(slots: Sequence[PlannedSlot], currency: str, tz: tzinfo | None) -> list[str]:
    """Price bars per slot (grouped when there are many): '#' charging, '.' idle, '?' unknown."""
    group = -(-len(slots) // _MAX_COLUMNS)
    columns = [slots[i:i + group] for i in range(0, len(slots), group)]
    prices = [sum(s.price for s in col) / len(col) for col in columns]
    high = max(prices)
    # Start the axis a little below the cheapest price, so small price differences show.
    low = min(prices) - 0.15 * ((high - min(prices)) or abs(high) or 1.0)
    span = high - low
    marks = []
    for col in columns:
        if any(s.power_kw > 0 for s in col):
            marks.append("#")
        elif any(s.provisional for s in col):
            marks.append("?")
        else:
            marks.append(".")
    out = [f"price {currency}/kWh per {15 * group} min; # = charging, . = idle, ? = unknown price"]
    for row in range(_HEIGHT, 0, -1):
        level = low + span * (row - 0.5) / _HEIGHT
        label = f"{low + span * row / _HEIGHT:8.3f} |" if row in (_HEIGHT, 1) else "         |"
        out.append(label + "".join(m if p >= level else " " for p, m in zip(prices, marks,
                                                                             strict=True)))
    out.append("         +" + "-" * len(columns))
    hours = ""
    for index, col in enumerate(columns):
        local = col[0].start.astimezone(tz)
        label = f"{local:%H}"
        if len(hours) <= index and local.minute < 15 * group and local.hour % 3 == 0:
            hours += label
        elif len(hours) <= index:
            hours += " "
    out.append("          " + hours)
    return out
