#!/usr/bin/env bash
# Build PyTorch3D (stock, at the commit pinned in configs/upstream.conf `build.pytorch3d`) from source for the
# installed torch/CUDA: PointAvatar's renderer needs it (the fork's compositing weights are computed in Python by the
# harness, see docs/UPSTREAM.md). The wheel is cached per (commit, torch, CUDA, arch list): a second setup on the same
# machine (or with the same cache folder) installs it in seconds.
#
#   bash scripts/build_pytorch3d.sh [--src SRC] [--python PY]      # foreground
#   bash scripts/build_pytorch3d.sh --background [...]             # detached (setsid); returns at once
#   bash scripts/build_pytorch3d.sh --status                       # poll a background build: running | ok | failed
#
# SRC: a git URL, a git repository or mirror (bare or not), a mirror folder DIR holding pytorch3d/, or a tarball made
# by `git archive <pinned commit>` (its embedded commit id is checked). Default: the pinned URL (GitHub).
# Anything not at the pinned commit is refused. Env: TORCH_CUDA_ARCH_LIST (default 9.0 = H100/H200), MAX_JOBS
# (default 16), NESBENCH_BUILD_DIR (default ~/.cache/nesbench/pytorch3d-build; wheels in its wheels/ folder).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="" BG=0 STATUS=0
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"
BUILD="${NESBENCH_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nesbench/pytorch3d-build}"
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="${2:?--src needs a folder, tarball or git URL}"; shift 2 ;;
    --python) PY="${2:?--python needs an interpreter}"; shift 2 ;;
    --background) BG=1; shift ;;
    --status) STATUS=1; shift ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "build_pytorch3d.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$BUILD"
LOG="$BUILD/build.log" RC="$BUILD/build.rc" PID="$BUILD/build.pid"
die() { echo "build_pytorch3d.sh: error: $*" >&2; exit 1; }

