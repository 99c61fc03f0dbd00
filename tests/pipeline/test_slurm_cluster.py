"""Against a real Slurm (opt-in): `eval "$(bash scripts/start_test_slurm.sh)"` starts a single-node one and sets
NESBENCH_TEST_SLURM=1 and SLURM_CONF; without them these tests are skipped with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from nesbench.config import load_benchmark
from nesbench.ledger import Ledger
from nesbench.paths import CONFIGS_DIR
from nesbench.pipeline.executors import SLURM_JOBS_FILE, run_slurm
from nesbench.pipeline.plan import make_plan, save_plan
from nesbench.pipeline.run import RunOptions, run_pipeline


def _why_no_slurm() -> str | None:
    if not os.environ.get("NESBENCH_TEST_SLURM"):
        return 'opt-in: run `eval "$(bash scripts/start_test_slurm.sh)"` (root, slurm-wlm + munge) first'
    if not shutil.which("sbatch") or not shutil.which("squeue"):
        return "Slurm client commands (sbatch, squeue) not found; apt-get install slurm-wlm munge"
    if subprocess.run(["sinfo", "-h"], capture_output=True).returncode != 0:
        return "sinfo fails: no Slurm controller reachable (see scripts/start_test_slurm.sh)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_why_no_slurm() is not None, reason=str(_why_no_slurm()))]
PLUGINS = Path(__file__).parent / "plugins"
CPU_PROFILE = CONFIGS_DIR / "slurm" / "cpu-smoke.conf"


def test_real_slurm_runs_a_small_plan(tmp_path, tiny_summary, metric_values):
    out = tmp_path / "run"
    run_pipeline(
        RunOptions(
            benchmark="synthetic_tiny",
            out=out,
            methods=["mean-image"],
            executor="slurm",
            slurm_cluster="slurm",
            slurm_profile=CPU_PROFILE,
        )
    )
    record = json.loads((out / SLURM_JOBS_FILE).read_text())
    assert record["cluster"] == "slurm" and all("_" in j for j in record["jobs"].values())  # one job array
    got = metric_values(json.loads((out / "summary.json").read_text()))
    assert got == {k: v for k, v in metric_values(tiny_summary).items() if k[0] == "mean-image"}


def test_real_slurm_requeues_a_preempted_job_which_resumes(tmp_path, monkeypatch):
    """`scancel --signal=USR2` is how Slurm warns of a timeout/preemption: submitit checkpoints and requeues."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS))
    monkeypatch.setenv("NESBENCH_METHODS", "trace-method=nbtest_trace_method:SPEC")
    import nbtest_trace_method

    bench = load_benchmark("synthetic_tiny")
    run_dir = tmp_path / "run"
    opts = {"trace-method": {"steps": 8, "sleep": 0.25}}
    plan = make_plan(bench, run_dir, run_dir / "no-data", ["trace-method"], ["expression"], options=opts)
    save_plan(plan)
    (job,) = plan.jobs()
    ledger = Ledger(run_dir)

    def preempt() -> None:
        deadline = time.time() + 120
        while not (ledger.get(job.key, "train").state == "running" and (job.work_dir / "ckpt.json").exists()):
            assert time.time() < deadline, "train never started"
            time.sleep(0.05)
        (job_id,) = json.loads((run_dir / SLURM_JOBS_FILE).read_text())["jobs"].values()
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)

    watcher = threading.Thread(target=preempt)
    watcher.start()
    assert run_slurm(plan, plan.jobs(), slurm_profile=CPU_PROFILE, cluster="slurm", poll_s=0.5) == {
        job.key: True
    }
    watcher.join()
    rec = ledger.get(job.key, "train")
    assert rec.attempts == 2 and [h["state"] for h in rec.history] == ["interrupted", "done"]
    starts = [e for e in nbtest_trace_method.read_trace(job.work_dir) if e["event"] == "start"]
    assert 0 < starts[1]["resumed_from"] < 8
