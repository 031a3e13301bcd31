"""The CarData simulator as one object: mosquitto, the HTTP endpoints, the stream gate, cars.

    with Simulator(tmp_path, SimConfig(token_lifetime_s=4)) as sim:
        settings = sim.settings()            # a [cardata] section pointing at the simulator
        car = sim.add_vehicle("WBA00000000000001")
        sim.publish(car, car.plug_in(now))

Everything listens on 127.0.0.1 only. The HTTP side is plain HTTP on loopback (the TLS that
matters for the product's fidelity is the stream's, which is BMW's TLS 1.3 requirement).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import ssl
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from optimizer.cardata.settings import CardataSettings
from optimizer.ports import Clock, WallClock
from optimizer.sim.broker import LogEvent, MosquittoBroker
from optimizer.sim.certs import make_certificates
from optimizer.sim.cloud import Cloud, SimConfig
from optimizer.sim.vehicle import SimVehicle, load_curve

log = logging.getLogger(__name__)

PUBLISHER = "cardata-sim"
HISTORY_PAGE = 10
HISTORY_MAX_DAYS = 45


class Simulator:
    """Start with `start()` (or `with`), stop with `stop()`; every resource is per instance."""

    def __init__(self, workdir: Path | None = None, config: SimConfig | None = None, *,
                 clock: Clock | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = clock or WallClock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cardata-sim-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.cloud = Cloud(self.config, self.clock)
        self.vehicles: dict[str, SimVehicle] = {}
        self._publisher_password = secrets.token_urlsafe(24)
        # mosquitto may run as its own user: its files live in a directory of their own under
        # the system temp dir, whose parents it can traverse (a pytest tmp_path may be 0700)
        self._broker_dir = tempfile.TemporaryDirectory(prefix="cardata-broker-")
        broker_dir = Path(self._broker_dir.name)
        self.certs = make_certificates(broker_dir / "tls")
        self.broker = MosquittoBroker(broker_dir, self.certs, on_event=self._on_log)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.http.daemon_threads = True
        self.http.simulator = self  # type: ignore[attr-defined]
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._publisher: mqtt.Client | None = None
        self._publisher_up = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Simulator:
        self.broker.configure(self._passwords(None), PUBLISHER)
        self.broker.start()
        def serve() -> None:
            self.http.serve_forever(poll_interval=0.05)

        for target, name in ((serve, "sim-http"), (self._gate_loop, "sim-gate")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._start_publisher()
        return self

    def stop(self) -> None:
        with self.cloud.cond:
            self._stopping = True
            self.cloud.cond.notify_all()
        if self._publisher is not None:
            self._publisher.disconnect()
            self._publisher.loop_stop()
        self.http.shutdown()
        self.http.server_close()
        self.broker.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._broker_dir.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def restart_broker(self) -> None:
        """Stop mosquitto and start it again on the same port (every session is dropped)."""
        self._publisher_up.clear()
        self.broker.restart()

    # -- where things are ------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def settings(self) -> CardataSettings:
        return CardataSettings(client_id=self.config.client_id,
                               auth_base_url=f"{self.http_url}/gcdm/oauth",
                               api_base_url=self.http_url, stream_host="localhost",
                               stream_port=self.broker.port, ca_file=self.certs.ca_file)

    def config_toml(self) -> str:
        """The `[cardata]` table pointing at this simulator, for a config.toml."""
        s = self.settings()
        return "\n".join([
            "[cardata]", f'client_id = "{s.client_id}"', f'auth_base_url = "{s.auth_base_url}"',
            f'api_base_url = "{s.api_base_url}"', f'stream_host = "{s.stream_host}"',
            f"stream_port = {s.stream_port}", f'ca_file = "{s.ca_file}"', ""])

    # -- the stream gate -------------------------------------------------------------------------

    def _passwords(self, token: str | None) -> dict[str, str]:
        entries = {PUBLISHER: self._publisher_password}
        if token is not None:
            entries[self.config.gcid] = token
        return entries

    def _on_log(self, event: LogEvent) -> None:
        if event.kind == "connected" and event.username == PUBLISHER:
            self._publisher_up.set()
        self.cloud.on_log_event(event)

    def _gate_loop(self) -> None:
        cloud = self.cloud
        while True:
            with cloud.cond:
                while True:
                    if self._stopping:
                        return
                    now = self.clock.now()
                    desired = cloud.desired_token(now)
                    version = cloud.gate_version
                    if desired != cloud.pending_token:
                        cloud.pending_token = desired
                        break
                    if cloud.applied_token == desired:
                        cloud.applied_version = max(cloud.applied_version, version)
                        cloud.cond.notify_all()
                    upcoming = cloud.next_gate_change(now)
                    timeout = None if upcoming is None else max(
                        0.001, (upcoming - now).total_seconds())
                    cloud.cond.wait(timeout if cloud.applied_token == desired
                                    else min(timeout or 0.05, 0.05))
            self.broker.set_passwords(self._passwords(desired))  # not under the lock
            with cloud.cond:
                if not self.broker.running:
                    cloud.applied_token = desired
                cloud.applied_version = max(cloud.applied_version, version)
                cloud.cond.notify_all()

    # -- vehicles and publishing -----------------------------------------------------------------

    def add_vehicle(self, vin: str, **options: Any) -> SimVehicle:
        curve = options.pop("curve", None) or load_curve("iX1", "xDrive30")
        vehicle = SimVehicle(vin=vin, gcid=self.config.gcid, curve=curve, **options)
        self.vehicles[vin] = vehicle
        return vehicle

    def _start_publisher(self) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=PUBLISHER,
                             protocol=mqtt.MQTTv311)
        client.username_pw_set(PUBLISHER, self._publisher_password)
        client.tls_set_context(ssl.create_default_context(cafile=str(self.certs.ca_file)))
        client.reconnect_delay_set(1, 1)
        client.connect("localhost", self.broker.port, keepalive=30)
        client.loop_start()
        self._publisher = client

    def publish(self, vehicle: SimVehicle, messages: list[bytes], timeout: float = 10.0) -> None:
        """Send `messages` on `<gcid>/<vin>`, QoS 0 like BMW, in order."""
        client = self._publisher
        if client is None or not self._publisher_up.wait(timeout):
            raise RuntimeError("the simulator's publisher is not connected to mosquitto")
        for payload in messages:
            info = client.publish(f"{self.config.gcid}/{vehicle.vin}", payload, qos=0)
            info.wait_for_publish(timeout)

    # -- the person in front of the browser ------------------------------------------------------

    def approve(self, user_code: str) -> bool:
        return self.cloud.decide(user_code, approve=True)

    def deny(self, user_code: str) -> bool:
        return self.cloud.decide(user_code, approve=False)

    # -- waiting (tests) -------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[Cloud], bool], timeout: float = 10.0) -> bool:
        with self.cloud.cond:
            return self.cloud.cond.wait_for(lambda: predicate(self.cloud), timeout)

    async def until(self, predicate: Callable[[Cloud], bool], timeout: float = 10.0) -> None:
        """Await a condition on the simulated cloud without blocking the event loop."""
        if not await asyncio.to_thread(self.wait_for, predicate, timeout):
            raise TimeoutError(f"simulator condition not met within {timeout} s")


class _Handler(BaseHTTPRequestHandler):
    server_version = "CarDataSimulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    @property
    def sim(self) -> Simulator:
        simulator: Simulator = self.server.simulator  # type: ignore[attr-defined]
        return simulator

    def _send(self, status: int, body: Any = None, content: str = "application/json") -> None:
        data = b"" if body is None else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", content)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        parsed = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/gcdm/oauth/device/code":
            self._device_code(self._form())
        elif path == "/gcdm/oauth/token":
            self._token(self._form())
        elif path == "/customers/containers":
            self._rest("POST", path, {})
        else:
            self._send(404, {"error": "not_found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/oneid/link":
            ok = self.sim.approve(query.get("user_code", ""))
            self._send(200 if ok else 404, "<p>Login successful</p>" if ok
                       else "<p>Unknown or used code</p>", "text/html")
        else:
            self._rest("GET", parts.path, query)

    def do_DELETE(self) -> None:
        self._rest("DELETE", urlsplit(self.path).path, {})

    # -- OAuth -----------------------------------------------------------------------------------

    def _oauth_error(self, status: int, error: str, description: str) -> None:
        self._send(status, {"error": error, "error_description": description})

    def _device_code(self, form: dict[str, str]) -> None:
        config = self.sim.config
        scope = form.get("scope", "")
        if (form.get("client_id") != config.client_id
                or form.get("response_type") != "device_code"
                or form.get("code_challenge_method") != "S256"
                or not form.get("code_challenge")
                or "openid" not in scope.split()):
            self._oauth_error(400, "invalid_request", "The request is missing a required "
                              "parameter, includes an unsupported parameter value (other than "
                              "grant type), repeats a parameter, or is otherwise malformed.")
            return
        grant = self.sim.cloud.new_device_grant(form["code_challenge"], scope)
        uri = f"{self.sim.http_url}/oneid/link"
        body: dict[str, Any] = {"user_code": grant.user_code, "device_code": grant.device_code,
                                "interval": config.poll_interval_s, "verification_uri": uri,
                                "expires_in": int(config.device_code_lifetime_s)}
        if config.send_verification_uri_complete:
            body["verification_uri_complete"] = f"{uri}?user_code={grant.user_code}"
        self._send(200, body)

    def _token(self, form: dict[str, str]) -> None:
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            self._refresh(form)
        elif grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            self._poll(form)
        else:
            self._oauth_error(400, "unsupported_grant_type", "unsupported grant type")

    def _poll(self, form: dict[str, str]) -> None:
        cloud, config = self.sim.cloud, self.sim.config
        now = self.sim.clock.now()
        if form.get("client_id") != config.client_id:
            self._oauth_error(401, "invalid_client", "Client authentication failed")
            return
        with cloud.cond:
            grant = cloud.grants.get(form.get("device_code", ""))
            if grant is None or grant.state == "used":
                self._oauth_error(400, "invalid_grant", "The provided access grant is invalid, "
                                  "expired, or revoked.")
                return
            if now >= grant.expires_at:
                self._oauth_error(401, "expired_token", "The code is expired")
                return
            if cloud.gateway_faults_left > 0:
                cloud.gateway_faults_left -= 1
                grant.state = "used"  # BMW's gateway fault burns the device code
                self._send(500, {"fault": {
                    "faultstring": "Invalid Access Token",
                    "detail": {"errorcode": "keymanagement.service.invalid_access_token"}}})
                return
            too_fast = (config.enforce_poll_interval and grant.last_poll is not None
                        and now - grant.last_poll < timedelta(seconds=config.poll_interval_s))
            grant.last_poll = now
            if too_fast:
                self._oauth_error(400, "slow_down", "The polling interval has not elapsed")
                return
            if grant.state == "pending":
                self._oauth_error(403, "authorization_pending", "The authorization request is "
                                  "still pending as the end user hasn't yet completed the "
                                  "user-interaction steps.")
                return
            if grant.state == "denied":
                grant.state = "used"
                self._oauth_error(403, "access_denied", "The end user denied the request")
                return
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            grant.state = "used"
            if challenge != grant.challenge:
                self._oauth_error(400, "invalid_grant", "PKCE verification failed")
                return
            scope = grant.scope
        body = cloud.issue_tokens(scope)
        cloud.wait_gate_applied()
        self._send(200, body)

    def _refresh(self, form: dict[str, str]) -> None:
        cloud, config = self.sim.cloud, self.sim.config
        now = self.sim.clock.now()
        with cloud.cond:
            issued = cloud.refresh.get(form.get("refresh_token", ""))
            if (issued is None or issued.used or issued.expires_at <= now
                    or form.get("client_id") != config.client_id):
                self._oauth_error(400, "invalid_request", "The request is missing a required "
                                  "parameter, includes an invalid parameter value, or is "
                                  "otherwise malformed.")
                return
            issued.used = True  # rotated: the old refresh token is dead from now on
            scope = issued.scope
        body = cloud.issue_tokens(scope)
        body.pop("gcid")  # refresh responses need not carry it; clients keep the first one
        cloud.wait_gate_applied()
        self._send(200, body)

    # -- REST ------------------------------------------------------------------------------------

    def _rest_error(self, status: int, code: str, note: str) -> None:
        self._send(status, {"exveErrorId": code, "exveErrorMsg": note.split(".")[0],
                            "exveErrorRef": secrets.token_hex(8), "exveNote": note})

    def _rest(self, method: str, path: str, query: dict[str, str]) -> None:
        sim, cloud = self.sim, self.sim.cloud
        now = sim.clock.now()
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self._rest_error(401, "CU-100", "No token provided.")
            return
        with cloud.cond:
            refused = cloud.check_access(auth.removeprefix("Bearer "), now)
        if refused is not None:
            self._rest_error(*refused)
            return
        if self.headers.get("x-version") != "v1":
            self._rest_error(400, "CU-400", "Bad request: header x-version v1 is required.")
            return
        if not cloud.spend_quota(now):
            self._rest_error(403, "CU-429", "API rate limit reached.")
            return
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["customers", "containers"]:
            self._containers(method, parts[2:], now)
        elif parts[:2] == ["customers", "vehicles"] and method == "GET":
            self._vehicles(parts[2:], query, now)
        else:
            self._rest_error(404, "CU-400", f"No such endpoint: {method} {path}.")

    def _vehicles(self, rest: list[str], query: dict[str, str], now: datetime) -> None:
        sim = self.sim
        if rest == ["mappings"]:
            self._send(200, [{"vin": vin, "mappingType": "PRIMARY",
                              "mappedSince": "2025-03-27T17:48:41.435Z"}
                             for vin in sim.vehicles])
            return
        if len(rest) != 2:
            self._rest_error(404, "CU-400", "No such endpoint.")
            return
        vin, what = rest
        vehicle = sim.vehicles.get(vin)
        if vehicle is None:
            self._rest_error(403, "CU-104", f"No permission for VIN {vin}.")
            return
        if what == "basicData":
            self._send(200, vehicle.basic_data())
        elif what == "telematicData":
            container = sim.cloud.containers.get(query.get("containerId", ""))
            if container is None or container["state"] != "ACTIVE":
                self._rest_error(403, "CU-105", "No permission for this containerId.")
                return
            self._send(200, {"telematicData": vehicle.telematic_data(
                list(container["technicalDescriptors"]))})
        elif what == "chargingHistory":
            self._history(vehicle.history, query)
        else:
            self._rest_error(404, "CU-400", f"No such endpoint: {what}.")

    def _history(self, sessions: list[dict[str, Any]], query: dict[str, str]) -> None:
        try:
            start = datetime.fromisoformat(query["from"])
            end = datetime.fromisoformat(query["to"])
            offset = int(query.get("nextToken") or 0)
        except (KeyError, ValueError):
            self._rest_error(400, "CU-401", "Parameter invalid: from and to are required "
                             "ISO-8601 date-times.")
            return
        if end - start > timedelta(days=HISTORY_MAX_DAYS):
            self._rest_error(400, "CU-401", f"Parameter invalid: the range exceeds "
                             f"{HISTORY_MAX_DAYS} days.")
            return
        chosen = [s for s in sessions
                  if start.timestamp() <= s["startTime"] < end.timestamp()]
        page = chosen[offset:offset + HISTORY_PAGE]
        body: dict[str, Any] = {"data": page}
        if offset + HISTORY_PAGE < len(chosen):
            body["next_token"] = str(offset + HISTORY_PAGE)
        self._send(200, body)

    def _containers(self, method: str, rest: list[str], now: datetime) -> None:
        containers = self.sim.cloud.containers
        if method == "GET" and not rest:
            self._send(200, {"containers": [
                {k: c[k] for k in ("containerId", "name", "purpose", "state", "created")}
                for c in containers.values()]})
        elif method == "POST" and not rest:
            body = self._json_body()
            active = [c for c in containers.values() if c["state"] == "ACTIVE"]
            if not isinstance(body, dict) or not isinstance(body.get("technicalDescriptors"),
                                                            list):
                self._rest_error(400, "CU-400", "Bad request: technicalDescriptors required.")
            elif len(active) >= self.sim.config.max_containers:
                self._rest_error(403, "CU-124", "Maximum number of containers reached.")
            else:
                container_id = secrets.token_hex(7)[:13].upper()
                container = {"containerId": container_id, "name": str(body.get("name", "")),
                             "purpose": str(body.get("purpose", "")), "state": "ACTIVE",
                             "created": now.astimezone(UTC).isoformat(),
                             "technicalDescriptors": [str(d) for d in
                                                      body["technicalDescriptors"]]}
                containers[container_id] = container
                self._send(201, container)
        elif len(rest) == 1 and rest[0] in containers:
            container = containers[rest[0]]
            if method == "DELETE":
                if container["state"] != "ACTIVE":
                    self._rest_error(403, "CU-122", "Container already set for deletion.")
                    return
                container["state"] = "DELETED"
                self._send(204)
            else:
                self._send(200, container)
        else:
            self._rest_error(404 if method != "DELETE" else 403, "CU-105",
                             "No permission for this containerId.")
