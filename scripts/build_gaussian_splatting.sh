#!/usr/bin/env bash
# Build the CUDA extensions of the Gaussian-splatting methods at the commits pinned in configs/upstream.conf `build`:
# diff-gaussian-rasterization@59f5f77 (with its glm submodule at 5c46b9c) and simple-knn@44f7642, each with the named
# header patch of nesbench/upstream/extensions.py (GCC 13: <cstdint>; CUDA >= 12.5: <cfloat>), for the installed
# torch/CUDA. MonoGaussianAvatar imports the rasterizer; FlashAvatar and the other Gaussian methods also use simple-knn.
# Wheels are cached per (commit, torch, CUDA, arch list): a second run installs them in seconds.
#
#   bash scripts/build_gaussian_splatting.sh [--src DIR] [--python PY]     # foreground
#   bash scripts/build_gaussian_splatting.sh --background [...]            # detached (setsid); returns at once
#   bash scripts/build_gaussian_splatting.sh --status                      # poll a background build
#
# DIR: a mirror folder holding diff-gaussian-rasterization/, glm/ and simple-knn/ (git repositories, bare or not, or
# `git archive` tarballs NAME.tar.gz of the pinned commits). Default: the pinned GitHub URLs. Sources at any other
# commit are refused. Env: TORCH_CUDA_ARCH_LIST (default 9.0 = H100/H200), MAX_JOBS (default 16),
# NESBENCH_BUILD_DIR (default ~/.cache/nesbench/gaussian-build; wheels in its wheels/ folder).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="" BG=0 STATUS=0
PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"; PY="${PY:-$ROOT/.venv/bin/python}"
BUILD="${NESBENCH_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nesbench/gaussian-build}"
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="${2:?--src needs a mirror folder}"; shift 2 ;;
    --python) PY="${2:?--python needs an interpreter}"; shift 2 ;;
    --background) BG=1; shift ;;
    --status) STATUS=1; shift ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "build_gaussian_splatting.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -z "$SRC" || -d "$SRC" ]] || { echo "build_gaussian_splatting.sh: error: --src $SRC: not a folder; pass the mirror folder holding diff-gaussian-rasterization/, glm/ and simple-knn/" >&2; exit 2; }
mkdir -p "$BUILD"
SCRIPT_NAME=build_gaussian_splatting.sh
# shellcheck source=scripts/lib/pinned_build.sh
source "$ROOT/scripts/lib/pinned_build.sh"
[[ $STATUS == 1 ]] && pb_status
[[ $BG == 1 ]] && pb_background "$0" "Gaussian-splatting extensions" "${ARGS[@]}"
pb_record_exit
T0=$SECONDS

# source KEY: sets <KEY>_SRC / _COMMIT (tarballs are checked against the pin before anything is built).
declare -A SRC_OF COMMIT_OF
for key in diff_gaussian_rasterization glm simple_knn; do
  pb_read_pin "$key"
  COMMIT_OF[$key]=$PIN_COMMIT
  SRC_OF[$key]=$(pb_resolve_src "${SRC:-$PIN_URL}" "$PIN_MIRROR")
  [[ -n "$SRC" && "${SRC_OF[$key]}" == "$SRC" ]] \
    && die "$SRC: no $PIN_MIRROR/, $PIN_MIRROR.git/ or $PIN_MIRROR.tar.gz in the mirror folder; create it with: git clone --mirror $PIN_URL $SRC/$PIN_MIRROR.git"
  pb_check_tarball "${SRC_OF[$key]}" "$PIN_COMMIT" "$PIN_MIRROR"
done

