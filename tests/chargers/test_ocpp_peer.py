"""The independent peer: the third-party `test-ocpp` tool (PyPI) connects to our central system,
authenticates with HTTP Basic (security profile 1, and 2 over TLS) and boots."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from optimizer.chargers.central_system import CentralSystem, server_ssl_context
from optimizer.chargers.limits import CurrentRange
from optimizer.chargers.ocpp_charger import OcppCharger
from tests.chargers.conftest import FakeClock

PASSWORD = "peer-Passw0rd"
RANGE = CurrentRange(phases=3, voltage_v=230.0, min_current_a=6.0, max_current_a=16.0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


async def run_test_ocpp(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "test_ocpp", *args, "--timeout", "10",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return await process.wait(), output.decode()


@asynccontextmanager
async def central(clock: FakeClock, tls: ssl.SSLContext | None = None) -> AsyncIterator[
    tuple[CentralSystem, OcppCharger]
]:
    system = CentralSystem(clock, ssl_context=tls, response_timeout_s=5)
    charger = system.add(OcppCharger("peer", "PEER1", PASSWORD, RANGE, clock))
    async with system:
        yield system, charger


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_test_ocpp_connects_authenticates_and_boots(clock: FakeClock, version: str) -> None:
    async with central(clock) as (system, charger):
        code, output = await run_test_ocpp(
            system.url(), "PEER1", "--ocpp", version, "--password", PASSWORD)
        assert code == 0, output
        assert f"Negotiated subprotocol: ocpp{version}" in output
        assert "BootNotification status: Accepted" in output
        assert "Heartbeat server time: 2026-11-22T01:00:00Z" in output
        assert charger.boot_count == 1
        assert (await charger.status()).details["vendor"] == "TestVendor"


async def test_test_ocpp_with_a_wrong_password_gets_401(clock: FakeClock) -> None:
    async with central(clock) as (system, charger):
        code, output = await run_test_ocpp(system.url(), "PEER1", "--password", "nope")
        assert code == 1
        assert "rejected handshake with HTTP 401" in output
        assert charger.boot_count == 0


async def test_test_ocpp_over_tls(clock: FakeClock, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    async with central(clock, server_ssl_context(cert, key)) as (system, charger):
        assert system.url().startswith("wss://")
        code, output = await run_test_ocpp(
            system.url(), "PEER1", "--ocpp", "2.0.1", "--password", PASSWORD, "--ca", str(cert))
        assert code == 0, output
        assert "TLS: TLSv1.3" in output or "TLS: TLSv1.2" in output
        assert charger.boot_count == 1
