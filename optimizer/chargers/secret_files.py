"""Reading charger secrets (OCPP station passwords, Home Assistant tokens) from files.

A secret file must not be readable by group or others: anything that can start and stop a
charger (or read a house's Home Assistant) is refused rather than silently used. The secret
itself never appears in an error message or a log line.
"""

from __future__ import annotations

import stat
from pathlib import Path

from optimizer.errors import ConfigError


def read_secret(path: Path, what: str) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found; create it with mode 0600") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: {what} file is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ConfigError(f"{path}: {what} file is empty")
    return value