if [[ $STATUS == 1 ]]; then
  if [[ -f "$RC" ]]; then
    [[ "$(cat "$RC")" == 0 ]] && { echo "ok"; tail -n 2 "$LOG"; exit 0; }
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
T0=$SECONDS
read -r PIN_URL PIN_COMMIT PIN_VERSION PIN_MIRROR < <(cd "$ROOT" && "$PY" -c '
from nesbench.upstream.pins import load_build_pin
p = load_build_pin("pytorch3d"); print(p.url, p.commit, p.version, p.mirror)') \
  || die "cannot read the PyTorch3D pin (configs/upstream.conf build.pytorch3d) with $PY; run bash setup.sh first"
SRC="${SRC:-$PIN_URL}"
if [[ -d "$SRC" && -e "$SRC/$PIN_MIRROR" ]]; then SRC="$SRC/$PIN_MIRROR"        # a mirror folder holding pytorch3d/
elif [[ -d "$SRC" && -f "$SRC/$PIN_MIRROR.tar.gz" ]]; then SRC="$SRC/$PIN_MIRROR.tar.gz"; fi

if [[ -f "$SRC" ]]; then                            # a tarball: check its embedded commit before anything else
  FOUND=$( (gzip -dc "$SRC" 2>/dev/null || cat "$SRC") | git get-tar-commit-id 2>/dev/null || true)
  [[ "$FOUND" == "$PIN_COMMIT" ]] \
    || die "$SRC: a tarball of commit '${FOUND:-unknown}', but configs/upstream.conf pins $PIN_COMMIT; make it with: git -C pytorch3d archive --format=tar.gz -o pytorch3d.tar.gz $PIN_COMMIT"
fi

# The exact check: pytorch3d importable with its compiled ops, and the ops PointAvatar uses run on the GPU.
verify() {
  "$PY" - <<'PY'
import pytorch3d, torch
from pytorch3d import _C  # noqa: F401  (the compiled extension)
from pytorch3d.ops import knn_points
from pytorch3d.renderer import AlphaCompositor, PointsRasterizationSettings, PointsRasterizer
from pytorch3d.renderer.cameras import FoVOrthographicCameras
from pytorch3d.structures import Pointclouds
dev = torch.device("cuda")
pts = torch.rand(1, 500, 3, device=dev) - 0.5
pts[..., 2] += 2
knn = knn_points(pts, pts, K=4)
cloud = Pointclouds(points=pts, features=torch.rand(1, 500, 3, device=dev))
raster = PointsRasterizer(cameras=FoVOrthographicCameras(device=dev),
                          raster_settings=PointsRasterizationSettings(image_size=64, radius=0.02, points_per_pixel=8))
frags = raster(cloud)
img = AlphaCompositor()(frags.idx.long().permute(0, 3, 1, 2), torch.ones_like(frags.dists.permute(0, 3, 1, 2)),
                        cloud.features_packed().permute(1, 0))
torch.cuda.synchronize()
print(f"pytorch3d {pytorch3d.__version__} ok: knn_points {tuple(knn.dists.shape)}, points rasterizer "
      f"{tuple(frags.idx.shape)}, AlphaCompositor {tuple(img.shape)} on {torch.cuda.get_device_name()}")
PY
}

command -v nvcc >/dev/null || die "no CUDA compiler (nvcc) on PATH; PyTorch3D's GPU ops need one (install the CUDA toolkit matching torch.version.cuda)"
TAG=$("$PY" -c 'import torch; assert torch.version.cuda, "CPU-only torch"; print(f"torch{torch.__version__.split(chr(43))[0]}-cu{torch.version.cuda}")') \
  || die "$PY has no CUDA build of torch; install one (pip install torch --index-url https://download.pytorch.org/whl/cu130)"
ARCH="${TORCH_CUDA_ARCH_LIST:-9.0}"
KEY="${PIN_COMMIT:0:12}-$TAG-sm${ARCH// /_}"
WHEELS="$BUILD/wheels/$KEY"
INSTALLED=$("$PY" -c 'import importlib.metadata as m, json; d = m.distribution("pytorch3d"); print(json.loads(d.read_text("direct_url.json") or "{}").get("url", ""))' 2>/dev/null || true)
if [[ "$INSTALLED" == *"$KEY"* ]] && verify; then
  echo "pytorch3d at the pinned commit ${PIN_COMMIT:0:12} already installed ($KEY)"; exit 0
fi

if ! compgen -G "$WHEELS/pytorch3d-*.whl" >/dev/null; then
  SRCDIR="$BUILD/src-$KEY"
  rm -rf "$SRCDIR"; mkdir -p "$SRCDIR"
  if [[ -f "$SRC" ]]; then                          # a `git archive` tarball of the pinned commit
    tar -xf "$SRC" -C "$SRCDIR"
  else                                              # a git URL, clone or (bare) mirror
    git init -q "$SRCDIR"
    git -C "$SRCDIR" fetch -q --depth 1 "$SRC" "$PIN_COMMIT" 2>/dev/null \
      || git -C "$SRCDIR" fetch -q "$SRC" 2>/dev/null \
      || die "$SRC: cannot fetch from it (offline? pass --src a mirror or a tarball of commit $PIN_COMMIT)"
    git -C "$SRCDIR" -c advice.detachedHead=false checkout -q "$PIN_COMMIT" 2>/dev/null \
      || die "$SRC: commit $PIN_COMMIT (configs/upstream.conf build.pytorch3d) is not in it; update the mirror (git fetch)"
    [[ "$(git -C "$SRCDIR" rev-parse HEAD)" == "$PIN_COMMIT" ]] || die "$SRCDIR: checkout is not at $PIN_COMMIT"
  fi
  echo "building pytorch3d ${PIN_VERSION} at ${PIN_COMMIT:0:12} for $TAG with TORCH_CUDA_ARCH_LIST=$ARCH MAX_JOBS=${MAX_JOBS:-16}"
  mkdir -p "$WHEELS.tmp"
  FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS="${MAX_JOBS:-16}" \
    "$PY" -m pip wheel --no-build-isolation --no-deps -w "$WHEELS.tmp" "$SRCDIR"
  rm -rf "$WHEELS"; mv "$WHEELS.tmp" "$WHEELS"; rm -rf "$SRCDIR"
  echo "built in $((SECONDS - T0)) s; wheel cached in $WHEELS"
else
  echo "installing the cached wheel $WHEELS (pinned commit ${PIN_COMMIT:0:12})"
fi
"$PY" -m pip install -q --no-deps --force-reinstall "$WHEELS"/pytorch3d-*.whl
verify
echo "pytorch3d ready in $((SECONDS - T0)) s ($KEY)"
