"""Intervals and paired comparisons in benchmark mode's summary.json, results.md (issue 19)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nesbench.config import Benchmark, Protocol, Split
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.metrics.benchmark_mode import score_benchmark
from nesbench.metrics.stats import StatsConfig, describe

SUBJECTS = ("0001", "0002", "0003")
SEQS = ("e_1", "e_2", "e_3")


def _bench(root) -> Benchmark:
    proto = Protocol("p", "P", ("e_0",), (Split("a", ("e_1", "e_2")), Split("b", ("e_3",))))
    return Benchmark(
        name="tiny",
        title="Tiny",
        resolution=32,
        testsets={"testset1": SUBJECTS},
        sequences=("e_0", *SEQS),
        protocols={"p": proto},
        methods=(),
        scorers=("unified",),
        data_root_spec=str(root),
        config_hash="abc",
    )


def _layout(tmp, mx):
    data, runs = tmp / "data", tmp / "runs"
    rng = np.random.default_rng(0)
    for si, subj in enumerate(SUBJECTS):
        for qi, seq in enumerate(SEQS):
            imgs = mx.make_sequence(sequence_dir(data, "testset1", subj, seq), n=2, res=32, seed=10 * si + qi)
            for k, img in imgs.items():
                mx.write_png(prediction_dir(runs, "exact", "p", subj, seq) / f"{k}.png", img)
                for method, sd in (("near", 4), ("far", 12)):
                    if (method, subj, seq) == ("far", "0003", "e_3"):
                        continue
                    noisy = np.clip(img + rng.normal(0, sd, img.shape), 0, 255).astype(np.uint8)
                    mx.write_png(prediction_dir(runs, method, "p", subj, seq) / f"{k}.png", noisy)
    return data, runs


def _entries(summary, **keys):
    return [e for e in summary["entries"] if all(e[k] == v for k, v in keys.items())]


def test_every_aggregate_has_counts_spread_and_a_seeded_interval(tmp_path, mx):
    data, runs = _layout(tmp_path, mx)
    s = score_benchmark(_bench(data), runs, tmp_path / "out", device="cpu", progress=False, scorers="unified")
    assert s["statistics"]["n_resamples"] == 2000 and s["statistics"]["comparison_test"] == "bootstrap"
    (near,) = _entries(s, method="near", level="protocol")
    seq = {
        (e["subject"], e["sequence"]): e["metrics"]["psnr"]
        for e in _entries(s, method="near", level="sequence")
    }
    st = near["stats"]["psnr"]
    assert (near["n_subjects"], st["n_sequences"], st["n_subjects"], st["n_excluded"]) == (3, 9, 3, 0)
    ref = describe([(k[0], v) for k, v in seq.items()], StatsConfig())
    assert st["ci"] == ref["ci"] and st["std"] == pytest.approx(np.std(list(seq.values()), ddof=1))
    assert st["ci"][0] < near["metrics"]["psnr"] < st["ci"][1]
    (subj,) = _entries(s, method="near", level="subject", split="a", subject="0002")
    assert subj["stats"]["psnr"]["n_sequences"] == 2 and subj["n_subjects"] == 1
    (one,) = _entries(s, method="near", level="subject", split="b", subject="0002")
    assert one["stats"]["psnr"]["ci"] is None and "one sequence" in one["stats"]["psnr"]["note"]
    (far_b,) = _entries(s, method="far", level="split", split="b")
    assert far_b["stats"]["psnr"]["n_sequences"] == 2 and far_b["stats"]["psnr"]["n_excluded"] == 1


def test_paired_comparisons_verdicts_and_strict_json(tmp_path, mx):
    data, runs = _layout(tmp_path, mx)
    out = tmp_path / "out"
    s = score_benchmark(_bench(data), runs, out, device="cpu", progress=False, scorers="unified")
    (c,) = [
        x for x in s["comparisons"] if (x["method_a"], x["method_b"], x["split"]) == ("far", "near", None)
    ] or [
        x
        for x in s["comparisons"]
        if {x["method_a"], x["method_b"]} == {"far", "near"} and x["split"] is None
    ]
    psnr = c["metrics"]["psnr"]
    a_is_near = c["method_a"] == "near"
    assert psnr["n_pairs"] == 8 and psnr["n_excluded"] == 1  # far never rendered 0003/e_3
    assert psnr["verdict"] == ("better" if a_is_near else "worse")
    assert c["metrics"]["l1"]["verdict"] == psnr["verdict"]  # the direction of each metric is respected
    assert psnr["p_adjusted"] >= psnr["p"]
    # what this module adds is strict JSON, whatever the exact-match PSNR of 'exact' is (inf, capped or null)
    json.dumps(
        [s["statistics"], s["comparisons"], s["seeds"], [e.get("stats") for e in s["entries"]]],
        allow_nan=False,
    )
    (exact,) = _entries(s, method="exact", level="protocol")
    finite = exact["metrics"]["psnr"] is not None and np.isfinite(exact["metrics"]["psnr"])
    st = exact["stats"]["psnr"]
    assert (st["n_sequences"], st["n_excluded"]) == ((9, 0) if finite else (0, 9))
    assert finite or "9 missing or non-finite" in st["note"]
    assert exact["stats"]["l1"]["n_sequences"] == 9 and exact["stats"]["l1"]["std"] == 0
    md = (out / "results.md").read_text()
    assert "paired comparisons (unified):" in md and "▲" in md and "±" in md


def test_reruns_give_identical_numbers_and_the_seed_is_configurable(tmp_path, mx):
    data, runs = _layout(tmp_path, mx)
    a = score_benchmark(_bench(data), runs, tmp_path / "o1", device="cpu", progress=False, scorers="unified")
    b = score_benchmark(_bench(data), runs, tmp_path / "o2", device="cpu", progress=False, scorers="unified")
    assert a["entries"] == b["entries"] and a["comparisons"] == b["comparisons"]
    c = score_benchmark(
        _bench(data),
        runs,
        tmp_path / "o3",
        device="cpu",
        progress=False,
        scorers="unified",
        stats=StatsConfig(seed=7, n_resamples=500),
    )
    ci = [e["stats"]["psnr"]["ci"] for e in c["entries"] if e["level"] == "protocol"]
    assert ci != [e["stats"]["psnr"]["ci"] for e in a["entries"] if e["level"] == "protocol"]
    assert c["statistics"]["seed"] == 7 and c["statistics"]["n_resamples"] == 500
