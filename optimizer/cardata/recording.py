"""Recorded CarData streams: one raw stream message (the wire envelope) per line.

`stream --record FILE` writes them, `stream --replay FILE` and `estimate --stream FILE` read
them. Reading is defensive because a recording is a file a person hands us: a line that is not
UTF-8 or too long to be a CarData message is reported by number with what is wrong, never with
what it holds (a file that is not a recording at all, `/etc/passwd` say, is not echoed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from optimizer.errors import InputError

MAX_LINE_BYTES = 1 << 20
"""CarData messages are a few KiB; a longer line means the file is not a recording (and
reading on would let `/dev/zero` or a huge binary file eat the memory)."""


@dataclass(frozen=True, slots=True)
class RecordedLine:
    number: int
    text: str | None
    """The line without its newline; None when it is not UTF-8 text (`problem` says so)."""
    problem: str | None = None


def read_recording(path: Path, what: str = "stream file") -> Iterator[RecordedLine]:
    """The non-blank lines of a recording, numbered from 1, in file order.

    Raises `InputError` naming the file when it cannot be opened or a line is longer than
    `MAX_LINE_BYTES`; a line that is not UTF-8 comes back with `text` None and a `problem`.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{what} {path}: {exc.strerror}") from None
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:  # a directory on some systems, a vanished mount
                raise InputError(f"{what} {path}: {exc.strerror}") from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"{what} {path} line {number}: longer than "
                                 f"{MAX_LINE_BYTES // 1024} KiB, so not a recorded CarData "
                                 f"stream (one JSON message per line)")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield RecordedLine(number, None, "not UTF-8 text")
                continue
            yield RecordedLine(number, text)


class Recorder:
    """Appends raw stream payloads to a file, one per line, flushed as they come (a stopped
    recording loses nothing). The file is created 0600: messages carry the car's position."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise InputError(f"record file {path}: {exc.strerror}") from None
        self._handle: IO[str] = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, payload: bytes | str) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        # A raw newline can only be whitespace in valid JSON, so a pretty-printed payload
        # keeps its meaning on one line.
        self._handle.write(text.replace("\r", " ").replace("\n", " ") + "\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
