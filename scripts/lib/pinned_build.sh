# Shared steps of the pinned source builds (sourced by scripts/build_pytorch3d.sh and scripts/build_gaussian_splatting.sh):
# background/status handling, reading a pin from configs/upstream.conf `build`, fetching exactly the pinned commit
# from a git URL, a (bare) mirror or a `git archive` tarball, the CUDA torch tag the wheels are cached under, and
# installing a cached wheel. Callers set ROOT, PY, BUILD and SCRIPT_NAME before sourcing.

die() { echo "$SCRIPT_NAME: error: $*" >&2; exit 1; }

# pb_status: report a background build in $BUILD (running | ok | failed) and exit.
pb_status() {
  local log="$BUILD/build.log" rc="$BUILD/build.rc" pid="$BUILD/build.pid"
  if [[ -f "$rc" ]]; then
    [[ "$(cat "$rc")" == 0 ]] && { echo "ok"; tail -n 2 "$log"; exit 0; }
    echo "failed (exit $(cat "$rc")); last lines of $log:"; tail -n 20 "$log"; exit 1
  fi
  if [[ -f "$pid" ]] && kill -0 "$(cat "$pid")" 2>/dev/null; then echo "running; tail of $log:"; tail -n 3 "$log"; exit 0; fi
  echo "no build running or finished in $BUILD"; exit 1
}

# pb_background SCRIPT WHAT ARGS...: re-run SCRIPT with ARGS minus --background detached (setsid), log in $BUILD.
pb_background() {
  local script="$1" what="$2"; shift 2
  local fg=() a
  rm -f "$BUILD/build.rc"
  for a in "$@"; do [[ "$a" != --background ]] && fg+=("$a"); done
  setsid nohup bash "$script" "${fg[@]}" > "$BUILD/build.log" 2>&1 < /dev/null &
  echo $! > "$BUILD/build.pid"
  echo "$what build started in the background (pid $(cat "$BUILD/build.pid")); poll with: bash $script --status"
  exit 0
}

# pb_record_exit: write the exit status to $BUILD/build.rc when the script ends (for --status).
pb_record_exit() { trap 'echo $? > "$BUILD/build.rc"' EXIT; }

# pb_read_pin KEY: sets PIN_URL PIN_COMMIT PIN_VERSION PIN_MIRROR from configs/upstream.conf build.KEY.
pb_read_pin() {
  local out
  out=$(cd "$ROOT" && "$PY" -c '
import sys
from nesbench.upstream.pins import load_build_pin
p = load_build_pin(sys.argv[1]); print(p.url, p.commit, p.mirror, p.version)' "$1") \
    || die "cannot read the $1 pin (configs/upstream.conf build.$1) with $PY; run bash setup.sh first"
  read -r PIN_URL PIN_COMMIT PIN_MIRROR PIN_VERSION <<<"$out"
}

# pb_resolve_src SRC MIRROR_NAME: prints SRC, or SRC/MIRROR_NAME (a folder or .git) or SRC/MIRROR_NAME.tar.gz when
# SRC is a mirror folder holding it.
pb_resolve_src() {
  local src="$1" name="$2" cand
  if [[ -d "$src" ]]; then
    for cand in "$src/$name" "$src/$name.git" "$src/$name.tar.gz"; do
      [[ -e "$cand" ]] && { echo "$cand"; return; }
    done
  fi
  echo "$src"
}

# pb_check_tarball SRC COMMIT NAME: a tarball must be a `git archive` of exactly COMMIT (refused before building).
pb_check_tarball() {
  local src="$1" commit="$2" name="$3" found
  [[ -f "$src" ]] || return 0
  found=$( (gzip -dc "$src" 2>/dev/null || cat "$src") | git get-tar-commit-id 2>/dev/null || true)
  [[ "$found" == "$commit" ]] \
    || die "$src: a tarball of commit '${found:-unknown}', but configs/upstream.conf pins $commit; make it with: git -C $name archive --format=tar.gz -o $name.tar.gz $commit"
}

# pb_fetch SRC COMMIT DEST: DEST holds the tree of COMMIT from a tarball, a git URL or a (bare) mirror.
pb_fetch() {
  local src="$1" commit="$2" dest="$3"
  rm -rf "$dest"; mkdir -p "$dest"
  if [[ -f "$src" ]]; then
    tar -xf "$src" -C "$dest"
    return
  fi
  git init -q "$dest"
  git -C "$dest" fetch -q --depth 1 "$src" "$commit" 2>/dev/null \
    || git -C "$dest" fetch -q "$src" 2>/dev/null \
    || die "$src: cannot fetch from it (offline? pass --src a mirror or a tarball of commit $commit)"
  git -C "$dest" -c advice.detachedHead=false checkout -q "$commit" 2>/dev/null \
    || die "$src: commit $commit (configs/upstream.conf) is not in it; update the mirror (git fetch)"
  [[ "$(git -C "$dest" rev-parse HEAD)" == "$commit" ]] || die "$dest: checkout is not at $commit"
}

# pb_torch_tag WHAT: needs nvcc and a CUDA torch; sets TAG (torchX-cuY) and ARCH (TORCH_CUDA_ARCH_LIST, default 9.0).
pb_torch_tag() {
  command -v nvcc >/dev/null || die "no CUDA compiler (nvcc) on PATH; $1 needs one (install the CUDA toolkit matching torch.version.cuda)"
  TAG=$("$PY" -c 'import torch; assert torch.version.cuda, "CPU-only torch"; print(f"torch{torch.__version__.split(chr(43))[0]}-cu{torch.version.cuda}")' 2>/dev/null) \
    || die "$PY has no CUDA build of torch; install one (pip install torch --index-url https://download.pytorch.org/whl/cu130)"
  ARCH="${TORCH_CUDA_ARCH_LIST:-9.0}"
}

# pb_installed_url DIST: the direct_url of the installed distribution DIST (empty if none).
pb_installed_url() {
  "$PY" -c 'import importlib.metadata as m, json, sys; d = m.distribution(sys.argv[1]); print(json.loads(d.read_text("direct_url.json") or "{}").get("url", ""))' "$1" 2>/dev/null || true
}

# pb_build_wheel SRCDIR WHEELS: build a wheel of SRCDIR against the installed torch into WHEELS (atomically).
pb_build_wheel() {
  local srcdir="$1" wheels="$2"
  mkdir -p "$wheels.tmp"
  FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS="${MAX_JOBS:-16}" \
    "$PY" -m pip wheel --no-build-isolation --no-deps -w "$wheels.tmp" "$srcdir"
  rm -rf "$wheels"; mv "$wheels.tmp" "$wheels"
}

# pb_install_wheel WHEELS PATTERN: install the cached wheel.
pb_install_wheel() { "$PY" -m pip install -q --no-deps --force-reinstall "$1"/$2; }
