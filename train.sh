#!/usr/bin/env bash
# Train upstream methods, one job per (method, subject, protocol); finished jobs are skipped, interrupted ones resume.
#   bash train.sh --methods pointavatar --protocols speech --subjects testset1 [--epochs N] [--benchmark NAME]
#                 [--runs DIR] [--data DIR] [--set KEY=VALUE ...] [--force]
# (--method/--protocol, the benchmark's spellings, are kept as aliases.)
# --subjects defaults to all subjects of the benchmark (21 on RenderMe-360, run one after the other); --epochs
# must be a positive integer. Before launching, each job checks the checkout, FLAME, the data and torchvision.
# Logs: <runs>/<method>/<protocol>/<subject>/logs/train.log; a summary is printed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
PY="${PY:-.venv/bin/python}"
[[ -x "$PY" ]] || { echo "train.sh: error: no Python environment; run bash setup.sh first" >&2; exit 1; }
if [[ $# -eq 0 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then exec "$PY" -m nesbench upstream train --help; fi
exec "$PY" -m nesbench upstream train "$@"
