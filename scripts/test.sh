#!/bin/sh
# Set up (first run only), then run the whole test suite. Extra arguments go to pytest.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
