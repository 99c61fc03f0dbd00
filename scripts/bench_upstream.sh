#!/usr/bin/env bash
# GPU cost before/after (issue 18): for each method, train N epochs and render one test sequence once per variant,
# then write one markdown table (scripts/bench_table.py): seconds per epoch and per rendered frame, whether the
# renders are byte for byte those of `off`, and every metric of the renders against the GT.
#
#   bash scripts/bench_upstream.sh [--methods imavatar,pointavatar] [--benchmark synthetic_smoke] [--subject ID]
#        [--sequence SEQ] [--im-epochs 2] [--pa-epochs 3] [--variants off,on,tf32] [--nondeterministic] [--out DIR]
#
# Variants: off = upstream's behaviour (NESBENCH_SPEEDUPS=none: per-frame meshes and plots), on = the identical
# speed-ups (the default of every run), tf32 = on + the TF32 opt-in (NESBENCH_TF32=1), on-again = `on` once more
# (tells GPU non-determinism apart from a speed-up that changed something). Each variant trains from scratch into
# its own folder OUT/<method>/<variant>/ (the installed checkout's experiments are not touched) and renders SEQ
# (default: the first test sequence of the expression protocol) with the overlay runner; PointAvatar fits that
# sequence alone (--fitting-scope sequence). NESBENCH_DETERMINISTIC=1 unless --nondeterministic.
# Needs: the methods installed (setup.sh / nesbench upstream install) with FLAME, the benchmark's data (all three in
# one go: bash scripts/smoke_upstream.sh --steps setup,pytorch3d,data; its offline env .offline-env/ is used here too).
# Output: OUT/bench.md (the table), OUT/<method>/<variant>/{times.json,train.out,eval.out,renders/,score.json}.
# Tests replace the training and rendering commands with $NESBENCH_BENCH_TRAIN / $NESBENCH_BENCH_EVAL.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
METHODS=imavatar,pointavatar BENCH=synthetic_smoke SUBJECT="" SEQ="" IM_EPOCHS=2 PA_EPOCHS=3 VARIANTS=off,on,tf32
DETERMINISTIC=1 OUT="$ROOT/runs/bench_upstream"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
die() { echo "bench_upstream.sh: error: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --methods|--method) METHODS="${2:?}"; shift 2 ;;
    --benchmark) BENCH="${2:?}"; shift 2 ;;
    --subject) SUBJECT="${2:?}"; shift 2 ;;
    --sequence) SEQ="${2:?}"; shift 2 ;;
    --im-epochs) IM_EPOCHS="${2:?}"; shift 2 ;;
    --pa-epochs) PA_EPOCHS="${2:?}"; shift 2 ;;
    --variants) VARIANTS="${2:?}"; shift 2 ;;
    --nondeterministic) DETERMINISTIC=0; shift ;;
    --out) OUT="${2:?}"; shift 2 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for n in "$IM_EPOCHS" "$PA_EPOCHS"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--im-epochs/--pa-epochs: give a positive integer, not '$n'"; done
