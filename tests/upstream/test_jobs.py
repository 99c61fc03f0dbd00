"""Jobs against a fake checkout whose scripts/nes_runner.py imitates the overlay runner's outputs."""

import hashlib
import json
import shutil
import sys
import textwrap

import pytest

from nesbench.cli import main
from nesbench.config import load_benchmark
from nesbench.errors import DataError
from nesbench.upstream import jobs

FAKE_RUNNER = textwrap.dedent("""
    import argparse, json, os, sys
    from pathlib import Path
    from pyhocon import ConfigFactory
    p = argparse.ArgumentParser()
    p.add_argument("--conf"); p.add_argument("--nepoch", type=int); p.add_argument("--is_continue", action="store_true")
    p.add_argument("--is_eval", action="store_true"); p.add_argument("--sequences", default="")
    p.add_argument("--workdir"); p.add_argument("--test-time-fitting", default="on")
    p.add_argument("--checkpoint", default="latest"); p.add_argument("--fitting-scope", default=None)
    a = p.parse_args()
    c = ConfigFactory.parse_file(a.conf)
    exp = (Path(c.get_string("train.exps_folder")) / c.get_string("dataset.subject_name")
           / c.get_string("train.methodname") / "+".join(c.get_list("dataset.train.sub_dir")))
    train = exp / "train"
    ckpt = train / "checkpoints" / "ModelParameters"
    ckpt.mkdir(parents=True, exist_ok=True)
    with open(exp / "calls.txt", "a") as f:
        f.write(" ".join(sys.argv[1:]) + "\\n")
    (exp / "seed.txt").write_text(os.environ.get("NESBENCH_SEED", "unset"))
    if not a.is_eval:
        (ckpt / "latest.pth").write_text("x")
        if os.environ.get("FAKE_FAIL_ONCE") and not (exp / "failed_once").exists():
            (exp / "failed_once").write_text("1")
            sys.exit(3)
        offset = int(os.environ.get("FAKE_FINAL_OFFSET", "1"))  # IMavatar: 0, PointAvatar/MonoGaussianAvatar: 1
        speed = {"tf32": os.environ.get("NESBENCH_TF32", "unset")}
        (train / "nes_train_done.json").write_text(json.dumps({"final_epoch": a.nepoch + offset, "speed": speed}))
        sys.exit(0)
    final = json.loads((train / "nes_train_done.json").read_text())["final_epoch"]
    data = Path(c.get_string("dataset.data_folder")) / c.get_string("dataset.subject_name") / c.get_string("dataset.subject_name")
    for seq in a.sequences.split(","):
        epoch = final if a.checkpoint == "latest" else int(a.checkpoint)
        out = exp / "eval" / seq / f"epoch_{epoch}"
        pred = out / os.environ.get("FAKE_PREDICTION", "rgb_erode_dilate")
        pred.mkdir(parents=True, exist_ok=True)
        for img in (data / seq / "image").glob("*.png"):
            (pred / img.name).write_text(f"{seq} epoch {epoch}")
        (out / "nes_eval_done.json").write_text(json.dumps(
            {"sequence": seq, "test_time_fitting": a.test_time_fitting == "on", "fitting_scope": a.fitting_scope,
             "speed": {"tf32": os.environ.get("NESBENCH_TF32", "unset")}}))
""")


def write_json(folder, numbers, shape=0.0):
    """A minimal flame_params.json listing frames ``numbers`` (what the jobs' data checks read)."""
    frames = [{"file_path": f"./image/{k}"} for k in numbers]
    (folder / "flame_params.json").write_text(
        json.dumps({"frames": frames, "shape_params": [shape] * 100, "intrinsics": [1, 1, 0.5, 0.5]})
    )


def fake_modules(folder, broken=()):
    """A folder for $PYTHONPATH with importable torchvision/pytorch3d stand-ins (``broken`` ones raise)."""
    for name in ("torchvision", "pytorch3d"):
        (folder / name).mkdir(parents=True)
        body = f"raise ImportError('{name} was built for another torch')\n" if name in broken else ""
        (folder / name / "__init__.py").write_text(body)
    return folder


def install_fake_flame(code):
    folder = code / "flame" / "FLAME2020"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "generic_model.pkl").write_bytes(b"model")
    sha = hashlib.sha256(b"model").hexdigest()
    (folder / "nesbench_flame.json").write_text(json.dumps({"kind": "synthetic", "sha256": sha}))


