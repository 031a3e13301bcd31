#!/bin/sh
# The main job: set up (first run only), then plan the shipped example.
# Extra arguments go to `ev-optimizer plan`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
cd "$root"
# The shipped example prices are real DE-LU day-ahead prices from March 2024, so the
# example plans from a fixed moment inside that series instead of the wall clock.
exec "$root/.venv/bin/ev-optimizer" plan --config config.toml \
    --now 2024-03-05T18:00:00+01:00 --soc 30 "$@"
