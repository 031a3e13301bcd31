"""config.toml: the shipped example is valid, and every mistake is named with its key."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from optimizer.cli import main
from optimizer.config import load_config, parse_config
from optimizer.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.toml"


def _example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def test_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    vehicle = config.vehicle(None)
    charger = config.charger(vehicle.charger)
    assert charger.max_power_kw == pytest.approx(11.04)
    assert charger.min_power_kw == pytest.approx(4.14)
    assert config.tariff == REPO / "tariffs" / "de_dynamic.toml"
    assert config.state_dir == REPO / "state"


def test_next_departure_uses_the_weekday_table() -> None:
    config = load_config(EXAMPLE)
    vehicle = config.vehicle("iX1")
    friday_evening = datetime(2024, 3, 8, 18, 0, tzinfo=config.tz)
    assert vehicle.next_departure(friday_evening, config.tz) == datetime(
        2024, 3, 9, 10, 0, tzinfo=config.tz)
    saturday_noon = datetime(2024, 3, 9, 12, 0, tzinfo=config.tz)
    assert vehicle.next_departure(saturday_noon, config.tz) == datetime(
        2024, 3, 11, 7, 30, tzinfo=config.tz)


def _mutate(path: str, value: Any) -> dict[str, Any]:
    data = _example()
    node: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("vehicles.0.taget_soc_pct", 80, "vehicles[0].taget_soc_pct: unknown key; did you mean "
                                         "'target_soc_pct'?"),
        ("vehicles.0.target_soc_pct", 120, "vehicles[0].target_soc_pct: Input should be less "
                                           "than or equal to 100 (got 120)"),
        ("vehicles.0.vin", "WBA123", "vehicles[0].vin: 'WBA123' is not a VIN; a VIN has 17 "
                                     "letters and digits"),
        ("vehicles.0.capacity_kwh", ..., "vehicles[0].capacity_kwh: required key is missing"),
        ("vehicles.0.min_soc_pct", 90, "min_soc_pct (90) is above target_soc_pct (80)"),
        ("vehicles.0.charger", "carport", "'carport' is not a configured charger; use one of "
                                          "'garage'"),
        ("vehicles.0.departures.mon", "7:30pm", "vehicles[0].departures.mon:"),
        ("vehicles.0.departures.monday", "07:30", "vehicles[0].departures.monday:"),
        ("vehicles.0.efficiency", 1.2, "vehicles[0].efficiency: Input should be less than or "
                                       "equal to 1"),
        ("vehicles.0.priority", "high", "vehicles[0].priority: Input should be a valid number"),
        ("vehicles.0.priority", 1e7, "vehicles[0].priority: Input should be less than or equal "
                                     "to 1000000"),
        ("chargers.0.phases", 4, "chargers[0].phases: Input should be 1 or 3"),
        ("chargers.0.min_current_a", 20, "min_current_a (20) is above max_current_a (16)"),
        ("chargers.0.kind", "wifi", "chargers[0].kind: Input should be 'ocpp', 'modbus', "
                                    "'homeassistant' or 'simulated'"),
        ("chargers.0.ocpp", ..., "the [chargers.ocpp] table is missing"),
        ("timezone", "Berlin", "timezone: 'Berlin' is not an IANA time zone"),
        ("planner.mode", "fastest", "planner.mode: Input should be 'cheapest' or 'block'"),
        ("planner.buffer_minutes", -5, "planner.buffer_minutes: Input should be greater than or "
                                       "equal to 0"),
        ("tariff", ..., "tariff: required key is missing"),
        ("cardata.stream_port", 0, "cardata.stream_port: Input should be greater than or equal "
                                   "to 1"),
        ("surprise", 1, "surprise: unknown key"),
    ],
)
def test_every_mistake_names_its_key(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_mutate(path, value), "config.toml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("config.toml: ")


def test_several_mistakes_are_all_reported_on_one_line() -> None:
    data = _mutate("vehicles.0.target_soc_pct", 120)
    data["planner"]["mode"] = "fastest"
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "vehicles[0].target_soc_pct" in message and "planner.mode" in message
    assert "(and 1 more: " in message


def test_duplicate_names_are_refused() -> None:
    data = _example()
    data["chargers"].append(dict(data["chargers"][0]))
    with pytest.raises(ConfigError, match="charger names must be unique; 'garage' appears twice"):
        parse_config(data)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "config file not found"),
        ("timezone = ", "not valid TOML"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "config.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_check_config_cli_ok_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "config.toml"
    bad.write_text(EXAMPLE.read_text().replace("target_soc_pct = 80", "target_soc_pct = 180")
                   .replace('tariff = "tariffs/de_dynamic.toml"',
                            f'tariff = "{REPO / "tariffs" / "de_dynamic.toml"}"'))
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "vehicles[0].target_soc_pct" in err
    assert "Traceback" not in err


def test_check_config_reports_a_broken_tariff(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    tariff = tmp_path / "tariff.toml"
    tariff.write_text('name = "x"\nkind = "fixed"\n')
    config = tmp_path / "config.toml"
    config.write_text(EXAMPLE.read_text().replace('"tariffs/de_dynamic.toml"', '"tariff.toml"'))
    assert main(["check-config", "--config", str(config)]) == 2
    assert "needs a base price" in capsys.readouterr().err


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[[vehicles]]\nname = 'x'\n")
    done = subprocess.run(
        [sys.executable, "-m", "optimizer", "check-config", "--config", str(bad)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "vehicles[0].vin: required key is missing" in done.stderr


def test_check_config_warns_of_a_station_password_file_that_is_not_there(tmp_path: Path) -> None:
    """A missing secret file is not a mistake in the config (it may be made later), but `run`
    would stop on it: check-config says so, naming the key and the path it looked at."""
    config = tmp_path / "config.toml"
    config.write_text(EXAMPLE.read_text().replace(
        '"tariffs/de_dynamic.toml"', json.dumps(str(REPO / "tariffs" / "de_dynamic.toml"))))
    command = [sys.executable, "-m", "optimizer", "check-config", "--config", str(config),
               "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is True
    [warning] = summary["warnings"]
    secret = tmp_path / "state" / "ocpp-garage.password"
    assert warning.startswith("chargers[0].ocpp.password_file: ") and str(secret) in warning
    assert done.stderr.strip() == f"warning: {config}: {warning}"
    secret.parent.mkdir()
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout)["warnings"] == []
