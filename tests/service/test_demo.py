"""`ev-optimizer demo --json` as a subprocess: an evening plug-in to a morning departure."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.sim.broker import MOSQUITTO

CLI = Path(sys.executable).parent / "ev-optimizer"


def test_demo_runs_a_night_and_saves_the_session() -> None:
    if not os.path.exists(MOSQUITTO) or shutil.which("openssl") is None:
        pytest.skip("the demo needs mosquitto and openssl")
    done = subprocess.run([str(CLI), "demo", "--speed", "5000", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and events[0]["api_url"].startswith("http://127.0.0.1:")
    for kind in ("plugged_in", "plan", "charging_started", "soc", "session_ended", "session"):
        assert kind in kinds, kind
    assert kinds.index("plugged_in") < kinds.index("plan") < kinds.index("charging_started")
    dashboard = next(e for e in events if e["event"] == "dashboard")
    assert dashboard["url"] == events[0]["api_url"].removesuffix("/api") + "/"
    assert dashboard["login_link"].startswith(dashboard["url"] + "login?code=")
    plugged = next(e for e in events if e["event"] == "plugged_in")
    assert plugged["time"].endswith("+01:00") or plugged["time"].endswith("+02:00")
    assert "T18:0" in plugged["time"]  # the evening
    session = events[-1]
    assert session["event"] == "session" and session["ended_at"] is not None
    assert session["energy_kwh"] > 25 and session["cost"] > 0
    assert session["saving"] is not None and session["saving"] >= 0
    socs = [e["car_soc_pct"] for e in events if e["event"] == "soc"]
    # the target by the morning, to the car's whole-percent display: at this speed the physics
    # moves in 4-minute strides (the exact check is the end-to-end test's)
    assert socs[-1] >= 79.0


def test_sigterm_ends_the_demo_early_and_quietly() -> None:
    """Ctrl-C or SIGTERM in the middle of the night: exit 0 within 10 s, a last `stopped` event,
    and nothing on stderr (it used to race on to departure and fail publishing to the gone
    broker with an 'unexpected RuntimeError')."""
    if not os.path.exists(MOSQUITTO) or shutil.which("openssl") is None:
        pytest.skip("the demo needs mosquitto and openssl")
    demo = subprocess.Popen([str(CLI), "demo", "--speed", "100", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # wait for the plug-in, whatever the machine's speed
            if json.loads(line)["event"] == "plugged_in":
                break
        demo.send_signal(signal.SIGTERM)
        out, err = demo.communicate(timeout=10)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events and events[-1]["event"] == "stopped"
    assert "error" not in err