@pytest.fixture
def env(tmp_path, monkeypatch):
    bench = load_benchmark("synthetic")
    monkeypatch.setenv("PYTHONPATH", str(fake_modules(tmp_path / "site")))
    up = tmp_path / "upstream" / "PointAvatar"
    install_fake_flame(up / "code")
    (up / "code" / "scripts").mkdir(parents=True)
    (up / "code" / "scripts" / "nes_runner.py").write_text(FAKE_RUNNER)
    (up / "code" / "confs").mkdir()
    (up / "code" / "confs" / "subject1.conf").write_text(
        "train { exps_folder = x, methodname = y }\ndataset { train { subsample = 1 }, test { subsample = 1 } }\n"
    )
    data = tmp_path / "datasets"
    for seq in bench.sequences:
        img = data / "testset1" / "9001" / "9001" / seq / "image"
        img.mkdir(parents=True)
        write_json(img.parent, [1, 2, 3])
        for k in (1, 2, 3):
            (img / f"{k}.png").write_bytes(b"")
    monkeypatch.setenv("NESBENCH_UPSTREAM", str(tmp_path / "upstream"))
    monkeypatch.setenv("NESBENCH_RUNS", str(tmp_path / "runs"))
    job = jobs.make_job("pointavatar", bench, "9001", "expression", data_root=data)
    return job, tmp_path


def calls(job):
    return (job.checkout / "data/experiments/9001/pointavatar/e_0+e_1+e_2+e_3+e_4+e_5/calls.txt").read_text()


def test_train_resumes_after_interruption_then_skips(env, monkeypatch):
    job, _ = env
    monkeypatch.setenv("FAKE_FAIL_ONCE", "1")
    first = jobs.train_job(job, epochs=10, python=sys.executable)
    assert first.status == "failed" and "exit 3" in first.detail and first.log.is_file()
    second = jobs.train_job(job, epochs=10, python=sys.executable)
    assert second.status == "done" and "resumed" in second.detail
    assert "--is_continue" in calls(job).splitlines()[1] and "--is_continue" not in calls(job).splitlines()[0]
    assert jobs.train_job(job, epochs=10).status == "skipped"
    rec = job.ledger.get(job.key, "train")  # the same ledger as the pipeline's, in <runs>/.ledger
    assert job.ledger.root == job.runs / ".ledger" and not (job.job_dir / "train.done.json").exists()
    assert (
        rec.state == "done" and rec.attempts == 2 and [h["state"] for h in rec.history] == ["failed", "done"]
    )
    assert rec.result["final_epoch"] == 11 and rec.result["commit"] == job.pin.commit
    assert jobs.train_job(job, epochs=12).status == "done"  # more epochs: continue, not skip
    log = (job.log_dir / "train.log").read_text()
    assert log.count("=====") == 3  # one log per job, one section per attempt


def stale_render(job, seq, epoch):
    """A finished render of another epoch (e.g. a longer earlier run), which eval must never map."""
    out = (
        job.checkout
        / "data/experiments/9001/pointavatar/e_0+e_1+e_2+e_3+e_4+e_5/eval"
        / seq
        / f"epoch_{epoch}"
    )
    (out / "rgb_erode_dilate").mkdir(parents=True)
    for k in (1, 2, 3):
        (out / "rgb_erode_dilate" / f"{k}.png").write_text("stale")
    (out / "nes_eval_done.json").write_text(json.dumps({"sequence": seq, "test_time_fitting": False}))


def test_eval_maps_exactly_the_final_epoch_and_records_fitting(env):
    job, tmp_path = env
    assert jobs.eval_job(job).status == "failed"  # not trained yet: a clear message, no render
    jobs.train_job(job, epochs=10)
    for seq in job.bench.protocol("expression").test_sequences:
        stale_render(job, seq, 301)  # numerically newer than the final epoch 11, and finished
    res = jobs.eval_job(job, test_time_fitting=False)
    assert res.status == "done", res.detail
    bench = job.bench
    for seq in bench.protocol("expression").test_sequences:
        pred = tmp_path / "runs" / "pointavatar" / "expression" / "9001" / seq / "rgb"
        assert sorted(p.name for p in pred.iterdir()) == ["1.png", "2.png", "3.png"]
        assert (pred / "2.png").read_text() == f"{seq} epoch 11"
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert (
        info["test_time_fitting"] is False and info["final_epoch"] == 11 and info["commit"] == job.pin.commit
    )
    assert info["prediction"] == "rgb_erode_dilate" and set(info["sequences"]) == set(
        bench.protocol("expression").test_sequences
    )
    assert "--checkpoint 11" in calls(job)  # the evaluated checkpoint is named, not "latest"
    assert jobs.eval_job(job, test_time_fitting=False).status == "skipped"
    assert jobs.eval_job(job, test_time_fitting=True).status == "done"  # other policy: re-rendered
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert info["test_time_fitting"] is True and info["test_time_fitting_scope"] == "split"  # the default
    assert "--fitting-scope split" in calls(job).splitlines()[-1]
    assert jobs.eval_job(job, fitting_scope="sequence").status == "done"  # other scope: re-rendered
    assert json.loads((job.job_dir / "method_info.json").read_text())["test_time_fitting_scope"] == "sequence"


