from __future__ import annotations

from pathlib import Path

import pytest

from nesbench.config import load_benchmark
from nesbench.ledger import Ledger
from nesbench.pipeline.executors import execute, load_slurm_profile, visible_gpus, worker_slots
from nesbench.pipeline.plan import Plan, make_plan, save_plan

PLUGINS = Path(__file__).parent / "plugins"


def test_slots_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ["3", "5"]
    assert worker_slots(None) == ["3", "5"]
    assert worker_slots(1) == ["3"]


def test_cpu_slots_when_no_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert worker_slots(None) == [None]
    assert worker_slots(3) == [None, None, None]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []


def test_default_slurm_profile():
    prof = load_slurm_profile()
    assert prof["gpus_per_node"] == 1 and prof["timeout_min"] >= 60 and prof["max_num_timeout"] >= 1


@pytest.fixture
def trace_plugin(monkeypatch):
    """Register the trace-method plugin here and in every worker process (env vars are inherited)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS))
    monkeypatch.setenv("NESBENCH_METHODS", "trace-method=nbtest_trace_method:SPEC")
    import nbtest_trace_method

    return nbtest_trace_method


def trace_plan(run_dir: Path, **options) -> Plan:
    """Two jobs (both protocols of the tiny benchmark's one subject) of the trace-method plugin."""
    bench = load_benchmark("synthetic_tiny")
    plan = make_plan(bench, run_dir, run_dir / "no-data", ["trace-method"], options={"trace-method": options})
    save_plan(plan)
    return plan


def test_local_executor_runs_one_job_per_gpu_concurrently(tmp_path, monkeypatch, trace_plugin):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    plan = trace_plan(tmp_path / "run", rendezvous=2)  # each job waits in train until both have started
    results = execute(plan, plan.jobs(), "local")
    assert results == dict.fromkeys([j.key for j in plan.jobs()], True)
    traces = [trace_plugin.read_trace(j.work_dir) for j in plan.jobs()]
    assert sorted(t[0]["cuda"] for t in traces) == ["3", "5"]
    assert len({t[0]["pid"] for t in traces}) == 2  # separate worker processes
    for job in plan.jobs():
        name = f"{job.method}__{job.protocol}__{job.subject}"
        assert (plan.run_dir / "logs" / f"{name}.log").read_text().count("train: done") == 1
        assert "slot=" in (plan.run_dir / "logs" / f"{name}.worker.log").read_text()
    assert Ledger(plan.run_dir).summary()["done"] == 6


def test_local_executor_max_parallel_one_does_not_overlap(tmp_path, monkeypatch, trace_plugin):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    plan = trace_plan(tmp_path / "run", steps=2, sleep=0.2)
    assert all(execute(plan, plan.jobs(), "local", max_parallel=1).values())
    spans = sorted(
        (t[0]["t"], t[-1]["t"], t[0]["cuda"])
        for t in (trace_plugin.read_trace(j.work_dir) for j in plan.jobs())
    )
    assert spans[0][1] <= spans[1][0]  # the second started after the first ended
    assert {s[2] for s in spans} == {"3"}


def test_local_executor_records_a_failing_job_and_runs_the_rest(tmp_path, monkeypatch, trace_plugin):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    plan = trace_plan(tmp_path / "run")
    speech = next(j for j in plan.jobs() if j.protocol == "speech")
    speech.work_dir.mkdir(parents=True)
    (speech.work_dir / "ckpt.json").write_text("{broken")  # its train stage cannot resume: it fails
    results = execute(plan, plan.jobs(), "local", max_parallel=2)
    assert results == {j.key: j.protocol != "speech" for j in plan.jobs()}
    rec = Ledger(plan.run_dir).get(speech.key, "train")
    assert rec.state == "failed" and rec.reason.startswith("JSONDecodeError") and "log:" in rec.reason
