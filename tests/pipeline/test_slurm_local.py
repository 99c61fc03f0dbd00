"""The slurm executor through submitit's local cluster (real submitit, real worker processes), plus the Slurm
command plumbing (scancel/squeue/sbatch) against fake commands on PATH. A real Slurm: test_slurm_cluster.py."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from nesbench.config import load_benchmark
from nesbench.errors import ConfigError
from nesbench.ledger import Ledger
from nesbench.paths import CONFIGS_DIR
from nesbench.pipeline.executors import (
    SLURM_JOBS_FILE,
    active_jobs,
    cancel_run,
    load_slurm_profile,
    make_submitit_executor,
    run_slurm,
)
from nesbench.pipeline.plan import make_plan, save_plan
from nesbench.pipeline.run import RunOptions, run_pipeline

PLUGINS = Path(__file__).parent / "plugins"
CPU_PROFILE = CONFIGS_DIR / "slurm" / "cpu-smoke.conf"


@pytest.fixture
def trace_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS))
    monkeypatch.setenv("NESBENCH_METHODS", "trace-method=nbtest_trace_method:SPEC")
    import nbtest_trace_method

    return nbtest_trace_method


def _trace_plan(run_dir: Path, protocols: list[str] | None = None, **options):
    bench = load_benchmark("synthetic_tiny")
    plan = make_plan(
        bench, run_dir, run_dir / "no-data", ["trace-method"], protocols, options={"trace-method": options}
    )
    save_plan(plan)
    return plan


def _wait_until(cond, what: str, limit_s: float = 60.0) -> None:
    deadline = time.time() + limit_s
    while not cond():
        if time.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_submitit_local_cluster_runs_a_small_plan(tmp_path, tiny_summary, metric_values):
    out = tmp_path / "run"
    run_pipeline(
        RunOptions(
            benchmark="synthetic_tiny",
            out=out,
            methods=["mean-image"],
            executor="slurm",
            slurm_cluster="local",
            slurm_profile=CPU_PROFILE,
        )
    )
    record = json.loads((out / SLURM_JOBS_FILE).read_text())
    assert record["cluster"] == "local" and len(record["jobs"]) == 2
    assert all((out / "slurm" / job_id).is_dir() for job_id in record["jobs"].values())
    got = metric_values(json.loads((out / "summary.json").read_text()))
    want = {k: v for k, v in metric_values(tiny_summary).items() if k[0] == "mean-image"}
    assert got == want


def test_preempted_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path, trace_plugin):
    """SIGUSR2 is what Slurm sends before a timeout or preemption: submitit calls SlurmWorker.checkpoint, the
    local cluster's controller requeues the task, and the stage that was running resumes from the method's
    checkpoint (the interrupted attempt is in the ledger's history)."""
    plan = _trace_plan(tmp_path / "run", ["expression"], steps=8, sleep=0.25)
    (job,) = plan.jobs()
    ledger = Ledger(plan.run_dir)
    ckpt = job.work_dir / "ckpt.json"
    sent: list[int] = []

    def preempt() -> None:
        _wait_until(
            lambda: ledger.get(job.key, "train").state == "running" and ckpt.exists(), "train progress"
        )
        pid = ledger.get(job.key, "train").pid
        os.kill(pid, signal.SIGUSR2)
        sent.append(pid)

    watcher = threading.Thread(target=preempt)
    watcher.start()
    results = run_slurm(plan, plan.jobs(), slurm_profile=CPU_PROFILE, cluster="local", poll_s=0.2)
    watcher.join()
    assert sent and results == {job.key: True}
    rec = ledger.get(job.key, "train")
    assert rec.attempts == 2 and [h["state"] for h in rec.history] == ["interrupted", "done"]
    assert rec.pid != sent[0]  # the second attempt ran in the requeued task
    starts = [e for e in trace_plugin.read_trace(job.work_dir) if e["event"] == "start"]
    assert starts[0]["resumed_from"] == 0 and 0 < starts[1]["resumed_from"] < 8
    assert json.loads(ckpt.read_text()) == {"step": 8}
    (job_id,) = json.loads((plan.run_dir / SLURM_JOBS_FILE).read_text())["jobs"].values()
    logs = "".join(p.read_text() for p in (plan.run_dir / "slurm" / job_id).glob("*.out"))
    assert "Requeued job" in logs


def test_cancel_stops_a_local_cluster_job_and_marks_its_stage(tmp_path, trace_plugin, capsys):
    from nesbench.cli import main

    plan = _trace_plan(tmp_path / "run", ["expression"], steps=400, sleep=0.25)
    (job,) = plan.jobs()
    run_slurm(plan, plan.jobs(), slurm_profile=CPU_PROFILE, cluster="local", wait=False)
    ledger = Ledger(plan.run_dir)
    _wait_until(lambda: ledger.get(job.key, "train").state == "running", "train to start")
    worker_pid = ledger.get(job.key, "train").pid
    assert main(["jobs", "cancel", str(plan.run_dir)]) == 0
    assert f"cancelled {job.key}" in capsys.readouterr().out
    record = json.loads((plan.run_dir / SLURM_JOBS_FILE).read_text())
    assert active_jobs(record) == {}
    assert not Path(f"/proc/{worker_pid}").exists() or b"zombie" in _status(worker_pid)
    rec = ledger.get(job.key, "train")
    assert rec.state == "failed" and "cancelled" in rec.reason
    assert main(["jobs", "status", str(plan.run_dir)]) == 0
    assert "failed(1)" in capsys.readouterr().out
    assert main(["jobs", "cancel", str(plan.run_dir)]) == 0
    assert "nothing to cancel" in capsys.readouterr().out


def _status(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    except OSError:
        return b"zombie"


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """squeue lists the ids in queued.txt; scancel and sbatch append their arguments to calls.txt."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "fake-slurm"
    state.mkdir()
    (state / "queued.txt").write_text("")
    scripts = {
        "squeue": f'cat "{state}/queued.txt" | sed "s/$/ RUNNING/"\n',
        "scancel": f'echo "scancel $*" >> "{state}/calls.txt"\n'
        f'grep -vx "$1" "{state}/queued.txt" > "{state}/q"; mv "{state}/q" "{state}/queued.txt"\n',
        "sbatch": f'echo "sbatch $*" >> "{state}/calls.txt"\nexit 1\n',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return state


def _record(run_dir: Path, jobs: dict[str, str]) -> None:
    (run_dir / SLURM_JOBS_FILE).write_text(json.dumps({"cluster": "slurm", "submitted": 0.0, "jobs": jobs}))


def test_cancel_on_slurm_runs_scancel_for_queued_jobs(tmp_path, fake_slurm, trace_plugin):
    plan = _trace_plan(tmp_path / "run")
    keys = [j.key for j in plan.jobs()]
    _record(plan.run_dir, {keys[0]: "41_0", keys[1]: "41_1"})
    (fake_slurm / "queued.txt").write_text("41_1\n")  # 41_0 already left the queue
    ledger = Ledger(plan.run_dir)
    ledger.start(keys[1], "prepare")
    assert cancel_run(plan.run_dir) == [(keys[1], "41_1")]
    assert (fake_slurm / "calls.txt").read_text().splitlines() == ["scancel 41_1"]
    assert ledger.get(keys[1], "prepare").state == "failed"
    assert ledger.get(keys[0], "prepare").state == "pending"


def test_rerun_waits_for_queued_jobs_instead_of_submitting_them_again(tmp_path, fake_slurm, trace_plugin):
    plan = _trace_plan(tmp_path / "run")
    keys = [j.key for j in plan.jobs()]
    _record(plan.run_dir, {keys[0]: "7_0", keys[1]: "7_1"})
    (fake_slurm / "queued.txt").write_text("7_0\n7_1\n")
    assert run_slurm(plan, plan.jobs(), cluster="slurm", wait=False) == dict.fromkeys(keys, False)
    assert not (fake_slurm / "calls.txt").exists()  # no sbatch
    assert json.loads((plan.run_dir / SLURM_JOBS_FILE).read_text())["jobs"] == {
        keys[0]: "7_0",
        keys[1]: "7_1",
    }


def test_cancel_without_a_submission_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no submission recorded"):
        cancel_run(tmp_path)


def test_unknown_profile_key_names_the_file(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("timeout_min = 10\ngpu_per_node = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.conf: .*gpu_per_node"):
        make_submitit_executor(tmp_path, load_slurm_profile(bad), cluster="local")
