"""Reading a text file the user named, with every way it can fail as one clear `UserError`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer.errors import InputError, UserError, not_utf8


def read_text(path: Path, what: str, *, error: type[UserError] = InputError,
              missing_hint: str = "") -> str:
    """The UTF-8 text of `path`; `what` names the file in messages ("config file")."""
    with file_errors(path, what, error=error, missing_hint=missing_hint):
        return path.read_text(encoding="utf-8")


@contextmanager
def file_errors(path: Path, what: str, *, error: type[UserError] = InputError,
                missing_hint: str = "") -> Iterator[None]:
    """Every way reading `path` inside the block can fail, as one `error` naming the file: for
    a reader that streams it (a price CSV) as for `read_text`."""
    try:
        yield
    except FileNotFoundError:
        raise error(f"{path}: {what} not found{missing_hint}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {not_utf8(exc)}; save the {what} as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
