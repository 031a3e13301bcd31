"""The backtest as one self-contained HTML page: inline SVG and CSS, nothing fetched.

Three pictures: the monthly cost of each strategy, the cumulative saving against dumb charging
session by session, and a heatmap of when `ours` and `dumb` drew their energy (local weekday ×
hour). Drawn here in plain SVG so that the page opens offline and needs no chart library.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import datetime, tzinfo
from pathlib import Path

from optimizer.backtest.runner import STRATEGIES, BacktestResult
from optimizer.errors import InputError
from optimizer.prices.grid import slot_start

COLOURS = {"dumb": "#9e9e9e", "evcc_like": "#f0a030", "ours": "#2e7d32", "optimum": "#1565c0"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _monthly(result: BacktestResult, tz: tzinfo) -> tuple[list[str], dict[str, list[float]]]:
    months = sorted({s.arrival.astimezone(tz).strftime("%Y-%m") for s in result.sessions})
    costs: dict[str, list[float]] = {}
    for name in STRATEGIES:
        by_month: dict[str, float] = defaultdict(float)
        for session, cost in zip(result.sessions, result.strategies[name].session_costs,
                                 strict=True):
            by_month[session.arrival.astimezone(tz).strftime("%Y-%m")] += cost
        costs[name] = [by_month[m] for m in months]
    return months, costs


def _bars(months: list[str], costs: dict[str, list[float]], currency: str) -> str:
    width, height, left, bottom = 900, 300, 60, 40
    top = max((max(v) for v in costs.values() if v), default=1.0) or 1.0
    low = min(0.0, min((min(v) for v in costs.values() if v), default=0.0))
    span = top - low
    group = (width - left - 10) / max(len(months), 1)
    bar = group * 0.8 / len(STRATEGIES)

    def y(value: float) -> float:
        return 10 + (top - value) / span * (height - bottom - 10)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="monthly cost">']
    for tick in range(5):
        value = low + span * tick / 4
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'class="grid"/><text x="{left - 6}" y="{y(value) + 4:.1f}" '
                     f'class="axis" text-anchor="end">{value:.0f}</text>')
    for m, month in enumerate(months):
        x0 = left + m * group + group * 0.1
        for k, name in enumerate(STRATEGIES):
            value = costs[name][m]
            y0, y1 = sorted((y(0.0), y(value)))
            parts.append(
                f'<rect x="{x0 + k * bar:.1f}" y="{y0:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{COLOURS[name]}">'
                f"<title>{month} {name}: {value:.2f} {html.escape(currency)}</title></rect>"
            )
        parts.append(f'<text x="{x0 + group * 0.4:.1f}" y="{height - bottom + 16}" '
                     f'class="axis" text-anchor="middle">{month[2:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cumulative(result: BacktestResult) -> str:
    width, height, left = 900, 260, 60
    base = result.strategies["dumb"].session_costs
    series = {}
    for name in STRATEGIES[1:]:
        total, points = 0.0, [0.0]
        for dumb_cost, cost in zip(base, result.strategies[name].session_costs, strict=True):
            total += dumb_cost - cost
            points.append(total)
        series[name] = points
    top = max((max(p) for p in series.values()), default=1.0) or 1.0
    low = min(0.0, min((min(p) for p in series.values()), default=0.0))
    span = (top - low) or 1.0
    count = max(len(base), 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="cumulative saving">']
    for tick in range(5):
        value = low + span * tick / 4
        yy = 10 + (top - value) / span * (height - 40)
        parts.append(f'<line x1="{left}" x2="{width}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" class="axis" '
                     f'text-anchor="end">{value:.0f}</text>')
    for name, points in series.items():
        coords = " ".join(
            f"{left + i / count * (width - left - 10):.1f},"
            f"{10 + (top - v) / span * (height - 40):.1f}"
            for i, v in enumerate(points)
        )
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{COLOURS[name]}" '
                     f'stroke-width="2"><title>{name}</title></polyline>')
    parts.append(f'<text x="{width - 10}" y="{height - 10}" class="axis" text-anchor="end">'
                 f"sessions →</text></svg>")
    return "".join(parts)


def _heatmap(result: BacktestResult, name: str, tz: tzinfo) -> str:
    cells = [[0.0] * 24 for _ in range(7)]
    for slot, kwh in result.strategies[name].draw_by_slot.items():
        local = slot_start(slot).astimezone(tz)
        cells[local.weekday()][local.hour] += kwh
    peak = max(max(row) for row in cells) or 1.0
    size, left, top = 30, 40, 20
    parts = [f'<svg viewBox="0 0 {left + 24 * size + 10} {top + 7 * size + 10}" role="img" '
             f'aria-label="charging hours of {name}">']
    for hour in range(0, 24, 3):
        parts.append(f'<text x="{left + hour * size + size / 2}" y="14" class="axis" '
                     f'text-anchor="middle">{hour:02d}</text>')
    for day, row in enumerate(cells):
        parts.append(f'<text x="{left - 6}" y="{top + day * size + 19}" class="axis" '
                     f'text-anchor="end">{_DAYS[day]}</text>')
        for hour, kwh in enumerate(row):
            alpha = kwh / peak
            parts.append(
                f'<rect x="{left + hour * size}" y="{top + day * size}" width="{size - 2}" '
                f'height="{size - 2}" fill="{COLOURS[name]}" fill-opacity="{alpha:.3f}" '
                f'stroke="#ddd"><title>{_DAYS[day]} {hour:02d}:00 {kwh:.1f} kWh</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse} td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:right} th:first-child,td:first-child{text-align:left}
.grid{stroke:#eee} .axis{font-size:11px;fill:#555} svg{width:100%;height:auto}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 14px;vertical-align:middle}
"""


