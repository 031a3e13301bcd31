"""The `[notify]` and `[mqtt]` sections in config.toml: the issue's keys as written, and a
mistake named with its key through `ev-optimizer check-config`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from optimizer.config import parse_config
from optimizer.events import NotificationKind

REPO = Path(__file__).resolve().parents[2]


def _with(extra: str) -> dict[str, object]:
    return tomllib.loads((REPO / "config.toml").read_text() + "\n" + extra)


def test_the_issue_keys_parse() -> None:
    config = parse_config(_with("""
[notify]
urls = ["json://127.0.0.1:9999/hook", "ntfy://ntfy.sh/my-car"]
events = ["plan", "target_unreachable"]

[mqtt]
host = "broker.lan"
port = 8883
username = "evopt"
password_file = "mqtt-password"
tls = true
discovery_prefix = "homeassistant"
topic_prefix = "ev-optimizer"
"""))
    assert config.notify.events == [NotificationKind.PLAN, NotificationKind.TARGET_UNREACHABLE]
    assert config.mqtt is not None and config.mqtt.port == 8883 and config.mqtt.tls
    defaults = parse_config(_with(""))
    assert defaults.mqtt is None and set(defaults.notify.events) == set(NotificationKind)


def _check(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    text = (REPO / "config.toml").read_text().replace(
        'tariff = "tariffs/de_dynamic.toml"', f'tariff = "{REPO}/tariffs/de_dynamic.toml"')
    config.write_text(text + "\n" + extra)
    return subprocess.run([sys.executable, "-m", "optimizer", "check-config", "--config",
                           str(config)], capture_output=True, text=True, cwd=tmp_path)


def test_mistakes_are_named_with_their_key(tmp_path: Path) -> None:
    typo = _check(tmp_path, '[notify]\nurl = ["json://x"]\n')
    assert typo.returncode == 2 and "notify.url: unknown key; did you mean 'urls'?" in typo.stderr
    kind = _check(tmp_path, '[notify]\nevents = ["plan_made"]\n')
    assert kind.returncode == 2 and "notify.events[0]" in kind.stderr
    mqtt = _check(tmp_path, '[mqtt]\nhots = "broker"\n')
    assert mqtt.returncode == 2 and "mqtt.hots: unknown key; did you mean 'host'?" in mqtt.stderr
    assert "Traceback" not in typo.stderr + kind.stderr + mqtt.stderr
