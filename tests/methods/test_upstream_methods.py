"""The IMavatar/PointAvatar adapters map a pipeline job onto nesbench.upstream.jobs (faked here: no GPU in CI)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from nesbench.config import load_benchmark
from nesbench.methods.registry import get_method
from nesbench.methods.spec import Job
from nesbench.methods.upstream_methods import UpstreamJobFailed
from nesbench.upstream import jobs


@pytest.fixture
def calls(monkeypatch):
    log: list[tuple] = []

    def make_job(method, bench, subject, protocol, runs=None, upstream_root=None, data_root=None, seed=None):
        log.append(("make", method, subject, protocol, runs, data_root))
        return SimpleNamespace(method=method)

    def train_job(job, epochs=None, overrides=None, **_):
        log.append(("train", job.method, epochs, overrides))
        return jobs.JobResult("j", "done", "trained")

    def eval_job(job, test_time_fitting=None, **_):
        log.append(("eval", job.method, test_time_fitting))
        return jobs.JobResult("j", "failed" if test_time_fitting == "boom" else "done", "exit 3: CUDA error")

    monkeypatch.setattr(jobs, "make_job", make_job)
    monkeypatch.setattr(jobs, "train_job", train_job)
    monkeypatch.setattr(jobs, "eval_job", eval_job)
    return log


def _job(tmp_path: Path, method: str, **options) -> Job:
    return Job(
        method=method,
        bench=load_benchmark("synthetic_tiny"),
        subject="9001",
        protocol="speech",
        data_root=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        work_dir=tmp_path / "work" / method,
        options=options,
    )


def test_pointavatar_options_reach_the_upstream_job(tmp_path, calls):
    method = get_method("pointavatar").create()
    job = _job(
        tmp_path, "pointavatar", epochs=7, overrides={"loss.vgg_feature_weight": "0"}, test_time_fitting=False
    )
    method.prepare(job)
    method.train(job)
    method.render(job)
    assert calls[0] == ("make", "pointavatar", "9001", "speech", tmp_path / "runs", tmp_path / "data")
    (_, _, epochs, overrides) = next(c for c in calls if c[0] == "train")
    assert epochs == 7
    # each run keeps its own upstream experiments (no sharing of checkpoints between runs)
    assert overrides == {
        "loss.vgg_feature_weight": "0",
        "train.exps_folder": str(tmp_path / "work/pointavatar/experiments"),
    }
    assert ("eval", "pointavatar", False) in calls


def test_imavatar_defaults_and_failures_are_raised(tmp_path, calls):
    method = get_method("imavatar").create()
    job = _job(tmp_path, "imavatar")
    method.train(job)
    assert (
        "train",
        "imavatar",
        None,
        {"train.exps_folder": str(tmp_path / "work/imavatar/experiments")},
    ) in calls
    with pytest.raises(UpstreamJobFailed, match="exit 3: CUDA error"):
        method.render(_job(tmp_path, "imavatar", test_time_fitting="boom"))


def test_the_adapters_leave_recording_to_the_pipeline_and_return_the_result(tmp_path, calls, monkeypatch):
    """Under `nesbench run` the stage runner records train/render (record=False) with the returned result."""
    seen = []

    def train_job(job, record=True, **_):
        seen.append(("train", record))
        return jobs.JobResult("j", "done", "trained", result={"epochs": 7, "final_epoch": 8})

    def eval_job(job, record=True, **_):
        seen.append(("render", record))
        return jobs.JobResult("j", "skipped", "mapped", result={"final_epoch": 8, "sequences": ["e_6"]})

    monkeypatch.setattr(jobs, "train_job", train_job)
    monkeypatch.setattr(jobs, "eval_job", eval_job)
    method = get_method("monogaussianavatar").create()
    assert method.train(_job(tmp_path, "monogaussianavatar")) == {"epochs": 7, "final_epoch": 8}
    assert method.render(_job(tmp_path, "monogaussianavatar"))["sequences"] == ["e_6"]
    assert seen == [("train", False), ("render", False)]
