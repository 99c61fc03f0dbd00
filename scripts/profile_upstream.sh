#!/usr/bin/env bash
# GPU cost profile of one upstream method (issue 18): a fresh copy of its checkout, N training epochs and one eval of
# the protocol's test split, every Python process under cProfile; prints where the seconds go (profile_report.py).
#
#   bash scripts/profile_upstream.sh --methods imavatar|pointavatar [--benchmark synthetic_smoke] [--epochs 1]
#                                    [--sync] [--out DIR] [-- extra eval options, e.g. --pointavatar.test-time-fitting off]
#
# The method must be installed (setup.sh --methods ...) with FLAME, and the benchmark's data present. The copy keeps
# the real checkout's experiments untouched. --sync sets CUDA_LAUNCH_BLOCKING=1 so GPU time is charged to the Python
# line that launched it (slower, but the split is readable). Output: DIR/train.log, DIR/eval.log, DIR/prof/*.prof,
# DIR/profile.md, DIR/times.txt (wall seconds of train and eval).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
METHOD="" BENCH=synthetic_smoke EPOCHS=1 SYNC=0 OUT="" EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --methods|--method) METHOD="${2:?}"; shift 2 ;;
    --benchmark) BENCH="${2:?}"; shift 2 ;;
    --epochs) EPOCHS="${2:?}"; shift 2 ;;
    --sync) SYNC=1; shift ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "profile_upstream.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$METHOD" in
  imavatar) DIRNAME=IMavatar ;;
  pointavatar) DIRNAME=PointAvatar ;;
  *) echo "profile_upstream.sh: error: --methods imavatar or pointavatar (one method per profile)" >&2; exit 2 ;;
esac
[[ "$EPOCHS" =~ ^[1-9][0-9]*$ ]] || { echo "profile_upstream.sh: error: --epochs must be a positive integer" >&2; exit 2; }
# shellcheck source=scripts/lib/offline_env.sh
source "$ROOT/scripts/lib/offline_env.sh"
offline_env_default
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"
SRC="${NESBENCH_UPSTREAM:-$ROOT/upstream}/$DIRNAME"
[[ -f "$SRC/code/scripts/nes_runner.py" ]] || { echo "profile_upstream.sh: error: $SRC: not installed; run bash setup.sh --methods $METHOD first" >&2; exit 1; }
OUT="${OUT:-$ROOT/runs/profile-$METHOD}"
rm -rf "$OUT"; mkdir -p "$OUT/upstream" "$OUT/prof"
OUT=$(cd "$OUT" && pwd)  # absolute: the runner resolves confs and experiments from the upstream code folder
# a copy without experiments, so the profiled run starts from scratch and the real checkout is untouched
tar -C "$(dirname "$SRC")" --exclude="$DIRNAME/data/experiments" -cf - "$DIRNAME" | tar -C "$OUT/upstream" -xf -
export NESBENCH_UPSTREAM="$OUT/upstream" NESBENCH_PROFILE_DIR="$OUT/prof"
export PYTHONPATH="$ROOT/scripts/profiling${PYTHONPATH:+:$PYTHONPATH}"
[[ $SYNC == 1 ]] && export CUDA_LAUNCH_BLOCKING=1
COMMON=(--methods "$METHOD" --protocols expression --subjects all --benchmark "$BENCH" --runs "$OUT/runs")
t=$SECONDS
bash train.sh "${COMMON[@]}" --epochs "$EPOCHS" 2>&1 | tee "$OUT/train.log"
train_s=$((SECONDS - t)); t=$SECONDS
bash eval.sh "${COMMON[@]}" "${EXTRA[@]}" 2>&1 | tee "$OUT/eval.log"
eval_s=$((SECONDS - t))
unset NESBENCH_PROFILE_DIR
printf "method %s benchmark %s epochs %s sync %s\ntrain_s %s\neval_s %s\n" "$METHOD" "$BENCH" "$EPOCHS" "$SYNC" "$train_s" "$eval_s" | tee "$OUT/times.txt"
"$PY" scripts/profile_report.py "$OUT/prof" > "$OUT/profile.md"
echo "profile: $OUT/profile.md"
