#!/bin/sh
# Creates .venv and installs the project with its dev tools, only when pyproject.toml changed.
# Sourced by scripts/run.sh and scripts/test.sh so that a fresh clone needs nothing but
# Python 3.11+ and git.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ev-optimizer needs Python 3.11 or newer; '$py' is $("$py" --version 2>&1)." >&2
    echo "Set PYTHON=/path/to/python3.11 and run again." >&2
    exit 2
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
stamp="$venv/.installed-$(cksum < "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
    echo "Installing ev-optimizer and its dependencies into .venv (first run only) ..." >&2
    log="$venv/install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip \
           && "$venv/bin/python" -m pip install -e "$root[dev]"; } > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "Installing into .venv failed; the whole log is in $log" >&2
        exit 1
    fi
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
# Byte-code for the package, as a wheel install writes it: an editable install leaves none, and
# where PYTHONDONTWRITEBYTECODE is set every command would compile its modules again (tens of
# milliseconds of each `plan`). Up-to-date files are skipped, so this costs little after the first.
"$venv/bin/python" -m compileall -q "$root/optimizer" > /dev/null
