"""Atomic state files after `kill -9`: the next start-up removes what a killed writer left
behind (a token writer's temporary file holds full tokens), and the rename is made durable."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from optimizer.cardata import files
from optimizer.cardata.quota import QuotaLedger
from optimizer.cardata.tokens import TOKEN_FILE, TokenStore

# A writer that is killed with SIGKILL right before its rename, as `kill -9` would hit it.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from optimizer.cardata import files
os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
files.write_json_atomic(Path(sys.argv[1]), {"refresh_token": "SECRET-REFRESH-TOKEN"})
"""


def _killed_write(target: Path) -> None:
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)],
                            capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


@pytest.mark.parametrize("name, open_store", [
    (TOKEN_FILE, TokenStore),
    ("cardata_quota.json", QuotaLedger),
])
def test_a_killed_writers_temp_file_is_removed_at_start_up(
        tmp_path: Path, name: str, open_store: type) -> None:
    _killed_write(tmp_path / name)
    left = _leftovers(tmp_path)
    assert len(left) == 1 and b"SECRET-REFRESH-TOKEN" in left[0].read_bytes()
    assert stat.S_IMODE(left[0].stat().st_mode) == 0o600
    open_store(tmp_path)
    assert _leftovers(tmp_path) == []


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / TOKEN_FILE
    in_flight = tmp_path / f".{TOKEN_FILE}.{os.getppid()}.abc123.tmp"  # our parent is alive
    in_flight.write_text("{}")
    legacy = tmp_path / f".{TOKEN_FILE}.k2j3h4.tmp"  # old naming, no pid: a leftover
    legacy.write_text("{}")
    assert files.remove_stale_temp_files(target) == [legacy]
    assert in_flight.exists()


def test_the_directory_is_fsynced_after_the_rename(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[bool, bool]] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), (tmp_path / "q.json").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    files.write_json_atomic(tmp_path / "q.json", {"day": "2026-12-01"})
    assert synced == [(False, False), (True, True)]  # the data first, the directory after


def test_quota_ledger_still_counts_after_a_killed_write(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    QuotaLedger(tmp_path).spend(now)
    _killed_write(tmp_path / "cardata_quota.json")
    ledger = QuotaLedger(tmp_path)
    assert ledger.status(now).used == 1
    assert _leftovers(tmp_path) == []
