#!/usr/bin/env bash
# Render every test sequence of trained jobs and map the evaluated epoch (epoch_<final>) into <runs>/<method>/<protocol>/<subject>/<seq>/rgb/
# (what calculate_metric.py scores); writes method_info.json per job.
#   bash eval.sh --methods pointavatar --protocols speech --subjects testset1 [--pointavatar.test-time-fitting on|off]
#                [--pointavatar.fitting-scope split|sequence] [--benchmark NAME] [--runs DIR] [--data DIR] [--force]
# --subjects defaults to all subjects of the benchmark (21 on RenderMe-360, run one after the other);
# --pointavatar.* are PointAvatar's own options (default: fitting on, one run over the whole split);
# --monogaussianavatar.test-time-fitting and --monogaussianavatar.fitting-scope the same for MonoGaussianAvatar.
# (--method/--protocol, the benchmark's spellings, and --test-time-fitting/--fitting-scope are kept as aliases.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
PY="${PY:-.venv/bin/python}"
[[ -x "$PY" ]] || { echo "eval.sh: error: no Python environment; run bash setup.sh first" >&2; exit 1; }
if [[ $# -eq 0 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then exec "$PY" -m nesbench upstream eval --help; fi
exec "$PY" -m nesbench upstream eval "$@"