def test_split_wide_fitting_re_renders_the_whole_split(env):
    job, _ = env
    jobs.train_job(job, epochs=10)
    seqs = job.bench.protocol("expression").test_sequences
    assert jobs.eval_job(job).status == "done"
    marker = job.checkout / "data/experiments/9001/pointavatar/e_0+e_1+e_2+e_3+e_4+e_5/eval" / seqs[0]
    (marker / "epoch_11" / "nes_eval_done.json").unlink()  # one sequence's render lost
    assert jobs.eval_job(job).status == "done"
    assert f"--sequences {','.join(seqs)} " in calls(job).splitlines()[-1]


def test_imavatar_final_epoch_is_nepochs_and_pointavatar_nepochs_plus_one():
    from nesbench.upstream.confs import load_template

    assert load_template("imavatar").final_epoch(300) == 300  # the benchmark's eval.sh renders epoch_300
    assert load_template("pointavatar").final_epoch(100) == 101  # upstream saves nepochs + 1 after the loop
    assert load_template("imavatar").fitting_scope is None
    assert load_template("pointavatar").fitting_scope == "split"


def test_map_predictions_refuses_missing_frames(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "1.png").write_bytes(b"a")
    with pytest.raises(DataError, match="missing"):
        jobs.map_predictions(src, tmp_path / "dst", [1, 2])


def test_cli_train_summary(env, capsys):
    job, tmp_path = env
    argv = [
        "upstream",
        "train",
        "--method",
        "pointavatar",
        "--protocol",
        "expression",
        "--subjects",
        "testset1",
        "--benchmark",
        "synthetic",
        "--data",
        str(tmp_path / "datasets"),
        "--epochs",
        "2",
    ]
    assert main(argv) == 0
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "summary: 1 jobs, 1 done" in out and "summary: 1 jobs, 0 done, 1 skipped, 0 failed" in out


def test_eval_of_an_earlier_checkpoint_is_mapped_as_its_own_method(env):
    job, tmp_path = env
    jobs.train_job(job, epochs=10)
    res = jobs.eval_job(job, test_time_fitting=False, checkpoint=5)
    assert res.status == "done", res.detail
    seq = job.bench.protocol("expression").test_sequences[0]
    pred = tmp_path / "runs" / "pointavatar-epoch5" / "expression" / "9001" / seq / "rgb"
    assert (pred / "1.png").read_text() == f"{seq} epoch 5"
    assert "--checkpoint 5" in calls(job)
    info = json.loads(
        (tmp_path / "runs" / "pointavatar-epoch5" / "expression" / "9001" / "method_info.json").read_text()
    )
    assert info["checkpoint"] == 5 and info["method"] == "pointavatar-epoch5"
    assert not (job.job_dir / "method_info.json").exists()  # the final evaluation is not marked done


def test_preflight_refuses_missing_flame_without_launching(env):
    job, _ = env
    shutil.rmtree(job.checkout / "code" / "flame")
    res = jobs.train_job(job, epochs=2)
    assert res.status == "failed" and res.log is None and not (job.log_dir / "train.log").exists()
    assert (
        "FLAME not installed" in res.detail and "bash setup.sh --flame PATH/generic_model.pkl" in res.detail
    )
    assert "--synthetic-flame" in res.detail and "\n" not in res.detail


