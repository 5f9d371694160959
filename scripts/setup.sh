#!/usr/bin/env bash
# Creates .venv (if needed) and installs oligomet with its test, federated and web extras. Idempotent.
# A new .venv uses Python 3.13 when the machine has it (vantage6-algorithm-tools 5.x, the federated extra,
# needs >= 3.13); an existing .venv is kept, and on Python < 3.13 the federated tests skip (CI fails instead).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  # a candidate must actually run: a pyenv shim exists for every installed version but fails outside it
  for cand in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 python3.13; do
    if "$cand" -c 'import sys; assert sys.version_info >= (3, 13)' >/dev/null 2>&1; then PYTHON=$cand; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.oligomet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test,federated,web]"
  touch "$stamp"
fi
