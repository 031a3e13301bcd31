"""The project's exception tree, and the helpers that keep an error message to one safe line.

Every error a person can fix (a wrong config key, a bad price file, a refused login) is a
`UserError`: the CLI prints its message and exits with code 2, without a traceback.
"""


class OptimizerError(Exception):
    """Base class of everything this package raises on purpose."""


class UserError(OptimizerError):
    """Bad input that the user can correct; the message says what and how."""

    exit_code = 2


class ConfigError(UserError):
    """config.toml (or a file it points to) is invalid."""


class InputError(UserError):
    """A file or argument given on the command line is invalid (price CSV, tariff, JSONL)."""


def quoted(value: object, limit: int = 40) -> str:
    """`repr(value)`, cut to `limit` characters: a message names a bad value, it never echoes a
    whole file (the first line of /etc/passwd given as a price file, say)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def not_utf8(exc: UnicodeDecodeError) -> str:
    """What is wrong with a file that is not UTF-8 text, without quoting its content."""
    return f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"


def one_line(problems: list[str], source: str) -> str:
    """Several problems of one file as one line: the first in full, then the others."""
    first, *others = problems
    more = f" (and {len(others)} more: {'; '.join(others)})" if others else ""
    return f"{source}: {first}{more}"


def printable(message: str) -> str:
    """`message` with every control or line-separator character escaped (`\\x1e`), so that a
    value quoted from bad input can never split an error into several lines."""
    return "".join(
        char if char.isprintable() or char == " " else char.encode("unicode_escape").decode()
        for char in message
    )
