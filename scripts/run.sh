#!/bin/sh
# The main job: set up (first run only), then run the demo: the whole charging service against
# the CarData simulator and a simulated OCPP wallbox, an evening plug-in to a morning departure
# in about a minute. Extra arguments go to `ev-optimizer demo` (e.g. --speed 2000, --json).
# The old example plan is `.venv/bin/ev-optimizer plan --config config.toml
# --now 2024-03-05T18:00:00+01:00 --soc 30`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
cd "$root"
exec "$root/.venv/bin/ev-optimizer" demo "$@"
