from __future__ import annotations

import json

import numpy as np
import pytest

from nesbench.config import load_benchmark
from nesbench.data.layout import sequence_dir
from nesbench.ledger import Ledger
from nesbench.methods.sequence_data import load_sequence, write_rgb
from nesbench.metrics.score import score_sequence
from nesbench.pipeline.run import RunOptions, run_pipeline

pytestmark = pytest.mark.slow


def test_run_produces_summary_and_report(tiny_run, tiny_summary):
    assert {e["method"] for e in tiny_summary["entries"]} == {
        "nearest-expression",
        "linear-expression",
        "mean-image",
    }
    assert set(tiny_summary["metrics"]) == {"unified", "renderme-imavatar", "renderme-pointavatar"}
    c = tiny_summary["counts"]
    assert c["n_expected"] > 0 and c["n_scored"] == c["n_expected"] and c["n_failed"] == 0
    html = (tiny_run / "report.html").read_text()
    assert "expression · unified" in html and "speech · renderme-pointavatar" in html
    assert html.count("data:image/png;base64,") >= 5  # plot + image grids, all inline
    assert "GT | prediction" in (tiny_run / "report.md").read_text() or "Leaderboards" in html
    assert Ledger(tiny_run).summary() == {"pending": 0, "running": 0, "done": 18, "failed": 0}


def test_rerun_resumes_without_redoing_work(tiny_run, tiny_summary, metric_values):
    before = {r.job + r.stage: r.attempts for r in Ledger(tiny_run).records()}
    run_pipeline(RunOptions(benchmark="synthetic_tiny", out=tiny_run))
    after = {r.job + r.stage: r.attempts for r in Ledger(tiny_run).records()}
    assert before == after
    assert metric_values(json.loads((tiny_run / "summary.json").read_text())) == metric_values(tiny_summary)


def _protocol_entry(summary: dict, method: str, protocol: str, scorer: str = "unified") -> dict:
    (entry,) = [
        e
        for e in summary["entries"]
        if (e["method"], e["protocol"], e["scorer"], e["level"]) == (method, protocol, scorer, "protocol")
    ]
    return entry


def test_baselines_beat_a_constant_prediction(tiny_run, tiny_summary, tmp_path):
    """On held-out expressions both baselines beat a constant image (the training foregrounds' mean colour)."""
    bench = load_benchmark("synthetic_tiny")
    root = tiny_summary["provenance"]["data_root"]
    proto = bench.protocol("expression")
    train = [load_sequence(sequence_dir(root, "testset1", "9001", s)) for s in proto.train]
    colour = np.mean([s.foreground(k).mean(axis=(0, 1)) for s in train for k in s.frames], axis=0)
    const = {"psnr": [], "l1": [], "ssim": []}
    for seq in proto.test_sequences:
        gt = sequence_dir(root, "testset1", "9001", seq)
        for k in load_sequence(gt).frames:
            write_rgb(tmp_path / seq / f"{k}.png", np.broadcast_to(colour, (64, 64, 3)).astype(np.float32))
        res = score_sequence(
            tmp_path / seq,
            gt,
            "unified",
            resolution=bench.resolution,
            device="cpu",
            missing_lpips="unavailable",
        )
        for m in const:
            const[m].append(res["mean"][m])
    for method in ("nearest-expression", "linear-expression", "mean-image"):
        got = _protocol_entry(tiny_summary, method, "expression")["metrics"]
        assert got["psnr"] > np.mean(const["psnr"]) + 1.0, method
        assert got["ssim"] > np.mean(const["ssim"]), method
        assert got["l1"] < np.mean(const["l1"]), method


def test_linear_model_beats_the_mean_image(tiny_summary):
    """The learned baseline generalises to unseen expressions better than blur alone (the meaningful floor).

    Expression protocol only: the tiny configuration trains the speech protocol on 8 frames, too few to assert on.
    """
    lin = _protocol_entry(tiny_summary, "linear-expression", "expression")["metrics"]
    mean = _protocol_entry(tiny_summary, "mean-image", "expression")["metrics"]
    assert lin["psnr"] > mean["psnr"] + 0.3 and lin["l1"] < mean["l1"]


