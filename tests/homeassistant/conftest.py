"""A real Home Assistant 2025.4.4 for the tests, on the machine's pyenv Python 3.13.0.

The venv is built once under `.cache/ha-venv` by `install_ha.sh` (reference/actuators.md §3.2);
each test session gets its own config dir, a user made with `hass --script auth`, a free
loopback port, and a long-lived token obtained headlessly (§3.3) and written to a 0600 file.
These tests are their own CI step (they install ~800 MB the first time), so the main test run
skips them unless EVOPT_HA_TESTS=1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
PYTHON_313 = PYENV_ROOT / "versions" / "3.13.0" / "bin" / "python3"
HA_VENV = ROOT / ".cache" / "ha-venv"
USER, PASSWORD = "optimizer", "Lab-Passw0rd!"
START_TIMEOUT_S = 120.0

CONFIGURATION = """\
homeassistant:
  name: Lab
  latitude: 52.52
  longitude: 13.40
  elevation: 34
  unit_system: metric
  time_zone: Europe/Berlin
  country: DE
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
auth:
api:
websocket_api:
config:
frontend:
input_boolean:
  wallbox_enable:
    name: Wallbox enable
input_number:
  wallbox_current:
    name: Wallbox current
    min: 0
    max: 32
    step: 1
    mode: box
    unit_of_measurement: A
logger:
  default: warning
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get("EVOPT_HA_TESTS") != "1":
        reason = ("Home Assistant tests run in their own CI step: "
                  "EVOPT_HA_TESTS=1 .venv/bin/python -m pytest tests/homeassistant")
    elif not PYTHON_313.exists():
        reason = (f"Home Assistant 2025.4.4 needs Python 3.13.0 at {PYTHON_313}, which this "
                  f"machine does not have")
    if reason:
        for item in items:
            if item.path.is_relative_to(Path(__file__).parent):
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass(frozen=True)
class HomeAssistant:
    url: str
    token_file: Path
    token: str

    def state(self, entity: str) -> str:
        """Read a state independently of the code under test."""
        response = httpx.get(f"{self.url}/api/states/{entity}",
                             headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        response.raise_for_status()
        return str(response.json()["state"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """HA answers 401 on /api/ once its HTTP server is up; poll that, bounded in time."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hass exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/api/", timeout=2).status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)  # an external process starting up: nothing to wait on but the port
    raise RuntimeError(f"Home Assistant did not answer within {START_TIMEOUT_S:.0f} s; see {log}")


def login_tokens(url: str) -> dict[str, str]:
    """The tokens HA's own login page would get (access and refresh token, §3.3)."""
    client_id = f"{url}/"
    with httpx.Client(base_url=url, timeout=30) as http:
        flow = http.post("/auth/login_flow", json={
            "client_id": client_id, "handler": ["homeassistant", None],
            "redirect_uri": client_id}).json()
        done = http.post(f"/auth/login_flow/{flow['flow_id']}", json={
            "client_id": client_id, "username": USER, "password": PASSWORD}).json()
        tokens: dict[str, str] = http.post("/auth/token", data={
            "grant_type": "authorization_code", "code": done["result"],
            "client_id": client_id}).json()
        return tokens


def _long_lived_token(url: str) -> str:
    access = login_tokens(url)["access_token"]
    ws_url = url.replace("http://", "ws://") + "/api/websocket"
    with connect(ws_url) as ws:
        assert json.loads(ws.recv())["type"] == "auth_required"
        ws.send(json.dumps({"type": "auth", "access_token": access}))
        assert json.loads(ws.recv())["type"] == "auth_ok"
        ws.send(json.dumps({"id": 1, "type": "auth/long_lived_access_token",
                            "client_name": "ev-optimizer-tests", "lifespan": 1}))
        answer = json.loads(ws.recv())
    assert answer["success"], answer
    return str(answer["result"])


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    subprocess.run(["sh", str(Path(__file__).with_name("install_ha.sh")), str(PYTHON_313),
                    str(HA_VENV)], check=True, timeout=1200)
    config = tmp_path_factory.mktemp("ha-config")
    port = free_port()
    (config / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
    # the UI tests log in straight to the app: onboarding (its wizard) counts as done
    (config / ".storage").mkdir()
    (config / ".storage" / "onboarding").write_text(json.dumps({
        "version": 4, "minor_version": 1, "key": "onboarding",
        "data": {"done": ["user", "core_config", "analytics", "integration"]}}))
    hass = str(HA_VENV / "bin" / "hass")
    subprocess.run([hass, "--script", "auth", "-c", str(config), "add", USER, PASSWORD],
                   check=True, capture_output=True, timeout=120)
    log = config / "ha.log"
    process = subprocess.Popen(
        [hass, "-c", str(config), "--skip-pip", "--log-file", str(log), "--log-no-color"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_answering(url, process, log)
        token = _long_lived_token(url)
        token_file = config / "ha.token"
        token_file.touch(mode=0o600)
        token_file.write_text(token + "\n")
        yield HomeAssistant(url, token_file, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
