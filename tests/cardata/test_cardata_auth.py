"""Device-code login and token refresh against the simulator's OAuth endpoints."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from optimizer.cardata.auth import DeviceFlow, LoginError, TokenManager
from optimizer.cardata.tokens import LoginRequired, TokenStore

from .conftest import FakeClock, write_config


async def test_login_end_to_end_with_slow_down_and_pkce(make_sim, fake_clock: FakeClock,
                                                        tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(clock=fake_clock, poll_interval_s=5)
    async with httpx.AsyncClient() as http:
        flow = DeviceFlow(sim.settings(), http, clock=fake_clock, sleep=fake_clock.sleep)
        code = await flow.start()
        # BMW often omits verification_uri_complete; the client builds it
        expected = f"{code.verification_uri}?user_code={code.user_code}"
        assert code.verification_uri_complete == expected
        assert len(code.user_code) == 8 and code.user_code.isalpha()

        # poll faster than allowed: the server says slow_down and the client adds 5 s
        fast = dataclasses.replace(code, interval_s=2.0)
        approve_after = 3

        async def sleep_then_maybe_approve(seconds: float) -> None:
            await fake_clock.sleep(seconds)
            if len(fake_clock.slept) == approve_after:
                # the person opens the page the CLI printed
                page = await http.get(code.verification_uri_complete)
                assert page.status_code == 200

        flow.sleep = sleep_then_maybe_approve
        tokens = await flow.wait(fast)
    assert fake_clock.slept[:2] == [2.0, 7.0]  # slow_down -> +5 s
    assert tokens.gcid == sim.config.gcid
    assert "cardata:api:read" in tokens.scope.split()
    # the stream's deadline comes from the id_token's own exp claim
    assert tokens.id_token_expires_at == tokens.obtained_at + timedelta(seconds=3600)
    store = TokenStore(tmp_path)
    store.save(tokens)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.load() == tokens
    assert all(secret not in caplog.text for secret in tokens.secrets)
    assert all(secret not in repr(tokens) for secret in tokens.secrets)


async def test_wrong_pkce_verifier_is_refused(make_sim, fake_clock: FakeClock) -> None:
    sim = make_sim(clock=fake_clock)
    async with httpx.AsyncClient() as http:
        flow = DeviceFlow(sim.settings(), http, clock=fake_clock, sleep=fake_clock.sleep)
        code = await flow.start()
        assert sim.approve(code.user_code)
        flow.verifier = "x" * 86
        with pytest.raises(LoginError, match="invalid_grant"):
            await flow.wait(code)


async def test_denied_and_expired_logins_say_what_to_do(make_sim,
                                                        fake_clock: FakeClock) -> None:
    sim = make_sim(clock=fake_clock, device_code_lifetime_s=30)
    async with httpx.AsyncClient() as http:
        flow = DeviceFlow(sim.settings(), http, clock=fake_clock, sleep=fake_clock.sleep)
        code = await flow.start()
        assert sim.deny(code.user_code)
        with pytest.raises(LoginError, match="denied"):
            await flow.wait(code)
        code = await flow.start()
        with pytest.raises(LoginError, match="expired"):
            await flow.wait(code)  # nobody approves; 30 s later the code is dead
    assert sum(fake_clock.slept[-6:]) >= 30


async def test_gateway_fault_fails_fast(make_sim, fake_clock: FakeClock) -> None:
    sim = make_sim(clock=fake_clock, gateway_faults=1)
    async with httpx.AsyncClient() as http:
        flow = DeviceFlow(sim.settings(), http, clock=fake_clock, sleep=fake_clock.sleep)
        code = await flow.start()
        sim.approve(code.user_code)
        with pytest.raises(LoginError, match="consumed the code"):
            await flow.wait(code)
    assert len(fake_clock.slept) == 1  # no polling on into access_denied


async def test_refresh_rotates_and_persists_the_refresh_token(make_sim, fake_clock: FakeClock,
                                                              tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(clock=fake_clock, token_lifetime_s=3600)
    async with httpx.AsyncClient() as http:
        flow = DeviceFlow(sim.settings(), http, clock=fake_clock, sleep=fake_clock.sleep)
        code = await flow.start()
        sim.approve(code.user_code)
        first = await flow.wait(code)
        store = TokenStore(tmp_path)
        store.save(first)
        manager = TokenManager(sim.settings(), store, http, clock=fake_clock)
        assert await manager.valid() == first  # 60 min left: no refresh
        fake_clock.advance(51 * 60)  # 9 min left: inside the 10 min margin
        second = await manager.valid()
        assert second.refresh_token != first.refresh_token
        assert second.id_token != first.id_token
        assert second.gcid == first.gcid  # refresh responses carry no gcid; the first is kept
        assert store.load() == second  # persisted before use
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
        # the rotated-out refresh token is dead: a stale copy of the file means a new login
        stale = TokenManager(sim.settings(), store, http, clock=fake_clock)
        stale._tokens = first
        with pytest.raises(LoginRequired, match="login"):
            await stale.valid(force=True)
    for tokens in (first, second):
        assert all(secret not in caplog.text for secret in tokens.secrets)


def test_cli_login_end_to_end(make_sim, tmp_path: Path) -> None:
    sim = make_sim(poll_interval_s=0.2)
    config = write_config(tmp_path, sim)
    process = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "login", "--config", str(config), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        prompt = json.loads(process.stdout.readline())
        assert set(prompt) >= {"verification_uri", "user_code", "verification_uri_complete"}
        assert httpx.get(prompt["verification_uri_complete"]).status_code == 200
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    token_file = Path(result["token_file"])
    assert token_file == tmp_path / "state" / "cardata_tokens.json"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["gcid"] == sim.config.gcid
    for secret in ("access_token", "id_token", "refresh_token"):
        assert saved[secret] not in out + err


def test_cli_login_without_client_id_is_a_user_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('tariff = "t.toml"\n[[vehicles]]\nname = "c"\nvin = "WBA00000000000001"\n'
                      'capacity_kwh = 60\ncharger = "b"\n[[chargers]]\nname = "b"\n'
                      'kind = "simulated"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "optimizer", "login", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "client_id" in result.stderr and "Traceback" not in result.stderr