def test_run_refuses_a_different_plan_in_the_same_folder(tiny_run):
    from nesbench.errors import ConfigError

    with pytest.raises(ConfigError, match="holds another plan .*methods: "):
        run_pipeline(RunOptions(benchmark="synthetic_tiny", out=tiny_run, methods=["nearest-expression"]))
    with pytest.raises(ConfigError, match="holds another plan .*benchmark: .*synthetic_tiny.conf"):
        run_pipeline(RunOptions(benchmark="synthetic", out=tiny_run))  # other arguments are never ignored


def test_unknown_scorer_fails_before_any_work_and_leaves_no_folder(tmp_path):
    from nesbench.errors import NesbenchError

    with pytest.raises(NesbenchError, match="unknown scorer 'nope'"):
        run_pipeline(RunOptions(benchmark="synthetic_tiny", out=tmp_path / "run", scorers=["nope"]))
    assert not (tmp_path / "run").exists()


def test_when_every_job_fails_the_run_says_so(tmp_path, monkeypatch):
    from nesbench.pipeline.run import RunFailed

    (tmp_path / "broken_plugin.py").write_text(
        "from nesbench.methods.spec import MethodSpec\n"
        "class Broken:\n"
        "    def prepare(self, job): raise RuntimeError('no weights here')\n"
        "SPEC = MethodSpec(name='broken', description='fails', target='broken_plugin:Broken')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NESBENCH_METHODS", "broken=broken_plugin:SPEC")
    with pytest.raises(
        RunFailed, match=r"2 of 2 job\(s\) failed: broken/expression/9001, broken/speech/9001"
    ):
        run_pipeline(RunOptions(benchmark="synthetic_tiny", out=tmp_path / "run", methods=["broken"]))
    assert (
        "RuntimeError: no weights here"
        in (tmp_path / "run" / "ledger" / "broken/speech/9001/prepare.json").read_text()
    )


def test_upstream_options_go_to_the_methods_that_take_them():
    from nesbench.errors import ConfigError
    from nesbench.pipeline.run import method_job_options as upstream_options

    opts = upstream_options(
        RunOptions(benchmark="renderme360_nes", epochs=3, test_time_fitting=False, overrides={"x.y": 1})
    )
    assert opts == {
        "imavatar": {"epochs": 3, "overrides": {"x.y": 1}},
        "pointavatar": {"epochs": 3, "overrides": {"x.y": 1}, "test_time_fitting": False},
    }
    assert upstream_options(RunOptions(benchmark="synthetic_tiny", epochs=3)) == {}  # baselines take none
    with pytest.raises(ConfigError, match="PointAvatar and MonoGaussianAvatar only"):
        upstream_options(
            RunOptions(benchmark="renderme360_nes", methods=["imavatar"], test_time_fitting=True)
        )


def test_a_methods_own_options_are_checked_and_recorded_for_that_method_only():
    from nesbench.errors import ConfigError
    from nesbench.pipeline.run import method_job_options

    new = RunOptions(
        benchmark="renderme360_nes",
        method_options={"pointavatar": {"test_time_fitting": False, "fitting_scope": "sequence"}},
    )
    assert method_job_options(new) == {
        "pointavatar": {"test_time_fitting": False, "fitting_scope": "sequence"}
    }
    old = RunOptions(benchmark="renderme360_nes", test_time_fitting=False)  # the old global spelling
    assert method_job_options(old) == {"pointavatar": {"test_time_fitting": False}}
    with pytest.raises(ConfigError, match="has no option 'test_time_fitting'"):
        method_job_options(
            RunOptions(benchmark="renderme360_nes", method_options={"imavatar": {"test_time_fitting": True}})
        )
    with pytest.raises(ConfigError, match="fitting-scope: invalid value 'all'"):
        method_job_options(
            RunOptions(benchmark="renderme360_nes", method_options={"pointavatar": {"fitting_scope": "all"}})
        )
    with pytest.raises(ConfigError, match="not among the chosen"):
        method_job_options(
            RunOptions(benchmark="renderme360_nes", methods=["imavatar"], method_options={"pointavatar": {}})
        )


