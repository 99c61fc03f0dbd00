"""`nesbench run --seeds N`: seeded runs as separate results, their spread, and deterministic methods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nesbench.config import load_benchmark
from nesbench.errors import ConfigError
from nesbench.pipeline.plan import load_plan, make_plan
from nesbench.pipeline.run import RunOptions, run_pipeline

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeded-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("NESBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "nesbench-cache"))
    mp.syspath_prepend(str(PLUGINS))
    mp.setenv("PYTHONPATH", str(PLUGINS))
    mp.setenv("NESBENCH_METHODS", "seeded-mean=nbtest_seeded_method:SPEC")
    try:
        run_pipeline(
            RunOptions(
                benchmark="synthetic_tiny",
                out=out,
                methods=["seeded-mean", "mean-image"],
                protocols=["expression"],
                scorers=["unified"],
                seeds=3,
            )
        )
    finally:
        mp.undo()
    return out


def test_each_seed_is_a_separate_run_and_deterministic_methods_run_once(seeded_run):
    assert sorted(p.name for p in (seeded_run / "runs").iterdir()) == [
        "mean-image",
        "seeded-mean-seed0",
        "seeded-mean-seed1",
        "seeded-mean-seed2",
    ]
    assert load_plan(seeded_run).seeds == (0, 1, 2)
    info = json.loads((seeded_run / "runs/seeded-mean-seed2/expression/9001/method_info.json").read_text())
    assert (info["method"], info["seed"]) == ("seeded-mean", 2)
    summary = json.loads((seeded_run / "summary.json").read_text())
    assert {e["method"] for e in summary["entries"]} == {
        "mean-image",
        "seeded-mean-seed0",
        "seeded-mean-seed1",
        "seeded-mean-seed2",
    }
    methods = summary["seeds"]["methods"]
    assert summary["seeds"]["requested"] == [0, 1, 2]
    assert methods["seeded-mean"] == {
        "deterministic": False,
        "seeds": [0, 1, 2],
        "runs": ["seeded-mean-seed0", "seeded-mean-seed1", "seeded-mean-seed2"],
    }
    assert methods["mean-image"]["deterministic"] is True and "deterministic" in methods["mean-image"]["note"]


def test_between_seed_spread_is_the_sd_of_the_seed_means(seeded_run):
    summary = json.loads((seeded_run / "summary.json").read_text())
    (row,) = [r for r in summary["seeds"]["spread"] if r["split"] is None]
    assert (row["method"], row["protocol"], row["seeds"]) == ("seeded-mean", "expression", [0, 1, 2])
    psnr = row["metrics"]["psnr"]
    per_seed = [
        e["metrics"]["psnr"]
        for k in range(3)
        for e in summary["entries"]
        if e["method"] == f"seeded-mean-seed{k}" and e["level"] == "protocol"
    ]
    assert psnr["seed_means"] == per_seed and len(set(per_seed)) == 3  # noise grows with the seed
    assert (
        psnr["between_seed_std"] == pytest.approx(np.std(per_seed, ddof=1)) and psnr["between_seed_std"] > 0
    )
    seq_sd = [
        e["stats"]["psnr"]["std"]
        for e in summary["entries"]
        if e["method"].startswith("seeded-mean-seed") and e["level"] == "protocol"
    ]
    assert psnr["between_sequence_std"] == pytest.approx(np.mean(seq_sd))


def test_seeds_of_one_method_are_not_compared_with_each_other(seeded_run):
    summary = json.loads((seeded_run / "summary.json").read_text())
    pairs = {(c["method_a"], c["method_b"]) for c in summary["comparisons"]}
    assert pairs == {(f"seeded-mean-seed{k}", "mean-image") for k in range(3)}
    # the noisier the seed, the clearer the loss against the clean mean image (6 sequences, whole protocol)
    (worst,) = [
        c for c in summary["comparisons"] if c["method_a"] == "seeded-mean-seed2" and c["split"] is None
    ]
    assert worst["metrics"]["psnr"]["verdict"] == "worse" and worst["metrics"]["psnr"]["diff"] < 0


def test_report_and_results_show_the_seed_spread(seeded_run):
    md = (seeded_run / "results.md").read_text()
    assert "training-seed spread (unified; seeds [0, 1, 2])" in md
    assert "deterministic (one run stands for every seed): mean-image" in md
    html = (seeded_run / "report.html").read_text()
    assert "Training-seed spread" in html and "expression · unified · seed spread" in html
    assert "deterministic: one run stands for every seed" in html


def test_a_resumed_run_must_ask_for_the_same_seeds(seeded_run, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("NESBENCH_METHODS", "seeded-mean=nbtest_seeded_method:SPEC")
    with pytest.raises(ConfigError, match=r"another plan \(seeds: \[0, 1, 2\] there, None now"):
        run_pipeline(
            RunOptions(
                benchmark="synthetic_tiny",
                out=seeded_run,
                methods=["seeded-mean", "mean-image"],
                protocols=["expression"],
                scorers=["unified"],
            )
        )


def test_seeds_are_validated_and_upstream_methods_get_their_seed(tmp_path, monkeypatch):
    bench = load_benchmark("synthetic_tiny")
    with pytest.raises(ConfigError, match="--seeds must be a positive"):
        make_plan(bench, tmp_path, tmp_path, ["mean-image"], seeds=0)
    plan = make_plan(bench, tmp_path, tmp_path, ["mean-image"], seeds=1)
    assert plan.seeds == () and "seeds" not in plan.to_dict() and plan.run_names == ["mean-image"]
    plan = make_plan(bench, tmp_path, tmp_path, ["imavatar", "mean-image"], protocols=["speech"], seeds=2)
    assert plan.run_names == ["imavatar-seed0", "imavatar-seed1", "mean-image"]
    jobs = plan.jobs(bench)
    assert [(j.key, j.seed) for j in jobs] == [
        ("imavatar-seed0/speech/9001", 0),
        ("imavatar-seed1/speech/9001", 1),
        ("mean-image/speech/9001", None),
    ]
    assert jobs[1].work_dir == tmp_path.resolve() / "work" / "imavatar-seed1" / "speech" / "9001"
    # the adapter hands the seed to the upstream job (its own conf, results folder and $NESBENCH_SEED)
    from nesbench.methods.upstream_methods import IMavatarMethod
    from nesbench.upstream import jobs as upstream_jobs

    seen = {}
    monkeypatch.setattr(upstream_jobs, "make_job", lambda *a, **kw: seen.update(kw))
    IMavatarMethod()._job(jobs[1])
    assert seen["seed"] == 1 and seen["runs"] == plan.runs_dir
