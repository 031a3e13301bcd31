"""Small JSON files in the state directory, written atomically with owner-only permissions.

Tokens and the quota ledger must survive a crash mid-write (a half-written token file would
force a new device-code login; a lost ledger would overspend BMW's 50 calls). So every write goes
to a temporary file in the same directory, is flushed to disk and then renamed over the old one;
the temporary file is created 0600 so a secret is never readable by others, not even briefly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from optimizer.errors import InputError


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def write_json_atomic(path: Path, document: Any) -> None:
    """Replace `path` with `document` as JSON, mode 0600, all or nothing.

    The temporary file's name carries the writer's pid, so that a later start-up can tell the
    leftovers of a killed writer (`remove_stale_temp_files`) from a write in flight. After the
    rename the directory is fsynced too: without that, a power cut can forget the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp",
                                    dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temporary files a killed writer of `path` left behind; return them.

    `write_json_atomic` removes its temporary file on any error, but not after `kill -9` or a
    power cut, and a token writer's temporary file holds full tokens. A temporary file whose
    writer (the pid in its name) is gone is stale; one without a pid predates this naming and
    is stale too. Live writers' files are left alone.
    """
    removed: list[Path] = []
    prefix = _temp_prefix(path)
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.glob(f"{prefix}*.tmp"):
        pid_text = candidate.name[len(prefix):].split(".", 1)[0]
        if pid_text.isdigit() and _writer_alive(int(pid_text)):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def read_json(path: Path) -> Any | None:
    """The JSON document at `path`, or None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); delete the file to start over") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`.lock for a read-modify-write across processes."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