def test_epochs_and_iterations_each_reach_the_methods_that_count_in_them():
    from nesbench.errors import ConfigError
    from nesbench.pipeline.run import method_job_options

    mixed = RunOptions(
        benchmark="synthetic_smoke",
        methods=["monogaussianavatar", "flashavatar", "nerface", "linear-expression"],
        epochs=40,
        iterations=3000,
    )
    assert method_job_options(mixed) == {
        "monogaussianavatar": {"epochs": 40},
        "flashavatar": {"iterations": 3000},
        "nerface": {"iterations": 3000},
    }
    # one of the two given: the other kind keeps its conf default (not the wrong unit)
    assert method_job_options(RunOptions(benchmark="synthetic_smoke", methods=mixed.methods, epochs=40)) == {
        "monogaussianavatar": {"epochs": 40}
    }
    with pytest.raises(ConfigError, match="flashavatar counts training in iterations; give --iterations N"):
        method_job_options(RunOptions(benchmark="synthetic_smoke", methods=["flashavatar"], epochs=3))
    with pytest.raises(ConfigError, match="imavatar counts training in epochs; give --epochs N"):
        method_job_options(RunOptions(benchmark="synthetic_smoke", methods=["imavatar"], iterations=3))


def test_set_with_a_method_scope_reaches_that_method_only():
    from nesbench.errors import ConfigError
    from nesbench.pipeline.run import method_job_options
    from nesbench.upstream.confs import parse_overrides

    sets = ["flashavatar:save_every=1000", "loss.vgg_feature_weight=0", "monogaussianavatar:train.nepoch=7"]
    overrides = parse_overrides(sets, scoped=True)
    # the value is parsed by its bare key's rule: train.nepoch must be a number
    assert overrides["monogaussianavatar:train.nepoch"] == 7
    with pytest.raises(ConfigError, match="train.nepoch takes a number"):
        parse_overrides(["monogaussianavatar:train.nepoch=many"], scoped=True)
    opts = method_job_options(
        RunOptions(
            benchmark="synthetic_smoke",
            methods=["monogaussianavatar", "flashavatar", "linear-expression"],
            overrides=overrides,
        )
    )
    assert opts == {
        "monogaussianavatar": {"overrides": {"loss.vgg_feature_weight": 0, "train.nepoch": 7}},
        "flashavatar": {"overrides": {"loss.vgg_feature_weight": 0, "save_every": 1000}},
    }
    for stray in (["nerface:x=1"], ["linear-expression:x=1"]):
        with pytest.raises(ConfigError, match="is not an upstream method of this run"):
            method_job_options(
                RunOptions(
                    benchmark="synthetic_smoke",
                    methods=["flashavatar", "linear-expression"],
                    overrides=parse_overrides(stray, scoped=True),
                )
            )
    # train.sh and eval.sh keep plain keys: no scope is read there
    assert parse_overrides(["flashavatar:save_every=1"]) == {"flashavatar:save_every": 1}


def test_run_cli_refuses_epochs_for_an_iteration_method_before_making_a_run_folder(tmp_path, capsys):
    from nesbench.cli import main

    out = tmp_path / "run"
    argv = ["run", "--benchmark", "synthetic_smoke", "--methods", "flashavatar", "--out", str(out)]
    assert main([*argv, "--epochs", "3"]) == 1
    assert "flashavatar counts training in iterations; give --iterations N instead" in capsys.readouterr().err
    assert main([*argv, "--set", "pointavatar:train.nepoch=2"]) == 1
    assert "pointavatar is not an upstream method of this run" in capsys.readouterr().err
    assert not out.exists()