def render_report(result: BacktestResult, tz: tzinfo, currency: str = "EUR",
                  title: str = "Charging backtest") -> str:
    data = result.to_json()
    rows = []
    for name in STRATEGIES:
        s = data["strategies"][name]
        saving = data["saving_vs_dumb"].get(name, {"amount": 0.0, "pct": 0.0})
        pct = f"{saving['pct']:.1f} %" if saving["pct"] is not None else "-"
        avg = f"{s['avg_price']:.4f}" if s["avg_price"] is not None else "-"
        rows.append(f"<tr><td>{name}</td><td>{s['cost']:.2f}</td><td>{s['energy_kwh']:.1f}</td>"
                    f"<td>{avg}</td><td>{s['missed']}</td><td>{saving['amount']:.2f}</td>"
                    f"<td>{pct}</td></tr>")
    key = "".join(f'<span style="background:{c}"></span>{n}' for n, c in COLOURS.items())
    months, costs = _monthly(result, tz)
    first = min((s.arrival for s in result.sessions), default=None)
    last = max((s.departure for s in result.sessions), default=None)
    span = (f"{_day(first, tz)} to {_day(last, tz)}" if first and last else "no sessions")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{data['sessions']} sessions, {span}. Costs in {html.escape(currency)}, energy grid-side.</p>
<table><tr><th>strategy</th><th>cost</th><th>kWh</th><th>per kWh</th><th>missed</th>
<th>saving</th><th>saving %</th></tr>{''.join(rows)}</table>
<h2>Monthly cost per strategy</h2><p class="key">{key}</p>{_bars(months, costs, currency)}
<h2>Cumulative saving against dumb charging</h2>{_cumulative(result)}
<h2>When ours charged (kWh by weekday and hour)</h2>{_heatmap(result, "ours", tz)}
<h2>When dumb charging charged</h2>{_heatmap(result, "dumb", tz)}
</body></html>
"""


def _day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d")


def write_report(path: Path, result: BacktestResult, tz: tzinfo, currency: str = "EUR") -> None:
    try:
        path.write_text(render_report(result, tz, currency), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror}") from None
