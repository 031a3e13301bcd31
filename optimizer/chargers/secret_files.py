"""Reading charger secrets (OCPP station passwords, Home Assistant tokens) from files.

A secret file must not be readable by group or others: anything that can start and stop a
charger (or read a house's Home Assistant) is refused rather than silently used. The secret
itself never appears in an error message or a log line.
"""

from __future__ import annotations

import stat
from pathlib import Path

from optimizer.errors import ConfigError


def read_secret(path: Path, what: str, key: str | None = None) -> str:
    """The secret in `path`; `key` (e.g. `chargers[0].homeassistant.token_file`) is named in
    every error so the user knows which setting points at the file."""
    setting = f" (set by {key})" if key else ""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: {what} file not found{setting}; create it with mode 0600") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: {what} file is not a regular file{setting}")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: {what} file is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        value = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} file is not UTF-8 text{setting}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file{setting}: {exc.strerror}"
                          ) from None
    if not value:
        raise ConfigError(f"{path}: {what} file is empty{setting}")
    return value