IFS=, read -ra MLIST <<< "$METHODS"
IFS=, read -ra VLIST <<< "$VARIANTS"
[[ ${#MLIST[@]} -gt 0 && ${#VLIST[@]} -gt 0 ]] || die "--methods and --variants must not be empty"
for m in "${MLIST[@]}"; do [[ "$m" == imavatar || "$m" == pointavatar ]] || die "--methods: imavatar and/or pointavatar, not '$m'"; done
for v in "${VLIST[@]}"; do [[ "$v" =~ ^(off|on|tf32|on-again)$ ]] || die "--variants: off, on, tf32, on-again, not '$v'"; done
# shellcheck source=scripts/lib/offline_env.sh
source "$ROOT/scripts/lib/offline_env.sh"
offline_env_default
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"
# subject, test sequence and its GT folder from the benchmark definition
read -r SUBJECT SEQ GT < <("$PY" - "$BENCH" "$SUBJECT" "$SEQ" <<'EOF'
import sys
from nesbench.config import load_benchmark
from nesbench.data.layout import sequence_dir
b = load_benchmark(sys.argv[1])
subject = sys.argv[2] or b.resolve_subjects("all")[0]
seq = sys.argv[3] or b.protocol("expression").splits[0].sequences[0]
print(subject, seq, sequence_dir(b.data_root(), b.testset_of(subject), subject, seq))
EOF
) || die "benchmark '$BENCH': cannot resolve the subject or the test sequence"
[[ -d "$GT/image" ]] || die "$GT/image: no GT frames; create the data first (bash scripts/smoke_upstream.sh --steps data --benchmark $BENCH)"
TRAIN="${NESBENCH_BENCH_TRAIN:-bash $ROOT/train.sh}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)  # absolute: the runner resolves train.exps_folder from the upstream code folder
echo "bench: methods $METHODS, variants $VARIANTS, benchmark $BENCH subject $SUBJECT sequence $SEQ, deterministic $DETERMINISTIC -> $OUT"

eval_default() {  # METHOD CONF SEQ FINAL WORKDIR: the overlay runner renders SEQ at checkpoint FINAL
  local m=$1 code
  code=$("$PY" -c "from nesbench.paths import upstream_dir; from nesbench.upstream.pins import get_pin; print(get_pin('$m').code_dir(upstream_dir()))")
  local extra=()
  [[ $m == pointavatar ]] && extra=(--test-time-fitting on --fitting-scope sequence)
  (cd "$code" && "$PY" scripts/nes_runner.py --conf "$2" --is_eval --sequences "$3" --checkpoint "$4" --workdir "$5" "${extra[@]}")
}

for m in "${MLIST[@]}"; do
  epochs=$IM_EPOCHS pred=rgb
  [[ $m == pointavatar ]] && epochs=$PA_EPOCHS pred=rgb_erode_dilate
  for v in "${VLIST[@]}"; do
    dir="$OUT/$m/$v"
    rm -rf "$dir"; mkdir -p "$dir/renders" "$dir/confs"
    speedups=all; [[ $v == off ]] && speedups=none
    tf32=""; [[ $v == tf32 ]] && tf32=1
    echo "bench: $m $v: training $epochs epochs"
    t=$(now)
    NESBENCH_SPEEDUPS=$speedups NESBENCH_TF32=$tf32 NESBENCH_DETERMINISTIC=$DETERMINISTIC \
      $TRAIN --methods "$m" --protocols expression --subjects "$SUBJECT" --benchmark "$BENCH" --epochs "$epochs" \
      --runs "$dir/runs" --set "train.exps_folder=$dir/exp" > "$dir/train.out" 2>&1 \
      || { tail -5 "$dir/train.out" >&2; die "$m $v: training failed (log: $dir/train.out, $dir/runs/$m/expression/$SUBJECT/logs/train.log)"; }
    train_s=$(since "$t")
    read -r final train_dir conf < <("$PY" - "$dir/runs" "$m" "$BENCH" "$SUBJECT" <<'EOF'
import sys
from pathlib import Path
from nesbench.config import load_benchmark
from nesbench.ledger import ledger_for_runs
from nesbench.paths import upstream_dir
from nesbench.upstream.confs import conf_path
from nesbench.upstream.job_records import finished
from nesbench.upstream.pins import get_pin
runs = Path(sys.argv[1])
done = finished(ledger_for_runs(runs), runs, f"{sys.argv[2]}/expression/{sys.argv[4]}", "train")
if not done:
    sys.exit(f"bench_upstream.sh: error: no finished train of {sys.argv[2]} recorded in {runs}")
pin = get_pin(sys.argv[2])
print(done["final_epoch"], done["train_dir"], conf_path(pin.checkout_dir(upstream_dir()), load_benchmark(sys.argv[3]), "expression", sys.argv[4], ""))
EOF
)
    echo "bench: $m $v: rendering $SEQ at epoch $final"
    t=$(now)
    if [[ -n "${NESBENCH_BENCH_EVAL:-}" ]]; then
      NESBENCH_SPEEDUPS=$speedups NESBENCH_TF32=$tf32 NESBENCH_DETERMINISTIC=$DETERMINISTIC \
        $NESBENCH_BENCH_EVAL "$m" "$conf" "$SEQ" "$final" "$dir/confs" > "$dir/eval.out" 2>&1 || die "$m $v: rendering failed (log: $dir/eval.out)"
    else
      NESBENCH_SPEEDUPS=$speedups NESBENCH_TF32=$tf32 NESBENCH_DETERMINISTIC=$DETERMINISTIC \
        eval_default "$m" "$conf" "$SEQ" "$final" "$dir/confs" > "$dir/eval.out" 2>&1 || { tail -5 "$dir/eval.out" >&2; die "$m $v: rendering failed (log: $dir/eval.out)"; }
    fi
    eval_s=$(since "$t")
    src="$(dirname "$train_dir")/eval/$SEQ/epoch_$final/$pred"
    cp "$src"/*.png "$dir/renders/" || die "$m $v: no renders in $src"
    frames=$(find "$dir/renders" -name '*.png' | wc -l)
    cp "$dir/runs/$m/expression/$SUBJECT/logs/train.log" "$dir/train.log" 2>/dev/null || true
    printf '{"method": "%s", "variant": "%s", "speedups": "%s", "tf32": "%s", "epochs": %s, "train_s": %s, "eval_s": %s, "frames": %s, "sequence": "%s", "deterministic": %s}\n' \
      "$m" "$v" "$speedups" "$([[ -n $tf32 ]] && echo on || echo "torch default")" "$epochs" "$train_s" "$eval_s" "$frames" "$SEQ" "$DETERMINISTIC" > "$dir/times.json"
    "$PY" calculate_metric.py score --pred "$dir/renders" --gt "$GT" --scorers unified --json "$dir/score.json" \
      --allow-missing-lpips > "$dir/score.out" 2>&1 || { tail -3 "$dir/score.out" >&2; die "$m $v: scoring failed (log: $dir/score.out)"; }
    echo "bench: $m $v: train ${train_s} s, render ${eval_s} s for $frames frames"
  done
done
"$PY" scripts/bench_table.py "$OUT" | tee "$OUT/bench.md"
echo "bench: table in $OUT/bench.md"