def test_preflight_names_the_missing_sequence_and_the_data_fix(env):
    job, tmp_path = env
    seq = job.bench.protocol("expression").test_sequences[0]
    shutil.rmtree(tmp_path / "datasets" / "testset1" / "9001" / "9001" / seq)
    res = jobs.train_job(job, epochs=2)
    assert res.status == "failed" and not (job.log_dir / "train.log").exists()
    assert f"9001/9001/{seq}: sequence folder missing" in res.detail
    assert "bash setup.sh --data PATH" in res.detail and "--data DIR" in res.detail
    gone = jobs.make_job("pointavatar", job.bench, "9001", "expression", data_root=tmp_path / "nowhere")
    assert "data root not found" in jobs.train_job(gone, epochs=2).detail


def test_preflight_refuses_a_python_without_torchvision(env, monkeypatch, tmp_path):
    job, _ = env
    monkeypatch.setenv("PYTHONPATH", str(fake_modules(tmp_path / "broken", broken=("torchvision",))))
    res = jobs.train_job(job, epochs=2)
    assert res.status == "failed" and not (job.log_dir / "train.log").exists()
    assert "cannot import torchvision" in res.detail and "built for another torch" in res.detail
    assert "pip install torchvision==<version matching torch" in res.detail and "pytorch3d" not in res.detail
    # a wrapper interpreter is probed itself (the job's python, not the harness's)
    wrapper = tmp_path / "py"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={tmp_path / "site"} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    assert jobs.train_job(job, epochs=2, python=str(wrapper)).status == "done"


def test_runner_data_error_is_reported_as_its_message(env):
    job, _ = env
    runner = job.checkout / "code" / "scripts" / "nes_runner.py"
    runner.write_text(
        "from nesbench.errors import DataError\n"
        "raise DataError('/d/9001/9001/e_0/flame_params.json: frames must be 1-based')\n"
    )
    res = jobs.train_job(job, epochs=2)
    assert (
        res.status == "failed"
        and res.detail == "exit 1: /d/9001/9001/e_0/flame_params.json: frames must be 1-based"
    )
    runner.write_text("import no_such_module_here\n")
    res = jobs.train_job(job, epochs=2)
    assert res.detail == "exit 1: ModuleNotFoundError: No module named 'no_such_module_here'"


def test_cli_refuses_bad_epochs_and_fitting_for_imavatar(env, capsys):
    _, tmp_path = env
    base = ["--protocol", "expression", "--subjects", "9001", "--benchmark", "synthetic"]
    for bad in ("-1", "0", "abc", "1e9"):
        with pytest.raises(SystemExit) as exit_:
            main(["upstream", "train", "--method", "pointavatar", *base, "--epochs", bad])
        assert exit_.value.code == 2
        assert "a number of epochs is 1..1000000" in capsys.readouterr().err
    assert main(["upstream", "eval", "--method", "imavatar", *base, "--test-time-fitting", "on"]) == 1
    err = capsys.readouterr().err
    assert (
        "only PointAvatar and MonoGaussianAvatar have test-time fitting" in err
        and len(err.strip().splitlines()) == 1
    )
    assert main(["upstream", "train", "--method", "pointavatar", *base, "--set", "train.nepoch=abc"]) == 1
    assert "train.nepoch takes a number" in capsys.readouterr().err


