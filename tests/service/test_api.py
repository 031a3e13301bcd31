"""The JSON API of a running service, over real HTTP (uvicorn on a free loopback port)."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from optimizer.events import Notification, NotificationKind
from optimizer.service.clock import WallClock
from optimizer.session import Plugged, SocReport
from optimizer.sim.scenario import spot_tariff
from optimizer.web.facade import ServiceFacade
from tests.service.conftest import departure_in, in_process

FIELDS = ["name", "vin", "plugged", "charging", "soc_pct", "soc_low_pct", "soc_high_pct",
          "target_soc_pct", "departure", "plan", "session"]


async def test_api_contract(make_household: Any, tmp_path: Any) -> None:
    now = datetime.now(UTC)
    household = make_household(tariff=spot_tariff(tmp_path, now + timedelta(hours=2)),
                               departure=departure_in(now, 14))
    async with in_process(household, WallClock()) as started:
        base = started.api_url.removesuffix("/api")
        token = started.token_file.read_text().strip()
        assert stat.S_IMODE(started.token_file.stat().st_mode) == 0o600
        auth = {"Authorization": f"Bearer {token}"}
        service = started.service
        async with httpx.AsyncClient(base_url=base) as client:
            for path in ("/api/vehicles", "/api/sessions", "/api/health", "/api/nothing"):
                assert (await client.get(path)).status_code == 401, path
            response = await client.post("/api/vehicles/iX1/boost", json={"on": True})
            assert response.status_code == 401
            assert (await client.get("/openapi.json")).status_code == 200
            health = (await client.get("/api/health", headers=auth)).json()
            assert health["status"] == "ok"
            assert health["prices"]["source"] == "csv" and health["prices"]["stale"] is False
            [view] = (await client.get("/api/vehicles", headers=auth)).json()
            assert list(view)[:len(FIELDS)] == FIELDS
            assert view["plugged"] is False and view["plan"] is None and view["session"] is None

            service.submit("iX1", SocReport(30.0, 29.5, 30.5, now))
            await service.submit_and_wait("iX1", Plugged("car"))
            [view] = (await client.get("/api/vehicles", headers=auth)).json()
            assert view["plugged"] and view["plan"]["feasible"]
            first_energy = view["plan"]["energy_kwh"]
            assert view["session"]["energy_kwh"] == 0.0

            response = await client.post("/api/vehicles/iX1/target", headers=auth,
                                          json={"soc_pct": 100})
            assert response.status_code == 200
            assert response.json()["target_soc_pct"] == 100
            assert response.json()["plan"]["energy_kwh"] > first_energy + 10
            departure = (now + timedelta(hours=20)).isoformat()
            response = await client.post("/api/vehicles/iX1/target", headers=auth,
                                         json={"departure": departure})
            assert datetime.fromisoformat(response.json()["departure"]) == \
                datetime.fromisoformat(departure)

            for body, status in (({"soc_pct": 150}, 422), ({"departure": "tomorrow"}, 422),
                                 ({"departure": "2026-01-01T07:00:00"}, 422),
                                 ({"departure": (now - timedelta(hours=1)).isoformat()}, 422),
                                 ({"colour": "red"}, 422)):
                response = await client.post("/api/vehicles/iX1/target", headers=auth,
                                             json=body)
                assert response.status_code == status, body
            missing = await client.post("/api/vehicles/nope/target", headers=auth, json={})
            assert missing.status_code == 404

            boosted = (await client.post("/api/vehicles/iX1/boost", headers=auth,
                                         json={"on": True})).json()
            assert boosted["boost"] is True
            first = boosted["plan"]["slots"][0]
            assert datetime.fromisoformat(first["start"]) <= datetime.now(UTC) + \
                timedelta(minutes=1)  # charging at once
            smart = (await client.post("/api/vehicles/iX1/smart", headers=auth,
                                       json={"on": False})).json()
            assert smart["smart"] is False
            sessions = (await client.get("/api/sessions", headers=auth)).json()
            assert sessions[0]["id"] == view["session"]["id"]
            assert set(sessions[0]) == {"id", "vehicle", "started_at", "ended_at", "energy_kwh",
                                        "cost", "cost_on_arrival", "saving"}


async def test_changes_yields_the_snapshot_after_each_change(make_household: Any,
                                                             tmp_path: Any) -> None:
    now = datetime.now(UTC)
    household = make_household(tariff=spot_tariff(tmp_path, now + timedelta(hours=2)),
                               departure=departure_in(now, 14))
    async with in_process(household, WallClock()) as started:
        service = started.service
        changes = service.changes()
        first = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0)  # let the subscriber register before the change
        await service.submit_and_wait("iX1", Plugged("car"))
        snapshot = await asyncio.wait_for(first, 5)
        assert snapshot[0]["plugged"] is True
        await service.set_boost("iX1", True)
        while not (await asyncio.wait_for(anext(changes), 5))[0]["boost"]:
            pass
        await changes.aclose()


async def test_notifiers_and_extra_adapters_are_wired_in_one_line_each(
        make_household: Any, tmp_path: Any) -> None:
    now = datetime.now(UTC)
    household = make_household(tariff=spot_tariff(tmp_path, now + timedelta(hours=2)),
                               departure=departure_in(now, 14))
    got: list[Notification] = []
    seen: list[ServiceFacade] = []

    class Recorder:
        async def notify(self, notification: Notification) -> None:
            got.append(notification)

    async def entities(facade: ServiceFacade) -> None:  # e.g. the HA MQTT publisher
        seen.append(facade)

    async with in_process(household, WallClock(), notifiers=[Recorder()],
                          adapters=[entities]) as started:
        service = started.service
        service.submit("iX1", SocReport(30.0, 29.5, 30.5, now))
        await service.submit_and_wait("iX1", Plugged("car"))
        assert seen == [service]
        plan = next(n for n in got if n.kind is NotificationKind.PLAN)
        assert plan.vehicle == "iX1" and plan.body.startswith("iX1 charges ")
