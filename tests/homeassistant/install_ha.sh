#!/bin/sh
# Creates the Home Assistant venv used by tests/homeassistant (once; reused while the stamp exists).
# Recipe from reference/actuators.md §3.2: HA 2025.4.4 is the newest release whose
# Requires-Python accepts the machine's Python 3.13.0; its own constraints file keeps pip from
# backtracking, and the two packages HA would pip-install at first start are pre-installed so the
# tests can run it with --skip-pip.
set -eu
py=${1:?usage: install_ha.sh PYTHON3.13 VENV_DIR}
venv=${2:?usage: install_ha.sh PYTHON3.13 VENV_DIR}
version=2025.4.4
stamp="$venv/.installed-homeassistant-$version"
[ -f "$stamp" ] && exit 0
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
dl="$venv/dl"
"$venv/bin/python" -m pip download --quiet --no-deps -d "$dl" "homeassistant==$version"
wheel="$dl/homeassistant-$version-py3-none-any.whl"
"$venv/bin/python" -c "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read('homeassistant/package_constraints.txt').decode())" "$wheel" > "$venv/constraints.txt"
"$venv/bin/python" -m pip install --quiet -c "$venv/constraints.txt" "$wheel" \
    home-assistant-frontend==20250411.0 paho-mqtt==2.1.0
rm -rf "$dl"
touch "$stamp"
