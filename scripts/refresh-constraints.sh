#!/usr/bin/env bash
# Renew constraints.txt: resolve pyproject.toml's ranges anew in a fresh venv, run the whole
# test suite there, and only when it passes write the versions it ran on.
#   bash scripts/refresh-constraints.sh          # then review `git diff constraints.txt`
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q torch==2.13.0
"$venv/bin/python" -m pip install -q -e '.[dev]'
bash scripts/setup-system.sh
OMP_NUM_THREADS=1 "$venv/bin/python" -m pytest -q -n 2 --dist loadgroup
{
  echo "# The exact versions CI last passed on (make test, Python 3.11, the CPU torch on this disk)."
  echo "# Installed by the Makefile (pip install -c constraints.txt); refresh with"
  echo "# scripts/refresh-constraints.sh, which resolves the pyproject ranges anew and runs the tests."
  "$venv/bin/python" -m pip freeze --exclude-editable | grep -v '^adapex' | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/'
} > constraints.txt
echo "constraints.txt renewed from a passing run; review it with: git diff constraints.txt" >&2