def test_cli_summary_prints_the_preflight_line(env, capsys):
    job, tmp_path = env
    shutil.rmtree(job.checkout / "code" / "flame")
    argv = ["upstream", "train", "--method", "pointavatar", "--protocol", "expression", "--subjects", "9001"]
    assert main([*argv, "--benchmark", "synthetic", "--data", str(tmp_path / "datasets")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "failed: pointavatar/expression/9001: not launched:" in err[0]
    assert "FLAME not installed" in err[0]


def test_a_seeded_job_has_its_own_conf_and_results_and_the_runner_gets_the_seed(env, monkeypatch):
    from nesbench.upstream import confs

    monkeypatch.delenv("NESBENCH_SEED", raising=False)
    job, tmp_path = env
    seeded = jobs.make_job("pointavatar", job.bench, "9001", "expression", data_root=job.data_root, seed=2)
    assert (seeded.run_name, seeded.job_dir) == (
        "pointavatar-seed2",
        tmp_path / "runs/pointavatar-seed2/expression/9001",
    )
    exps = tmp_path / "exp-seed2"
    assert jobs.train_job(seeded, epochs=10, overrides={"train.exps_folder": str(exps)}).status == "done"
    conf = confs.conf_path(job.checkout, job.bench, "expression", "9001", "seed2")
    assert conf.name == "9001.seed2.conf" and str(exps) in conf.read_text()
    assert not confs.conf_path(
        job.checkout, job.bench, "expression", "9001"
    ).exists()  # the unseeded one untouched
    exp = exps / "9001" / "pointavatar" / "e_0+e_1+e_2+e_3+e_4+e_5"
    assert (exp / "seed.txt").read_text() == "2"
    res = jobs.eval_job(seeded, test_time_fitting=False)
    assert res.status == "done" and res.job == "pointavatar-seed2/expression/9001", res.detail
    seq = job.bench.protocol("expression").test_sequences[0]
    assert (seeded.job_dir / seq / "rgb" / "1.png").read_text() == f"{seq} epoch 11"
    info = json.loads((seeded.job_dir / "method_info.json").read_text())
    assert (info["method"], info["seed"]) == ("pointavatar-seed2", 2)
    # an unseeded job leaves $NESBENCH_SEED to the caller's environment (the runner's default: 0)
    jobs.train_job(job, epochs=1)
    assert (
        job.checkout / "data/experiments/9001/pointavatar/e_0+e_1+e_2+e_3+e_4+e_5/seed.txt"
    ).read_text() == "unset"


def test_a_tarball_conf_is_used_and_recorded_in_method_info(env):
    job, tmp_path = env
    folder = (
        tmp_path / "conf" / "audio_audio_multiflame"
    )  # next to the data root <tmp>/datasets, as in the tarball
    folder.mkdir(parents=True)
    (folder / "9001.conf").write_text(
        "train { exps_folder = ../x, methodname = pointavatar, max_points_training = 1000, plot_freq = 9 }\n"
        "model { point_cloud { n_init_points = 10 } }\n"
        'dataset { subject_name = "9001", json_name = flame_params.json,'
        " train { sub_dir = [e_0], img_res = [256, 256], subsample = 1 },"
        " test { sub_dir = [e_6], img_res = [256, 256], subsample = 50 } }\n"
    )
    res = jobs.train_job(job, epochs=3)
    assert res.status == "done" and "confs: benchmark tarball" in res.detail, res.detail
    assert jobs.eval_job(job, test_time_fitting=False).status == "done"
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert info["confs"] == "benchmark tarball" and info["conf_base"] == str(folder / "9001.conf")
    assert "+ train.plot_freq = 9" in info["conf_diff"] and "dataset.test.subsample" in info["conf_rewritten"]
    assert info["flame_distance_filter"] is None  # PointAvatar has no such filter
    assert info["data_warnings"] == [] and info["strict"] is False
    res = jobs.train_job(job, epochs=3, confs="generated")  # another conf: retrained, recorded
    assert res.status == "done" and "confs: generated from upstream examples" in res.detail
    jobs.eval_job(job, test_time_fitting=False)
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert info["confs"] == "generated from upstream examples" and info["conf_diff"] == []


def test_data_the_benchmark_accepts_warns_is_recorded_and_strict_refuses(env, capsys):
    job, tmp_path = env
    subject = tmp_path / "datasets" / "testset1" / "9001" / "9001"
    write_json(
        subject / "e_0", [1, 2, 3], shape=0.5
    )  # shape_params differ from e_5's (the last train sequence)
    write_json(subject / "e_6", [3, 2, 1])  # frames not in order (a test sequence)
    res = jobs.train_job(job, epochs=3)
    assert res.status == "done", res.detail
    assert any("e_0/flame_params.json: shape_params differ from sequence e_5's" in w for w in res.warnings)
    assert any("e_6/flame_params.json: frames are not in increasing order" in w for w in res.warnings)
    assert job.ledger.result(job.key, "train")["data_warnings"] == list(res.warnings)
    res = jobs.eval_job(job, test_time_fitting=False)
    assert res.status == "done"
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert len(info["data_warnings"]) == 2 and info["strict"] is False
    refused = jobs.train_job(job, epochs=3, strict=True)  # even a finished job is not skipped under --strict
    assert refused.status == "failed" and refused.detail.startswith("not launched: ")
    assert "refused because of --strict: fix the data or run without --strict" in refused.detail
    assert jobs.eval_job(job, test_time_fitting=False, strict=True).status == "failed"
    argv = ["upstream", "train", "--method", "pointavatar", "--protocol", "expression", "--subjects", "9001"]
    argv += ["--benchmark", "synthetic", "--data", str(tmp_path / "datasets"), "--epochs", "3"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "[train] warning: " in err and "shape_params differ" in err
    assert main([*argv, "--strict"]) == 1


def test_the_flame_distance_filter_setting_of_a_run():
    from pyhocon import ConfigFactory

    conf = ConfigFactory.parse_string("nes { flame_distance_skip = 5e-5 }")
    runner = {"skipped_steps": {"1": 3, "2": 4}}
    assert jobs.flame_distance_filter(conf, runner) == {"on": True, "threshold": 5e-5, "skipped_steps": 7}
    off = ConfigFactory.parse_string("nes { flame_distance_skip = 0 }")
    assert jobs.flame_distance_filter(off) == {"on": False, "threshold": 0.0}
    assert jobs.flame_distance_filter(ConfigFactory.parse_string("a = 1")) is None


def test_tf32_reaches_the_runner_and_method_info_records_it(env, monkeypatch):
    job, _ = env
    monkeypatch.delenv("NESBENCH_TF32", raising=False)
    assert jobs.train_job(job, epochs=1, tf32=True).status == "done"
    assert jobs.eval_job(job, test_time_fitting=False, tf32=False).status == "done"
    info = json.loads((job.job_dir / "method_info.json").read_text())
    assert info["speed"] == {"train": {"tf32": "1"}, "eval": {"tf32": "0"}}
    # None leaves the caller's $NESBENCH_TF32 (bench_upstream.sh sets it for train.sh)
    monkeypatch.setenv("NESBENCH_TF32", "1")
    assert jobs.eval_job(job, test_time_fitting=True).status == "done"
    assert json.loads((job.job_dir / "method_info.json").read_text())["speed"]["eval"] == {"tf32": "1"}


def test_a_runs_folder_from_before_the_ledger_is_migrated(env):
    """Done-markers of an older runs folder are read once, copied into the ledger and removed: nothing is redone."""
    job, _ = env
    jobs.train_job(job, epochs=10)
    assert jobs.eval_job(job, test_time_fitting=False).status == "done"
    done = job.ledger.get(job.key, "train").result
    shutil.rmtree(job.ledger.root)  # what the old code left: train.done.json in the job folder, no ledger
    (job.job_dir / "train.done.json").write_text(json.dumps(done))
    n_calls = len(calls(job).splitlines())
    assert jobs.train_job(job, epochs=10).status == "skipped"
    assert not (job.job_dir / "train.done.json").exists()
    rec = job.ledger.get(job.key, "train")
    assert (
        rec.state == "done"
        and rec.result == done
        and rec.history[-1]["migrated_from"].endswith("train.done.json")
    )
    assert jobs.eval_job(job, test_time_fitting=False).status == "skipped"
    assert len(calls(job).splitlines()) == n_calls  # neither trained nor rendered again
    assert job.ledger.get(job.key, "render").result["final_epoch"] == 11


def test_under_nesbench_run_the_upstream_layer_shares_the_runs_ledger(env):
    """In a `nesbench run` folder the pipeline's stage runner records train/render; eval reads that train record."""
    from nesbench.ledger import Ledger

    job, tmp_path = env
    run_dir = tmp_path / "run"
    (run_dir / "runs").mkdir(parents=True)
    (run_dir / "plan.json").write_text("{}")
    job = jobs.make_job(
        "pointavatar", job.bench, "9001", "expression", runs=run_dir / "runs", data_root=job.data_root
    )
    ledger = Ledger(run_dir)
    assert job.ledger.root == ledger.root
    ledger.start(job.key, "train")  # what pipeline.stages.run_job does around the method's step
    res = jobs.train_job(job, epochs=10, record=False)
    ledger.finish(job.key, "train", ok=True, result=res.result)
    ledger.start(job.key, "render")
    assert jobs.eval_job(job, test_time_fitting=False, record=False).status == "done"
    assert (
        ledger.get(job.key, "train").attempts == 1
        and ledger.get(job.key, "train").result["final_epoch"] == 11
    )
    assert not (run_dir / "runs" / ".ledger").exists()


def test_jobs_status_shows_the_ledger_of_a_runs_folder(env, capsys):
    job, _ = env
    jobs.train_job(job, epochs=10)
    capsys.readouterr()
    assert main(["jobs", "status", str(job.runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"job": job.key, "stage": "train", "state": "done(1)", "reason": ""}]


def test_the_cli_routes_exactly_the_methods_with_their_own_job_module() -> None:
    """`nesbench upstream train|eval` sends these methods to iteration_jobs.run_jobs; the list must match its modules."""
    from nesbench.upstream import cli, iteration_jobs

    assert set(cli.OWN_JOBS) == set(iteration_jobs.JOB_MODULES)
