# Sourced by the GPU scripts after ROOT is set: with no virtual environment active and no .venv, use the offline
# environment smoke_upstream.sh --wheels made (.offline-env: the machine's own python3 plus the carried wheels).
NESBENCH_ENV_DIR="${NESBENCH_OFFLINE_ENV:-$ROOT/.offline-env}"
if [[ -z "${VIRTUAL_ENV:-}" && ! -x "$ROOT/.venv/bin/python" && -x "$NESBENCH_ENV_DIR/bin/python" ]]; then
  export VIRTUAL_ENV="$NESBENCH_ENV_DIR" PYTHONPATH="$NESBENCH_ENV_DIR/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
