# The offline environment smoke_upstream.sh --wheels makes (.offline-env: the machine's own python3 plus the carried
# wheels in site/), for the GPU scripts; sourced after ROOT is set.
NESBENCH_ENV_DIR="${NESBENCH_OFFLINE_ENV:-$ROOT/.offline-env}"

# offline_env_activate: run the harness with the offline environment's python and its site folder.
offline_env_activate() {
  export VIRTUAL_ENV="$NESBENCH_ENV_DIR" PYTHONPATH="$NESBENCH_ENV_DIR/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
}

# offline_env_default: activate it only when no virtual environment is active and the checkout has no .venv.
offline_env_default() {
  if [[ -z "${VIRTUAL_ENV:-}" && ! -x "$ROOT/.venv/bin/python" && -x "$NESBENCH_ENV_DIR/bin/python" ]]; then
    offline_env_activate
  fi
}
