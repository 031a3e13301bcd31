"""Charger secrets (OCPP passwords, Home Assistant tokens) come from private files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.chargers.secret_files import read_secret
from optimizer.errors import ConfigError


def test_the_token_file_must_be_private(tmp_path: Path) -> None:
    token_file = tmp_path / "ha.token"
    token_file.write_text("secret-token\n")
    token_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others") as loose:
        read_secret(token_file, "Home Assistant token")
    assert "secret-token" not in str(loose.value)
    token_file.chmod(0o600)
    assert read_secret(token_file, "Home Assistant token") == "secret-token"


def test_a_missing_or_empty_secret_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ocpp\.password: OCPP password file not found"):
        read_secret(tmp_path / "ocpp.password", "OCPP password")
    empty = tmp_path / "empty"
    empty.touch(mode=0o600)
    with pytest.raises(ConfigError, match="file is empty"):
        read_secret(empty, "OCPP password")
