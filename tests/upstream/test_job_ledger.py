"""Every method of nesbench.upstream.jobs (IMavatar, PointAvatar, MonoGaussianAvatar) records train and eval in the
one job ledger and resumes after an interruption (a fake runner per method, as in test_jobs.py)."""

import json

import pytest

from nesbench.config import load_benchmark
from nesbench.upstream import confs, jobs

from .test_jobs import FAKE_RUNNER, install_fake_flame, write_json


@pytest.fixture(params=["imavatar", "pointavatar", "monogaussianavatar"])
def method_job(request, tmp_path, monkeypatch):
    key = request.param
    bench = load_benchmark("synthetic")
    pin = jobs.get_pin(key)
    tpl = confs.load_template(key)
    checkout = pin.checkout_dir(tmp_path / "upstream")
    install_fake_flame(checkout / "code")
    (checkout / "code" / "scripts").mkdir(parents=True)
    (checkout / "code" / "scripts" / "nes_runner.py").write_text(FAKE_RUNNER)
    base = checkout / tpl.base
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(
        "train { exps_folder = x, methodname = y }\ndataset { train { subsample = 1 }, test { subsample = 1 } }\n"
    )
    data = tmp_path / "datasets"
    for seq in bench.sequences:
        img = data / "testset1" / "9001" / "9001" / seq / "image"
        img.mkdir(parents=True)
        write_json(img.parent, [1, 2])
        for k in (1, 2):
            (img / f"{k}.png").write_bytes(b"")
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "upstream"))
    monkeypatch.setenv("FAKE_FINAL_OFFSET", str(tpl.final_epoch(0)))
    monkeypatch.setenv("FAKE_PREDICTION", tpl.prediction)
    monkeypatch.setattr(
        jobs, "preflight", lambda *a, **k: []
    )  # the checks are test_jobs.py's; here: the ledger
    return jobs.make_job(key, bench, "9001", "expression", runs=tmp_path / "runs", data_root=data), tpl


def test_each_method_resumes_an_interrupted_train_and_records_train_and_render(method_job, monkeypatch):
    job, tpl = method_job
    fitting = {} if tpl.test_time_fitting is None else {"test_time_fitting": False}
    monkeypatch.setenv("FAKE_FAIL_ONCE", "1")  # killed after the first checkpoint
    assert jobs.train_job(job, epochs=4).status == "failed"
    assert jobs.eval_job(job, **fitting).status == "failed"  # nothing finished to render yet
    monkeypatch.delenv("FAKE_FAIL_ONCE")
    res = jobs.train_job(job, epochs=4)
    assert res.status == "done" and "(resumed)" in res.detail, res.detail
    assert jobs.train_job(job, epochs=4).status == "skipped"
    assert jobs.eval_job(job, **fitting).status == "done"
    train, render = job.ledger.get(job.key, "train"), job.ledger.get(job.key, "render")
    assert job.ledger.root == job.runs / ".ledger" and not list(job.job_dir.glob("*.done.json"))
    assert [h["state"] for h in train.history] == ["failed", "done"]
    assert train.result["final_epoch"] == tpl.final_epoch(4) and train.result["epochs"] == 4
    assert render.state == "done" and render.result["final_epoch"] == tpl.final_epoch(4)
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert (
        info["final_epoch"] == tpl.final_epoch(4) and sorted(info["sequences"]) == render.result["sequences"]
    )
    assert all(s["epoch"] == tpl.final_epoch(4) for s in info["sequences"].values())
