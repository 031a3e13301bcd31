"""The household case of the planner README: two cars on 11 kW wallboxes behind a 16 A
three-phase house connection (3 x 16 A x 230 V = 11.04 kW), on real DE-LU prices.

Compares the joint plan with planning each car alone (as evcc does) and then clipping both
proportionally wherever they add up to more than the connection allows (what a circuit limit
does live): the clipped plans cost less only because they deliver less.

Run: .venv/bin/python bench/household.py
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

from optimizer.planner import PlanRequest, plan
from optimizer.planner.fleet import FleetRequest, FleetVehicle, plan_fleet
from optimizer.tariffs import read_price_csv

REPO = Path(__file__).resolve().parents[1]
SITE_KW = 3 * 16 * 230 / 1000
NOW = datetime.fromisoformat("2024-03-05T18:07:00+01:00")
CARS = (
    FleetVehicle("iX1", 20, 80, 64.7, datetime.fromisoformat("2024-03-06T07:30:00+01:00"), 11.0),
    FleetVehicle("i4", 35, 90, 80.7, datetime.fromisoformat("2024-03-06T06:45:00+01:00"), 11.0),
)


def main() -> None:
    series = read_price_csv(REPO / "tariffs" / "prices" / "de_lu_dayahead_2024.csv")
    last = max(car.departure for car in CARS)
    prices = series.price_slots(NOW, last)
    joint = plan_fleet(FleetRequest(NOW, SITE_KW, CARS, prices))

    alone = {
        car.name: plan(PlanRequest(
            now=NOW, departure=car.departure, soc_pct=car.soc_pct,
            target_soc_pct=car.target_soc_pct, capacity_kwh=car.capacity_kwh,
            max_power_kw=car.max_power_kw, efficiency=car.efficiency,
            prices=series.price_slots(NOW, car.departure),
        ))
        for car in CARS
    }
    total: dict[datetime, float] = defaultdict(float)
    for result in alone.values():
        for slot in result.charging_slots:
            total[slot.start] += slot.power_kw
    print(f"site limit {SITE_KW:.2f} kW; planned alone the cars draw up to "
          f"{max(total.values()):.2f} kW together\n")
    print("| plan | iX1 kWh | i4 kWh | iX1 SoC at departure | i4 SoC at departure | cost EUR |")
    print("|---|---|---|---|---|---|")
    by_name = {v.name: v for v in joint.vehicles}
    print(f"| joint (plan --fleet) | {by_name['iX1'].energy_kwh:.2f} | "
          f"{by_name['i4'].energy_kwh:.2f} | {by_name['iX1'].soc_at_departure_pct:.1f} % | "
          f"{by_name['i4'].soc_at_departure_pct:.1f} % | {joint.cost:.4f} |")
    print(f"| each alone, limit ignored | {alone['iX1'].energy_kwh:.2f} | "
          f"{alone['i4'].energy_kwh:.2f} | {alone['iX1'].soc_at_departure_pct:.1f} % | "
          f"{alone['i4'].soc_at_departure_pct:.1f} % | "
          f"{sum(r.cost for r in alone.values()):.4f} (not allowed: "
          f"{max(total.values()):.2f} kW) |")
    clipped_cost = 0.0
    clipped: dict[str, tuple[float, float]] = {}
    for car in CARS:
        energy = 0.0
        for slot in alone[car.name].charging_slots:
            scale = min(1.0, SITE_KW / total[slot.start])
            energy += slot.energy_kwh * scale
            clipped_cost += slot.energy_kwh * scale * slot.price
        soc = car.soc_pct + energy * car.pct_per_kwh
        clipped[car.name] = (energy, soc)
    print(f"| each alone, then clipped to {SITE_KW:.2f} kW | {clipped['iX1'][0]:.2f} | "
          f"{clipped['i4'][0]:.2f} | {clipped['iX1'][1]:.1f} % | {clipped['i4'][1]:.1f} % | "
          f"{clipped_cost:.4f} |")
    short = sum(car.need_kwh - clipped[car.name][0] for car in CARS)
    average = joint.cost / sum(v.energy_kwh for v in joint.vehicles)
    print(f"\nclipped: {short:.2f} kWh short of the targets; at the joint plan's average "
          f"price ({average:.4f} EUR/kWh) that energy would cost {short * average:.4f} more, "
          f"if it could still be had before departure\n")

    print("The joint plan by hour (kW on average over each hour, EUR/kWh):\n")
    print("| hour | price | iX1 kW | i4 kW | together |")
    print("|---|---|---|---|---|")
    hours: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    price_of: dict[datetime, float] = {}
    for vehicle in joint.vehicles:
        for slot in vehicle.charging_slots:
            hour = slot.start.replace(minute=0, second=0)
            hours[hour][vehicle.name] += slot.energy_kwh
            price_of[hour] = slot.price
    for hour in sorted(hours):
        row = hours[hour]
        print(f"| {hour:%a %H:%M} | {price_of[hour]:.4f} | {row['iX1']:.2f} | {row['i4']:.2f} | "
              f"{row['iX1'] + row['i4']:.2f} |")


if __name__ == "__main__":
    main()
