#!/usr/bin/env bash
# Render every test sequence of trained jobs and map the evaluated epoch (epoch_<final>) into <runs>/<method>/<protocol>/<subject>/<seq>/rgb/
# (what calculate_metric.py scores); writes method_info.json per job.
#   bash eval.sh --method pointavatar --protocol speech --subjects testset1 [--test-time-fitting on|off]
#                [--fitting-scope split|sequence] [--benchmark NAME] [--runs DIR] [--data DIR] [--force]
# --subjects defaults to all subjects of the benchmark (21 on RenderMe-360, run one after the other);
# --test-time-fitting and --fitting-scope are PointAvatar only (default: fitting on, one run over the whole split).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
PY="${PY:-.venv/bin/python}"
[[ -x "$PY" ]] || { echo "eval.sh: error: no Python environment; run bash setup.sh first" >&2; exit 1; }
if [[ $# -eq 0 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then exec "$PY" -m nesbench upstream eval --help; fi
exec "$PY" -m nesbench upstream eval "$@"
