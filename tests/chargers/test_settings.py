"""Charger and CarData settings refuse what cannot work or is unsafe, naming the key: a token
file that is not there, a register map that is not shipped (or a path), TLS half configured,
plain ws:// on the network, plain http towards BMW. Checked through `parse_config` (the
config loader) and through the CLI in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from optimizer.cardata.settings import CardataSettings
from optimizer.chargers.modbus_map import available_maps
from optimizer.chargers.settings import HomeAssistantSettings, OcppSettings
from optimizer.config import parse_config
from optimizer.errors import ConfigError
from tests.cli_contract import assert_error_stdout


def config(charger: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "tariff": "none.toml",
        "vehicles": [{"name": "car", "vin": "WBA00000000000U11", "capacity_kwh": 60,
                      "charger": "wb"}],
        "chargers": [{"name": "wb", "min_current_a": 6, "max_current_a": 16, **charger}],
        **top,
    }


def problem(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(document, "config.toml")
    return str(caught.value)


@pytest.mark.parametrize("model", ["nope", "../../../etc/passwd", "maps/keba_p30",
                                   "keba_p30.toml", "/abs/keba_p30"])
def test_a_modbus_model_must_name_a_shipped_map(model: str) -> None:
    message = problem(config({"kind": "modbus", "modbus": {"host": "10.0.0.5", "model": model}}))
    assert message.startswith("config.toml: chargers[0].modbus.model: ")
    assert f"use one of {', '.join(available_maps())}" in message
    assert "\n" not in message


def test_a_shipped_map_name_is_accepted() -> None:
    parsed = parse_config(config({"kind": "modbus",
                                  "modbus": {"host": "10.0.0.5", "model": "keba_p30"}}))
    assert parsed.chargers[0].modbus is not None


@pytest.mark.parametrize("key, value", [("port", "502"), ("retries", True),
                                        ("timeout_s", float("inf")), ("unit_id", 1.5)])
def test_modbus_numbers_are_strict_and_finite(key: str, value: Any) -> None:
    message = problem(config({"kind": "modbus", "modbus": {
        "host": "10.0.0.5", "model": "keba_p30", key: value}}))
    assert f"chargers[0].modbus.{key}:" in message


def test_a_missing_token_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    ha = {"token_file": "state/ha.token", "switch_entity": "switch.wallbox"}
    with pytest.raises(ValidationError, match=r"token_file\n.*Home Assistant token file "
                                              r".*state/ha\.token does not exist"):
        HomeAssistantSettings.model_validate(ha, context={"config_dir": tmp_path})
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ha.token").touch(mode=0o600)
    assert HomeAssistantSettings.model_validate(ha, context={"config_dir": tmp_path})
    absent = str(tmp_path / "elsewhere.token")  # an absolute path is checked without context
    message = problem(config({"kind": "homeassistant", "homeassistant": {
        "token_file": absent, "switch_entity": "switch.wallbox"}}))
    assert f"chargers[0].homeassistant.token_file: Home Assistant token file {absent} does " \
           f"not exist" in message


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    for given, missing in (("tls_cert_file", "tls_key_file"), ("tls_key_file", "tls_cert_file")):
        message = problem(config({"kind": "ocpp", "ocpp": {
            "station_id": "cp", "password_file": "pw", given: str(cert)}}))
        assert f"chargers[0].ocpp: {given} is set but {missing} is not" in message


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "wallbox.example", "::"])
def test_plain_ws_on_the_network_needs_allow_insecure(host: str) -> None:
    ocpp = {"station_id": "cp", "password_file": "pw", "host": host}
    message = problem(config({"kind": "ocpp", "ocpp": ocpp}))
    assert f"chargers[0].ocpp: host '{host}' is reachable from the network but there is no " \
           f"TLS" in message
    assert OcppSettings.model_validate({**ocpp, "allow_insecure": True}).allow_insecure
    assert "allow_insecure" in problem(config({"kind": "ocpp", "ocpp": {
        **ocpp, "allow_insecure": "yes"}}))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "localhost", "::1"])
def test_loopback_needs_no_tls(host: str) -> None:
    assert OcppSettings.model_validate({"station_id": "cp", "password_file": "pw",
                                        "host": host}).host == host


@pytest.mark.parametrize("url", ["http://customer.bmwgroup.com/gcdm/oauth",
                                 "http://192.168.1.2:8080", "ftp://127.0.0.1/x", "https://",
                                 "not a url", "https://host:notaport/"])
def test_cardata_urls_must_be_https(url: str) -> None:
    for key in ("auth_base_url", "api_base_url"):
        message = problem(config({"kind": "simulated"}, cardata={key: url}))
        assert f"config.toml: cardata.{key}: " in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123", "http://localhost:9/x",
                                 "http://[::1]:80", "https://api-cardata.bmwgroup.com"])
def test_cardata_urls_on_loopback_may_be_plain_http(url: str) -> None:
    assert CardataSettings(auth_base_url=url, api_base_url=url).api_base_url == url


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], capture_output=True,
                          text=True, timeout=60)


CLI_CONFIG = """\
tariff = "none.toml"
[[vehicles]]
name = "car"
vin = "WBA00000000000U11"
capacity_kwh = 60
charger = "wb"
[[chargers]]
name = "wb"
kind = "homeassistant"
[chargers.homeassistant]
token_file = "state/ha.token"
switch_entity = "switch.wallbox"
"""


def test_the_cli_names_the_key_of_a_missing_token_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CLI_CONFIG)
    result = _cli("charger", "status", "--json", "--config", str(path))
    assert result.returncode == 2
    assert_error_stdout(result.stdout, result.stderr, "--json" in result.args)
    assert result.stderr == (
        f"error: {tmp_path}/state/ha.token: Home Assistant token file not found (set by "
        f"token_file in [chargers.homeassistant] of charger 'wb'); create it with mode 0600\n")


def test_the_cli_refuses_a_map_path(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CLI_CONFIG.replace('kind = "homeassistant"', 'kind = "modbus"').replace(
        '[chargers.homeassistant]\ntoken_file = "state/ha.token"\nswitch_entity = '
        '"switch.wallbox"\n', '[chargers.modbus]\nhost = "10.0.0.9"\nmodel = "../keba_p30"\n'))
    result = _cli("charger", "status", "--json", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "chargers[0].modbus.model: '../keba_p30' is a map name, not a path" in result.stderr
    assert_error_stdout(result.stdout, result.stderr, "--json" in result.args)


@pytest.mark.parametrize("wait", ["nan", "0", "-1", "inf", "1e9"])
def test_the_charger_wait_is_bounded(tmp_path: Path, wait: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CLI_CONFIG)
    result = _cli("charger", "status", "--wait", wait, "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: --wait must be more than 0 and at most 3600")
