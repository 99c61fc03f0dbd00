#!/usr/bin/env bash
# The main job: set up if needed, then run the pipeline (default: the embedded synthetic benchmark).
# `bash run.sh --help` lists the options (--out DIR, --benchmark NAME, --config FILE, --executor ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash setup.sh --quiet
PY=python; [[ -z "${VIRTUAL_ENV:-}" ]] && PY=.venv/bin/python
exec "$PY" -m nesbench run "$@"
