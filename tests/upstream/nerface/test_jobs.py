"""NeRFace train/eval jobs on a fake checkout whose scripts mimic upstream's checkpointing and the renderer's
outputs: conversion, config generation, resume after interruption, skip when done, mapping into the canonical
layout, and the registered method driven by `nesbench upstream train|eval` (train.sh / eval.sh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nesbench.config import load_benchmark
from nesbench.data.layout import frame_files, prediction_dir
from nesbench.errors import ConfigError
from nesbench.synth.subject import SEQUENCES, render_subject
from nesbench.upstream import flame
from nesbench.upstream.install import install
from nesbench.upstream.nerface import jobs, settings

from .fake_tree import make_repo, pin

FAKE_TRAIN = r"""
import json, os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
cfg = json.load(open(args["--config"]))
exp = cfg["experiment"]
logdir = os.path.join(exp["logdir"], exp["id"])
os.makedirs(logdir, exist_ok=True)
with open(os.path.join(os.path.dirname(exp["logdir"]), "calls.jsonl"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
start = 0
if os.path.exists(args.get("--load-checkpoint", "")):
    start = json.load(open(args["--load-checkpoint"]))["iter"] + 1
die = int(os.environ.get("FAKE_DIE_AT", "-1"))
for i in range(start, exp["train_iters"]):
    if i == die:
        sys.exit(3)
    if i % exp["save_every"] == 0 or i == exp["train_iters"] - 1:
        json.dump({"iter": i}, open(os.path.join(logdir, "checkpoint%05d.ckpt" % i), "w"))
print("Done!")
"""

FAKE_RENDER = r"""
import json, os, sys
import numpy as np, cv2
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
meta = json.load(open(args["--transforms"]))
os.makedirs(args["--out"], exist_ok=True)
for fr in meta["frames"]:
    p = os.path.join(args["--out"], "%d.png" % fr["frame"])
    if not os.path.exists(p):
        cv2.imwrite(p, np.full((32, 32, 3), fr["frame"], np.uint8))
json.dump({"iter": json.load(open(args["--checkpoint"]))["iter"], "latent": args["--latent"]},
          open(os.path.join(args["--out"], "nes_eval_done.json"), "w"))
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "4D-Facial-Avatars"))
    code = install(p, mirror=mirror, root=tmp_path / "up", say=lambda m: None)
    flame.install_synthetic_flame([p], {"nerface": code})
    train = code / jobs.TRAIN_SCRIPT
    train.write_text(FAKE_TRAIN + "\n_PATCHED = r'''" + train.read_text() + "'''\n")
    (code / jobs.RENDERER).write_text(FAKE_RENDER)
    data = tmp_path / "data"
    bench = load_benchmark("synthetic_tiny")
    render_subject(data, "9001", res=32, frames=2, seed=0, sequences=SEQUENCES)
    monkeypatch.setattr(jobs, "get_pin", lambda key: p)
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "up"))
    job = jobs.make_job(bench, "9001", "expression", runs=tmp_path / "runs", data_root=data)
    return job, tmp_path


def calls(job) -> list[list[str]]:
    path = job.work_dir / "calls.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_config_keeps_upstream_hyperparameters_and_sets_paths(setup) -> None:
    job, _ = setup
    tpl = settings.load_settings()
    cfg = settings.build_config(
        job.code_dir, tpl, Path("/d"), Path("/l"), 7, 3, {"nerf.train.num_random_rays": 64}
    )
    assert cfg["experiment"]["train_iters"] == 7 and cfg["experiment"]["randomseed"] == 3
    assert cfg["dataset"]["basedir"] == "/d" and cfg["experiment"]["logdir"] == "/l"
    assert cfg["dataset"]["half_res"] is False and cfg["dataset"]["no_ndc"] is True
    assert cfg["dataset"]["near"] == 0.2 and cfg["models"]["coarse"]["hidden_size"] == 256  # upstream's
    assert cfg["nerf"]["train"]["num_random_rays"] == 64
    longer = settings.build_config(job.code_dir, tpl, Path("/d"), Path("/l"), 70, 3)
    longer["nerf"]["train"]["num_random_rays"] = 64
    assert settings.identity_sha(longer) == settings.identity_sha(cfg)  # more iterations resume
    assert tpl.iterations == {"expression": 400000, "speech": 400000}
    assert tpl.test_latent_code == "train:10" and tpl.background == (1.0, 1.0, 1.0)


