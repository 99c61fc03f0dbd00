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
SCRIPT_NAME=build_pytorch3d.sh
# shellcheck source=scripts/lib/pinned_build.sh
source "$ROOT/scripts/lib/pinned_build.sh"
[[ $STATUS == 1 ]] && pb_status
[[ $BG == 1 ]] && pb_background "$0" PyTorch3D "${ARGS[@]}"

pb_record_exit
T0=$SECONDS
pb_read_pin pytorch3d
SRC=$(pb_resolve_src "${SRC:-$PIN_URL}" "$PIN_MIRROR")
pb_check_tarball "$SRC" "$PIN_COMMIT" pytorch3d   # a tarball: check its embedded commit before anything else

# The exact check: pytorch3d importable with its compiled ops, and the ops PointAvatar uses run on the GPU.
verify() {
  "$PY" - <<'PY'
import pytorch3d, torch
from pytorch3d import _C  # noqa: F401  (the compiled extension)
import pytorch3d.io  # noqa: F401  (needs iopath: FlashAvatar's load_obj)
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

pb_torch_tag "PyTorch3D's GPU ops"
KEY="${PIN_COMMIT:0:12}-$TAG-sm${ARCH// /_}"
WHEELS="$BUILD/wheels/$KEY"
INSTALLED=$(pb_installed_url pytorch3d)
if [[ "$INSTALLED" == *"$KEY"* ]] && verify; then
  echo "pytorch3d at the pinned commit ${PIN_COMMIT:0:12} already installed ($KEY)"; exit 0
fi

if ! compgen -G "$WHEELS/pytorch3d-*.whl" >/dev/null; then
  SRCDIR="$BUILD/src-$KEY"
  pb_fetch "$SRC" "$PIN_COMMIT" "$SRCDIR"
  echo "building pytorch3d ${PIN_VERSION} at ${PIN_COMMIT:0:12} for $TAG with TORCH_CUDA_ARCH_LIST=$ARCH MAX_JOBS=${MAX_JOBS:-16}"
  pb_build_wheel "$SRCDIR" "$WHEELS"; rm -rf "$SRCDIR"
  echo "built in $((SECONDS - T0)) s; wheel cached in $WHEELS"
else
  echo "installing the cached wheel $WHEELS (pinned commit ${PIN_COMMIT:0:12})"
fi
pb_install_wheel "$WHEELS" "pytorch3d-*.whl"
# The wheel goes in with --no-deps (no resolver touching torch): its one runtime dependency, iopath, is installed here.
# pytorch3d.io needs it (FlashAvatar loads its head mesh with it); without it that import fails at training time.
if ! "$PY" -c 'import iopath' 2>/dev/null; then
  "$PY" -m pip install -q "iopath>=0.1.9" || {
    echo "build_pytorch3d.sh: error: PyTorch3D needs iopath and pip could not install it; offline, fetch it where PyPI is" \
      "reachable (pip download --no-deps iopath: an sdist, iopath-0.1.10.tar.gz) and install it here with" \
      "pip install --no-deps --no-build-isolation iopath-0.1.10.tar.gz" >&2
    exit 1
  }
fi
verify
echo "pytorch3d ready in $((SECONDS - T0)) s ($KEY)"
