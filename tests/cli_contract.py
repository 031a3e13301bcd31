"""The CLI's error contract, shared by the tests that run it as a subprocess.

A mistake is exit 2 and one line `error: ...` on stderr; with `--json` the same message is also
printed on stdout as `{"error": ...}`, so that a script parsing stdout always gets JSON.
"""

from __future__ import annotations

import json


def assert_error_stdout(stdout: str, stderr: str, wants_json: bool) -> None:
    if not wants_json:
        assert stdout == "", stdout
        return
    message = stderr.removeprefix("error: ").rstrip("\n")
    assert stdout == json.dumps({"error": message}) + "\n", (stdout, stderr)