def test_train_resumes_after_interruption_then_skips(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    job, _ = setup
    sets = {"experiment.save_every": 2}
    monkeypatch.setenv("FAKE_DIE_AT", "5")
    res = jobs.train_job(job, iterations=8, overrides=sets)
    assert res.status == "failed" and "exit 3" in res.detail
    assert list(jobs.checkpoints(job.ckpt_dir)) == [0, 2, 4]
    monkeypatch.delenv("FAKE_DIE_AT")
    res = jobs.train_job(job, iterations=8, overrides=sets)
    assert res.status == "done" and "resumed from iteration 4" in res.detail, res.detail
    assert list(jobs.checkpoints(job.ckpt_dir)) == [0, 2, 4, 6, 7]
    assert calls(job)[-1][-2:] == [
        "--load-checkpoint",
        str((job.ckpt_dir / "checkpoint00004.ckpt").resolve()),
    ]
    assert jobs.train_job(job, iterations=8, overrides=sets).status == "skipped"
    assert len(calls(job)) == 2
    rec = job.ledger.get(job.key, "train")  # the one job ledger of the runs folder, no done-marker of its own
    assert job.ledger.root == job.runs / ".ledger" and not (job.job_dir / "train.done.json").exists()
    assert [h["state"] for h in rec.history] == ["failed", "done"] and rec.result["resumed_from"] == 4
    cfg = json.loads((job.work_dir / "config.yml").read_text())
    assert cfg["dataset"]["basedir"] == str((job.work_dir / "dataset").resolve())
    assert (job.work_dir / "dataset" / "transforms_e_6.json").is_file()
    # another configuration does not resume from these checkpoints
    res = jobs.train_job(job, iterations=8, overrides={**sets, "optimizer.lr": 1e-3})
    assert res.status == "done" and "resumed" not in res.detail
    assert "--load-checkpoint" not in calls(job)[-1]


def test_eval_maps_every_test_sequence_and_records_provenance(setup) -> None:
    job, tmp = setup
    assert jobs.eval_job(job).status == "failed"  # not trained
    assert jobs.train_job(job, iterations=3, overrides={"experiment.save_every": 1}).status == "done"
    res = jobs.eval_job(job)
    assert res.status == "done", res.detail
    proto = job.bench.protocol("expression")
    for seq in proto.test_sequences:
        assert list(frame_files(prediction_dir(tmp / "runs", "nerface", "expression", "9001", seq))) == [1, 2]
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert info["train_iterations"] == 3 and info["test_latent_code"] == "train:10"
    assert info["checkpoint"].endswith("checkpoint00002.ckpt") and info["commit"] == job.pin.commit
    assert info["conversion"]["scale"] > 0
    assert jobs.eval_job(job).status == "skipped"
    # an interrupted sequence (frames but no done-marker) is completed, its frames kept
    seq_dir = job.work_dir / "renders" / "e_6"
    (seq_dir / "nes_eval_done.json").unlink()
    (seq_dir / "2.png").unlink()
    res = jobs.eval_job(job)
    assert res.status == "done" and "1 rendered now" in res.detail


def test_cli_drives_nerface_and_refuses_foreign_options(setup, capsys) -> None:
    from nesbench.cli import main

    job, tmp = setup
    base = ["--methods", "nerface", "--protocols", "expression", "--subjects", "9001"]
    base += ["--benchmark", "synthetic_tiny", "--runs", str(tmp / "runs"), "--data", str(tmp / "data")]
    assert main(["upstream", "train", *base, "--iterations", "2", "--set", "experiment.save_every=1"]) == 0
    assert main(["upstream", "eval", *base]) == 0
    assert "1 jobs, 1 done" in capsys.readouterr().out
    assert main(["upstream", "train", *base, "--epochs", "2"]) == 1
    assert "--iterations" in capsys.readouterr().err
    assert main(["upstream", "eval", *base, "--test-time-fitting", "on"]) == 1
    other = [a if a != "nerface" else "imavatar" for a in base]
    assert main(["upstream", "train", *other, "--iterations", "2"]) == 1
    assert "only NeRFace and FlashAvatar count iterations" in capsys.readouterr().err


def test_missing_flame_refuses_to_launch(setup) -> None:
    job, _ = setup
    (job.code_dir / flame.FLAME_DIR / flame.MODEL).unlink()
    res = jobs.train_job(job, iterations=2)
    assert res.status == "failed" and "nesbench upstream flame" in res.detail
    assert not (job.work_dir / "calls.jsonl").exists()


def test_registered_method() -> None:
    from nesbench.methods.registry import get_method

    spec = get_method("nerface")
    assert spec.upstream == "nerface" and spec.needs_gpu
    assert type(spec.create()).__name__ == "NeRFaceMethod"


def test_eval_of_an_earlier_checkpoint_is_its_own_method(setup) -> None:
    job, tmp = setup
    assert jobs.train_job(job, iterations=3, overrides={"experiment.save_every": 2}).status == "done"
    assert job.ledger.result(job.key, "train")["seconds_per_iteration"] > 0
    with pytest.raises(ConfigError, match="no checkpoint00001.ckpt; saved: 0, 2"):
        jobs.eval_job(job, checkpoint=1)
    assert jobs.eval_job(job, checkpoint=0).status == "done"
    info = json.loads(
        (tmp / "runs" / "nerface-iter0" / "expression" / "9001" / "method_info.json").read_text()
    )
    assert info["method"] == "nerface-iter0" and info["checkpoint_iteration"] == 0
    assert frame_files(prediction_dir(tmp / "runs", "nerface-iter0", "expression", "9001", "e_6"))
    assert job.ledger.get("nerface-iter0/expression/9001", "render").state == "done"
    assert job.ledger.get(job.key, "render").state == "pending"  # the final render is still owed
    assert not prediction_dir(tmp / "runs", "nerface", "expression", "9001", "e_6").exists()


def test_an_older_runs_folder_with_done_markers_resumes_without_redoing_work(setup) -> None:
    """train.done.json / eval.done.json of a run from before the ledger are adopted into it and removed."""
    import shutil

    job, _ = setup
    sets = {"experiment.save_every": 1}
    assert jobs.train_job(job, iterations=3, overrides=sets).status == "done"
    assert jobs.eval_job(job).status == "done"
    trained = job.ledger.result(job.key, "train")
    rendered = job.ledger.result(job.key, "render")
    shutil.rmtree(job.ledger.root)  # what the older code left: markers in the job folder, no ledger
    (job.job_dir / "train.done.json").write_text(json.dumps(trained))
    (job.job_dir / "eval.done.json").write_text(
        json.dumps({"checkpoint_sha256": rendered["checkpoint_sha256"]})
    )
    n = len(calls(job))
    assert jobs.train_job(job, iterations=3, overrides=sets).status == "skipped"
    assert jobs.eval_job(job).status == "skipped"
    assert len(calls(job)) == n and not list(job.job_dir.glob("*.done.json"))
    assert job.ledger.get(job.key, "train").history[0]["migrated_from"].endswith("train.done.json")
    assert job.ledger.get(job.key, "render").state == "done"


def test_under_nesbench_run_the_pipeline_records_nerface_stages(setup) -> None:
    """With record=False (the registered method under `nesbench run`) the run's own ledger is read, not written."""
    from nesbench.ledger import Ledger

    job, tmp = setup
    run = tmp / "run"
    (run / "runs").mkdir(parents=True)
    (run / "plan.json").write_text("{}")
    job = jobs.make_job(job.bench, "9001", "expression", runs=run / "runs", data_root=job.data_root)
    ledger = Ledger(run)
    assert job.ledger.root == ledger.root
    ledger.start(job.key, "train")  # what pipeline.stages.run_job does around the method's step
    res = jobs.train_job(job, iterations=2, overrides={"experiment.save_every": 1}, record=False)
    assert ledger.get(job.key, "train").state == "running"
    ledger.finish(job.key, "train", ok=True, result=res.result)
    ledger.start(job.key, "render")
    assert jobs.eval_job(job, record=False).status == "done"
    assert ledger.get(job.key, "render").state == "running" and not (run / "runs" / ".ledger").exists()
