"""The statistics behind the error bars, checked against scipy on constructed data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from nesbench.metrics.stats import (
    StatsConfig,
    bootstrap_means,
    compare,
    compare_family,
    describe,
    holm,
)

CFG = StatsConfig()


def _flat(values, subject="s1"):
    return [(subject, float(v)) for v in values]


def test_one_subject_interval_is_scipy_percentile_bootstrap():
    values = np.random.default_rng(3).normal(30.0, 1.5, 12)
    d = describe(_flat(values), CFG)
    ref = sps.bootstrap(
        (values,),
        np.mean,
        n_resamples=CFG.n_resamples,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(CFG.seed),
    )
    assert d["ci"] == pytest.approx([ref.confidence_interval.low, ref.confidence_interval.high], abs=1e-12)
    assert d["std"] == pytest.approx(np.std(values, ddof=1))
    assert d["mean"] == pytest.approx(values.mean())
    assert (d["n_sequences"], d["n_subjects"], d["n_excluded"], d["note"]) == (12, 1, 0, None)


def test_hierarchical_bootstrap_with_one_sequence_per_subject_matches_scipy_on_subjects():
    """With one sequence per subject the two-stage resampling is the ordinary bootstrap over subjects."""
    values = np.random.default_rng(5).normal(0.0, 1.0, 21)
    d = describe([(f"s{i}", v) for i, v in enumerate(values)], StatsConfig(n_resamples=20000))
    ref = sps.bootstrap(
        (values,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(1)
    )
    lo, hi = ref.confidence_interval
    assert d["ci"] == pytest.approx([lo, hi], abs=0.03)  # Monte Carlo error only


def test_hierarchical_interval_is_wider_when_subjects_differ():
    """Sequences of one subject are not independent: a subject effect must widen the interval of the mean."""
    rng = np.random.default_rng(7)
    subject_effect = rng.normal(0.0, 2.0, 10)
    vals = [(f"s{i}", subject_effect[i] + rng.normal(0.0, 0.2)) for i in range(10) for _ in range(6)]
    hier = describe(vals, CFG)["ci"]
    naive = describe([("one", v) for _, v in vals], CFG)["ci"]
    assert hier[1] - hier[0] > 2 * (naive[1] - naive[0])
    mean = np.mean([v for _, v in vals])
    assert hier[0] < mean < hier[1]


def test_hierarchical_resampler_handles_unequal_sequence_counts():
    groups = [np.array([1.0, 1.0, 1.0]), np.array([3.0]), np.array([2.0, 2.0])]
    dist = bootstrap_means(groups, 500, 0)
    assert dist.shape == (500,) and dist.min() >= 1.0 and dist.max() <= 3.0
    # every replicate is a mean of values of whole drawn subjects: all-ones only when subject 0 is drawn 3x
    assert set(np.round(dist, 9)) <= {
        round(x, 9)
        for x in (
            np.mean(np.concatenate([groups[i], groups[j], groups[k]]))
            for i in range(3)
            for j in range(3)
            for k in range(3)
        )
    }


def test_same_seed_same_numbers_other_seed_other_numbers():
    vals = [(f"s{i % 3}", v) for i, v in enumerate(np.random.default_rng(0).normal(size=15))]
    assert describe(vals, CFG) == describe(vals, CFG)
    assert describe(vals, StatsConfig(seed=1))["ci"] != describe(vals, CFG)["ci"]


def test_missing_and_non_finite_values_are_excluded_and_counted():
    d = describe([("a", 1.0), ("a", None), ("a", math.inf), ("a", 3.0), ("a", math.nan)], CFG)
    assert (d["n_sequences"], d["n_excluded"]) == (2, 3)
    assert "3 missing or non-finite" in d["note"]
    json.dumps(d, allow_nan=False)  # strict JSON
    one = describe([("a", 2.0), ("a", None)], CFG)
    assert one["mean"] == 2.0 and one["ci"] is None and "one sequence" in one["note"]
    empty = describe([("a", None)], CFG)
    assert empty["mean"] is None and empty["ci"] is None


def _pair(gap, noise, n=12, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(30.0, 2.0, n)  # sequence difficulty, shared by both methods
    b = {("s1", f"e_{i}"): float(v) for i, v in enumerate(base)}
    a = {k: v + gap + float(rng.normal(0.0, noise)) for k, v in b.items()}
    return a, b


def test_a_small_gap_with_large_per_sequence_noise_is_not_significant():
    a, b = _pair(0.3, 1.0)
    r = compare(a, b, higher_is_better=True, cfg=CFG)
    d = np.array([a[k] - b[k] for k in sorted(a)])
    assert r["diff"] == pytest.approx(d.mean())
    assert r["p_wilcoxon"] == pytest.approx(sps.wilcoxon(d).pvalue)
    assert r["p_wilcoxon"] > 0.05 and r["p_bootstrap"] > 0.05
    assert r["ci"][0] < 0 < r["ci"][1]
    fam = compare_family({"psnr": a}, {"psnr": b}, {"psnr": True}, CFG)
    assert fam["psnr"]["verdict"] == "n.s."


def test_the_same_gap_with_consistent_sequences_is_significant():
    a, b = _pair(0.3, 0.05)
    r = compare(a, b, higher_is_better=True, cfg=CFG)
    d = np.array([a[k] - b[k] for k in sorted(a)])
    assert r["diff"] == pytest.approx(0.3, abs=0.05)
    assert r["p_wilcoxon"] == pytest.approx(sps.wilcoxon(d).pvalue) and r["p_wilcoxon"] < 0.001
    assert r["p_bootstrap"] < 0.01 and r["ci"][0] > 0
    fam = compare_family({"psnr": a, "l1": a}, {"psnr": b, "l1": b}, {"psnr": True, "l1": False}, CFG)
    assert fam["psnr"]["verdict"] == "better"
    # the same values read as an error (lower is better): A is worse
    assert fam["l1"]["verdict"] == "worse"
    wil = compare_family({"psnr": a}, {"psnr": b}, {"psnr": True}, StatsConfig(test="wilcoxon"))
    assert wil["psnr"]["verdict"] == "better" and wil["psnr"]["p"] == wil["psnr"]["p_wilcoxon"]


def test_too_few_pairs_give_no_verdict_and_missing_pairs_are_counted():
    a, b = _pair(0.3, 0.05, n=4)
    b[("s1", "e_99")] = 1.0
    a[("s1", "e_0")] = math.inf
    r = compare_family({"psnr": a}, {"psnr": b}, {"psnr": True}, CFG)["psnr"]
    assert (r["n_pairs"], r["n_excluded"], r["verdict"], r["p_adjusted"]) == (3, 2, "too few", None)
    json.dumps(r, allow_nan=False)


def test_identical_methods_are_not_distinguishable():
    a, _ = _pair(0.0, 0.0)
    r = compare_family({"psnr": a}, {"psnr": dict(a)}, {"psnr": True}, CFG)["psnr"]
    assert (r["diff"], r["p"], r["verdict"]) == (0.0, 1.0, "n.s.")


def test_holm_matches_the_textbook_example():
    # Holm (1979) step-down: sorted p * (m - rank), monotone, capped at 1
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([None, 0.2, None]) == [None, 0.2, None]
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_correction_across_metrics_can_remove_a_borderline_win():
    """p about 0.03 on each of four metrics: significant alone, not after Holm across the four."""
    rng = np.random.default_rng(11)
    a = {("s1", f"e_{i}"): float(v) for i, v in enumerate(rng.normal(0.5, 1.0, 12))}
    b = {k: 0.0 for k in a}
    alone = compare(a, b, True, StatsConfig(test="wilcoxon"))
    assert 0.0125 < alone["p"] < 0.05
    fam = compare_family(
        {m: a for m in "wxyz"},
        {m: b for m in "wxyz"},
        dict.fromkeys("wxyz", True),
        StatsConfig(test="wilcoxon"),
    )
    assert all(r["p_adjusted"] == pytest.approx(min(1, 4 * alone["p"])) for r in fam.values())
    assert {r["verdict"] for r in fam.values()} == {"n.s."}


def test_config_is_validated():
    with pytest.raises(ValueError, match="test must be"):
        StatsConfig(test="t-test")
    with pytest.raises(ValueError, match="n_resamples"):
        StatsConfig(n_resamples=10)
