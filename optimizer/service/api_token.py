"""`<state_dir>/api_token`: the HTTP API's bearer token, made once with mode 0600."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

TOKEN_FILE = "api_token"


def ensure_api_token(state_dir: Path) -> str:
    """The token, created on first start (never logged; only the file's path is)."""
    path = state_dir / TOKEN_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); set it to 0600", path, mode)
            path.chmod(0o600)
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    log.info("created the API token in %s (mode 0600)", path)
    return token
