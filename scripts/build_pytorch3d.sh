#!/usr/bin/env bash
# Build PyTorch3D (stock, >= 0.7) from source for the installed torch/CUDA: PointAvatar's renderer needs it
# (the fork's compositing weights are computed in Python by the harness, see docs/UPSTREAM.md).
#
#   bash scripts/build_pytorch3d.sh [--src DIR_OR_GIT_URL] [--ref REF] [--python PY]        # foreground
#   bash scripts/build_pytorch3d.sh --background [...]   # detached (setsid); returns at once
#   bash scripts/build_pytorch3d.sh --status             # poll a background build: running | ok | failed
#
# Env: TORCH_CUDA_ARCH_LIST (default 9.0 = H100/H200), MAX_JOBS (default 16), NESBENCH_BUILD_DIR (default
# ~/.cache/nesbench/pytorch3d-build). Offline: --src a local clone or mirror of facebookresearch/pytorch3d.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="https://github.com/facebookresearch/pytorch3d.git" REF="" BG=0 STATUS=0
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"
BUILD="${NESBENCH_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nesbench/pytorch3d-build}"
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="${2:?--src needs a folder or git URL}"; shift 2 ;;
    --ref) REF="${2:?--ref needs a tag, branch or commit}"; shift 2 ;;
    --python) PY="${2:?--python needs an interpreter}"; shift 2 ;;
    --background) BG=1; shift ;;
    --status) STATUS=1; shift ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "build_pytorch3d.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
mkdir -p "$BUILD"
LOG="$BUILD/build.log" RC="$BUILD/build.rc" PID="$BUILD/build.pid"

if [[ $STATUS == 1 ]]; then
  if [[ -f "$RC" ]]; then
    [[ "$(cat "$RC")" == 0 ]] && { echo "ok"; exit 0; }
    echo "failed (exit $(cat "$RC")); last lines of $LOG:"; tail -n 20 "$LOG"; exit 1
  fi
  if [[ -f "$PID" ]] && kill -0 "$(cat "$PID")" 2>/dev/null; then echo "running; tail of $LOG:"; tail -n 3 "$LOG"; exit 0; fi
  echo "no build running or finished in $BUILD"; exit 1
fi

if [[ $BG == 1 ]]; then
  rm -f "$RC"
  FG=()
  for a in "${ARGS[@]}"; do [[ "$a" != --background ]] && FG+=("$a"); done
  setsid nohup bash "$0" "${FG[@]}" > "$LOG" 2>&1 < /dev/null &
  echo $! > "$PID"
  echo "PyTorch3D build started in the background (pid $(cat "$PID")); poll with: bash $0 --status"
  exit 0
fi

trap 'echo $? > "$RC"' EXIT
command -v nvcc >/dev/null || { echo "error: no CUDA compiler (nvcc) on PATH; PyTorch3D's GPU ops need one (install the CUDA toolkit matching torch.version.cuda)"; exit 1; }
"$PY" -c 'import torch; assert torch.version.cuda, "CPU-only torch"; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
  || { echo "error: $PY has no CUDA build of torch"; exit 1; }
if "$PY" -c 'import pytorch3d, sys; from pytorch3d import _C; print("pytorch3d", pytorch3d.__version__, "already installed")'; then exit 0; fi
SRCDIR="$BUILD/src"
if [[ -d "$SRC" && ! -e "$SRC/HEAD" && -f "$SRC/setup.py" ]]; then
  SRCDIR="$SRC"                       # an unpacked source tree
else
  rm -rf "$SRCDIR"; git clone -q "$SRC" "$SRCDIR"      # a git URL, bare mirror or clone
  [[ -n "$REF" ]] && git -C "$SRCDIR" checkout -q "$REF"
fi
echo "building $(git -C "$SRCDIR" describe --tags --always 2>/dev/null || echo "$SRCDIR") with TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-16}"
FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" MAX_JOBS="${MAX_JOBS:-16}" \
  "$PY" -m pip install --no-build-isolation --no-deps -v "$SRCDIR"
"$PY" -c 'import pytorch3d; from pytorch3d import _C; from pytorch3d.renderer import AlphaCompositor; print("pytorch3d", pytorch3d.__version__, "ok")'
