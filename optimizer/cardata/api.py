"""The CarData REST API (httpx), every call charged to the persisted daily quota first.

Headers are BMW's: `Authorization: Bearer <access_token>` and `x-version: v1`. Errors come as
`{"exveErrorId": "CU-…", "exveNote": …}`; the two that users misread get messages that say what
to do: CU-429 (the daily quota, sent as HTTP 403 and so easily taken for an auth error) and
CU-103 (the login lacks the `cardata:api:read` scope). An expired or rejected access token is
refreshed once and the call retried.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from optimizer.cardata.auth import TokenManager
from optimizer.cardata.quota import QuotaExhausted, QuotaLedger
from optimizer.cardata.settings import CardataSettings
from optimizer.errors import UserError
from optimizer.ports import Clock

log = logging.getLogger(__name__)

MAX_CONTAINERS = 10
HISTORY_WINDOW = timedelta(days=45)
"""chargingHistory rejects longer ranges (CU-401)."""
CONTAINER_NAME = "ev-optimizer"
CONTAINER_DESCRIPTORS = (
    "vehicle.drivetrain.batteryManagement.header",
    "vehicle.drivetrain.electricEngine.charging.level",
    "vehicle.powertrain.electric.battery.stateOfCharge.displayed",
    "vehicle.drivetrain.batteryManagement.maxEnergy",
    "vehicle.drivetrain.electricEngine.charging.status",
    "vehicle.powertrain.electric.battery.charging.power",
    "vehicle.powertrain.electric.battery.stateOfCharge.target",
    "vehicle.powertrain.tractionBattery.charging.port.anyPosition.isPlugged",
    "vehicle.drivetrain.electricEngine.charging.phaseNumber",
)


class ApiError(UserError):
    """CarData answered with an error the user has to act on."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


_ADVICE = {
    "CU-103": "the login lacks the 'cardata:api:read' scope; in the MyBMW portal subscribe the "
              "CarData client to 'CarData API', then run `ev-optimizer login` again",
    "CU-104": "this account is not the PRIMARY user of the vehicle; only the primary user "
              "may read it",
    "CU-105": "the container does not exist any more (deleted or not yours)",
    "CU-124": f"the account already has {MAX_CONTAINERS} containers; delete one first",
    "CU-401": "a parameter was refused (chargingHistory accepts at most 45 days per call)",
}


class CardataApi:
    def __init__(self, settings: CardataSettings, tokens: TokenManager, ledger: QuotaLedger,
                 http: httpx.AsyncClient, *, clock: Clock) -> None:
        self.base = settings.api_base_url.rstrip("/")
        self.tokens = tokens
        self.ledger = ledger
        self.http = http
        self.clock = clock

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      json_body: Any = None, essential: bool = False) -> Any:
        """One API call: charge the ledger, send, map errors; retries once after a refresh."""
        for attempt in (1, 2):
            tokens = await self.tokens.valid(force=attempt == 2)  # refreshes cost no quota
            self.ledger.spend(self.clock.now(), essential=essential)
            response = await self.http.request(
                method, f"{self.base}{path}", params=params, json=json_body,
                headers={"Authorization": f"Bearer {tokens.access_token}", "x-version": "v1",
                         "Accept": "application/json"})
            if response.status_code < 400:
                return None if response.status_code == 204 or not response.content \
                    else response.json()
            code, note = _error_of(response)
            log.warning("CarData %s %s: HTTP %d %s", method, path, response.status_code,
                        code or "-")
            if code == "CU-429" or response.status_code == 429:
                self.ledger.exhaust(self.clock.now())
                raise QuotaExhausted(
                    "BMW says the CarData REST quota is used up (CU-429: 50 calls a day per "
                    "account, shared by every app using it); it resets at 00:00 UTC. The MQTT "
                    "stream keeps working")
            if response.status_code == 401 and attempt == 1:
                continue  # expired or revoked access token: refresh once and retry
            advice = _ADVICE.get(code, note or response.reason_phrase)
            raise ApiError(f"CarData {method} {path} failed: HTTP {response.status_code} "
                           f"{code}: {advice}", code, response.status_code)
        raise AssertionError("unreachable")  # pragma: no cover

    async def mappings(self) -> list[dict[str, Any]]:
        body = await self.request("GET", "/customers/vehicles/mappings")
        # Swagger says an object, BMW sends an array; accept both
        if isinstance(body, dict):
            body = body.get("mappings") or [body]
        return [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []

    async def basic_data(self, vin: str) -> dict[str, Any]:
        body = await self.request("GET", f"/customers/vehicles/{vin}/basicData")
        return body if isinstance(body, dict) else {}

    async def containers(self) -> list[dict[str, Any]]:
        body = await self.request("GET", "/customers/containers")
        items = body.get("containers", []) if isinstance(body, dict) else []
        return [c for c in items if isinstance(c, dict)]

    async def create_container(self, descriptors: tuple[str, ...] = CONTAINER_DESCRIPTORS,
                               name: str = CONTAINER_NAME,
                               purpose: str = "Smart charging") -> dict[str, Any]:
        body = await self.request("POST", "/customers/containers", json_body={
            "name": name, "purpose": purpose, "technicalDescriptors": list(descriptors)})
        return body if isinstance(body, dict) else {}

    async def delete_container(self, container_id: str) -> None:
        await self.request("DELETE", f"/customers/containers/{container_id}")

    async def telematic_data(self, vin: str, container_id: str) -> dict[str, Any]:
        body = await self.request("GET", f"/customers/vehicles/{vin}/telematicData",
                                  params={"containerId": container_id})
        data = body.get("telematicData") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else {}

    async def charging_history(self, vin: str, start: datetime,
                               end: datetime) -> list[dict[str, Any]]:
        """All sessions in [start, end): 45-day windows, pages of 10 (each page is a call)."""
        sessions: list[dict[str, Any]] = []
        window_start = start
        while window_start < end:
            window_end = min(end, window_start + HISTORY_WINDOW)
            next_token: str | None = None
            while True:
                params = {"from": _iso(window_start), "to": _iso(window_end)}
                if next_token:
                    params["nextToken"] = next_token
                body = await self.request("GET", f"/customers/vehicles/{vin}/chargingHistory",
                                          params=params)
                page = body.get("data", []) if isinstance(body, dict) else []
                sessions.extend(s for s in page if isinstance(s, dict))
                next_token = body.get("next_token") if isinstance(body, dict) else None
                if not next_token:
                    break
            window_start = window_end
        return sessions


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("exveErrorId", "")), str(body.get("exveNote", ""))
