"""The `ev-optimizer` command line.

Each subcommand lives in its own module under `optimizer.commands` and exposes
`register(subparsers)`; they are discovered here, so adding a command touches no shared file.
A `UserError` becomes a one-line message on stderr and exit code 2; nothing prints a traceback
unless `--debug` is given.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import optimizer.commands
from optimizer import __version__
from optimizer.errors import UserError, printable

Handler = Callable[[argparse.Namespace], int]


class UsageError(UserError):
    """A flag argparse refused (unknown, missing, or a value its `type` rejected)."""


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter, given the terminal's width as `shutil` would find it: asking
    `shutil`, as argparse does for every argument added, imports it with lzma, bz2 and zlib,
    a tenth of the start-up of `plan`."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0 and sys.__stdout__ is not None:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (ValueError, OSError):
                columns = 0
        super().__init__(prog, width=(columns or 80) - 2)


class _Parser(argparse.ArgumentParser):
    """Usage errors become a `UsageError`, reported like every other mistake (exit 2, one line,
    and a JSON error object when `--json` is given)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All subcommands, or with `only` just that one: importing every command module costs
    about a second (OCPP, Modbus, MQTT), which `plan` and its batches should not pay."""
    parser = _Parser(
        prog="ev-optimizer",
        description="Smart charging for BMW and MINI cars: BMW CarData in, the cheapest plan "
        "that meets the departure out, carried out by a wallbox. Every command takes --help.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(optimizer.commands.__path__), key=lambda m: m.name):
        if only is not None and info.name != only:
            continue
        module = importlib.import_module(f"optimizer.commands.{info.name}")
        module.register(subparsers)
    return parser


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the subcommand named on the command line, if there is one."""
    known = {info.name for info in pkgutil.iter_modules(optimizer.commands.__path__)}
    for token in argv:
        if not token.startswith("-"):
            name = token.replace("-", "_")
            return name if name in known else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parsed = _parse(argv)
    return parsed if isinstance(parsed, int) else _dispatch(parsed, argv)


def run() -> NoReturn:
    """The process entry (`ev-optimizer`, `python -m optimizer`): `main`, then exit."""
    argv = sys.argv[1:]
    # Importing the command's modules makes tens of thousands of objects and no garbage: the
    # cyclic collector's passes over them were a seventh of that import.
    gc.disable()
    try:
        parsed = _parse(argv)
    finally:
        gc.enable()
    code = parsed if isinstance(parsed, int) else _dispatch(parsed, argv)
    # Exiting, the interpreter walks every object still alive in one last collection: the
    # imports, and a batch's caches. Frozen, they are left to the OS (a tenth of the time of a
    # `plan --batch`); the atexit handlers and the flush of stdout still run.
    gc.freeze()
    sys.exit(code)


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The parsed command line, or the exit code of a usage error (reported)."""
    try:
        return build_parser(_command_module(argv)).parse_args(argv)
    except UsageError as exc:
        return _report(exc, "--json" in argv)


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    wants_json = "--json" in argv
    if args.debug or getattr(args, "logs", True):
        # A command that logs nothing (`plan`) sets `logs=False`: importing logging is a
        # tenth of its start-up. A stray warning still reaches stderr, as Python prints it.
        import logging

        logging.basicConfig(
            level=logging.DEBUG if args.debug else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as exc:
        if args.debug:
            raise
        return _report(exc, wants_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... --json | head`): stop quietly, as Unix tools do, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if args.debug:
            raise
        _tell(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
              wants_json)
        return 1


def _report(exc: UserError, wants_json: bool) -> int:
    """The message on stderr; with `--json`, also as `{"error": ...}` on stdout, so that what a
    script parses is JSON on every path."""
    _tell(str(exc), wants_json)
    return exc.exit_code


def _tell(message: str, wants_json: bool) -> None:
    message = printable(message)
    if wants_json:
        print(json.dumps({"error": message}))
    print(f"error: {message}", file=sys.stderr)