# The exact check: both extensions import, and forward+backward of the rasterizer (the 2023 API MonoGaussianAvatar
# calls: two return values) and simple-knn's distCUDA2 run on the GPU with finite results.
verify() {
  "$PY" - <<'PY'
import math, time, torch
from diff_gaussian_rasterization import GaussianRasterizationSettings, GaussianRasterizer
from simple_knn._C import distCUDA2
dev, n, res = torch.device("cuda"), 100_000, 512
torch.manual_seed(0)
xyz = ((torch.rand(n, 3, device=dev) - 0.5) * 0.5).requires_grad_(True)
col = torch.rand(n, 3, device=dev, requires_grad=True)
opa = torch.full((n, 1), 0.5, device=dev, requires_grad=True)
scl = torch.full((n, 3), 0.01, device=dev, requires_grad=True)
rot = torch.tensor([[1.0, 0, 0, 0]], device=dev).repeat(n, 1).requires_grad_(True)
tan = math.tan(math.radians(15))
view = torch.eye(4, device=dev); view[3, 2] = 4.0            # camera at z = -4 looking down +z (row-vector form)
znear, zfar = 0.01, 100.0
proj = torch.zeros(4, 4, device=dev)
proj[0, 0] = proj[1, 1] = 1 / tan; proj[3, 2] = 1.0
proj[2, 2] = zfar / (zfar - znear); proj[2, 3] = -zfar * znear / (zfar - znear)
settings = GaussianRasterizationSettings(image_height=res, image_width=res, tanfovx=tan, tanfovy=tan,
    bg=torch.ones(3, device=dev), scale_modifier=1.0, viewmatrix=view, projmatrix=view @ proj.T, sh_degree=3,
    campos=torch.tensor([0.0, 0.0, -4.0], device=dev), prefiltered=False, debug=False)
raster = GaussianRasterizer(raster_settings=settings)
means2d = torch.zeros_like(xyz, requires_grad=True)
def step():
    img, radii = raster(means3D=xyz, means2D=means2d, shs=None, colors_precomp=col, opacities=opa, scales=scl,
                        rotations=rot, cov3D_precomp=None)
    img.mean().backward()
    return img, radii
img, radii = step(); torch.cuda.synchronize()
t = time.time()
for _ in range(10):
    step()
torch.cuda.synchronize()
ms = (time.time() - t) / 10 * 1000
grads = [p.grad for p in (xyz, col, opa, scl, rot)]
assert tuple(img.shape) == (3, res, res) and int((radii > 0).sum()) > 0, "nothing rasterized"
assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads), "non-finite gradients"
d = distCUDA2(xyz.detach())
assert d.shape == (n,) and bool(torch.isfinite(d).all()) and float(d.min()) >= 0, "distCUDA2 failed"
print(f"diff_gaussian_rasterization ok: {n} Gaussians at {res}x{res}, forward+backward {ms:.2f} ms, "
      f"{int((radii > 0).sum())} visible; simple_knn distCUDA2 ok (mean {float(d.mean()):.3g}) on "
      f"{torch.cuda.get_device_name()}")
PY
}

pb_torch_tag "the Gaussian rasterizer and simple-knn"
TAGS=""
for key in diff_gaussian_rasterization simple_knn; do
  KEY="${COMMIT_OF[$key]:0:12}-$TAG-sm${ARCH// /_}"
  [[ $key == diff_gaussian_rasterization ]] && KEY="$KEY-glm${COMMIT_OF[glm]:0:8}"
  WHEELS="$BUILD/wheels/$key/$KEY"
  TAGS="$TAGS $key=$KEY"
  if [[ "$(pb_installed_url "$key")" == *"$KEY"* ]]; then
    echo "$key at the pinned commit ${COMMIT_OF[$key]:0:12} already installed ($KEY)"; continue
  fi
  if ! compgen -G "$WHEELS/${key}-*.whl" >/dev/null; then
    SRCDIR="$BUILD/src-$key-$KEY"
    pb_fetch "${SRC_OF[$key]}" "${COMMIT_OF[$key]}" "$SRCDIR"
    if [[ $key == diff_gaussian_rasterization ]]; then     # the header-only glm submodule, at its pinned commit
      pb_fetch "${SRC_OF[glm]}" "${COMMIT_OF[glm]}" "$SRCDIR/third_party/glm"
      [[ -f "$SRCDIR/third_party/glm/glm/glm.hpp" ]] || die "${SRC_OF[glm]}: no glm/glm.hpp at ${COMMIT_OF[glm]}; is it g-truc/glm?"
    fi
    (cd "$ROOT" && "$PY" -m nesbench.upstream.extensions apply "$key" "$SRCDIR") || die "$SRCDIR: header patches failed (see above)"
    echo "building $key at ${COMMIT_OF[$key]:0:12} for $TAG with TORCH_CUDA_ARCH_LIST=$ARCH MAX_JOBS=${MAX_JOBS:-16}"
    t=$SECONDS
    pb_build_wheel "$SRCDIR" "$WHEELS"; rm -rf "$SRCDIR"
    echo "built $key in $((SECONDS - t)) s; wheel cached in $WHEELS"
  else
    echo "installing the cached wheel $WHEELS (pinned commit ${COMMIT_OF[$key]:0:12})"
  fi
  pb_install_wheel "$WHEELS" "${key}-*.whl"
done
verify
echo "Gaussian-splatting extensions ready in $((SECONDS - T0)) s ($TAGS )"
