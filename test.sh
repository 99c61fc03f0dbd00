#!/usr/bin/env bash
# Set up if needed, then lint (ruff) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash setup.sh --quiet
PY=python; [[ -z "${VIRTUAL_ENV:-}" ]] && PY=.venv/bin/python
echo "[test] ruff check + ruff format --check"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
echo "[test] pytest"
exec "$PY" -m pytest "$@"
