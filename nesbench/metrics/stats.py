"""Error bars for the result tables: hierarchical bootstrap intervals and paired comparisons between methods.

Pure functions over per-sequence values (one number per (subject, sequence), the benchmark's unit of
aggregation; see docs/METRICS.md "Uncertainty"):

- :func:`describe`: mean, spread over sequence means and a 95% percentile bootstrap interval of the mean that
  resamples subjects, then sequences within each drawn subject. With one subject this is the ordinary bootstrap
  and ``scipy.stats.bootstrap`` does it; with several, a vectorised two-stage resampler does.
- :func:`compare`: method A against method B on the sequences both scored: the mean paired difference, its
  bootstrap interval (same two-stage resampling of the differences), a bootstrap p-value and the Wilcoxon
  signed-rank p-value (``scipy.stats.wilcoxon``); :func:`holm` corrects a family of p-values.

Every resampling starts from ``numpy.random.default_rng(seed)``, so reruns give identical numbers. Values that are
missing or not finite (a failed sequence, an unavailable metric, an infinite PSNR) are excluded and counted.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
N_RESAMPLES = 2000
SEED = 0
ALPHA = 0.05
MIN_PAIRS = 5  # fewer paired sequences than this: no verdict (a bootstrap of 3 values says little)
TESTS = ("bootstrap", "wilcoxon")

Value = tuple[str, float | None]  # (subject, sequence mean)
# scipy >= 1.15 names the generator `rng`; older releases `random_state`
_RNG_KW = "rng" if "rng" in inspect.signature(sps.bootstrap).parameters else "random_state"


@dataclass(frozen=True)
class StatsConfig:
    """How intervals and comparisons are computed (recorded in summary.json 'statistics')."""

    confidence: float = CONFIDENCE
    n_resamples: int = N_RESAMPLES
    seed: int = SEED
    alpha: float = ALPHA
    test: str = "bootstrap"
    min_pairs: int = MIN_PAIRS

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.n_resamples < 100:
            raise ValueError(f"n_resamples must be >= 100, got {self.n_resamples}")
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {', '.join(TESTS)}, got {self.test!r}")
        if self.min_pairs < 2:
            raise ValueError(f"min_pairs must be >= 2, got {self.min_pairs}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": "percentile bootstrap of the mean of sequence means; resample subjects, then sequences "
            "within each drawn subject (docs/METRICS.md)",
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "comparison_test": self.test,
            "correction": "holm (per split, scorer and method pair, across the metrics compared)",
            "alpha": self.alpha,
            "min_pairs": self.min_pairs,
        }


def _finite(values: Iterable[Value]) -> tuple[list[Value], int]:
    kept, excluded = [], 0
    for subject, v in values:
        if v is None or not math.isfinite(v):
            excluded += 1
        else:
            kept.append((subject, float(v)))
    return kept, excluded


def _groups(values: Sequence[Value]) -> list[np.ndarray]:
    by_subject: dict[str, list[float]] = {}
    for subject, v in values:
        by_subject.setdefault(subject, []).append(v)
    return [np.asarray(v, dtype=np.float64) for v in by_subject.values()]


def bootstrap_means(groups: Sequence[np.ndarray], n_resamples: int, seed: int) -> np.ndarray:
    """``n_resamples`` bootstrap replicates of the mean of all values: draw subjects (groups) with replacement,
    then values within each drawn subject with replacement. One group: ``scipy.stats.bootstrap``'s resampling."""
    if len(groups) == 1:
        res = sps.bootstrap(
            (groups[0],),
            np.mean,
            n_resamples=n_resamples,
            method="percentile",
            vectorized=True,
            **{_RNG_KW: np.random.default_rng(seed)},
        )
        return np.asarray(res.bootstrap_distribution, dtype=np.float64)
    rng = np.random.default_rng(seed)
    counts = np.array([len(g) for g in groups])
    width = int(counts.max())
    padded = np.full((len(groups), width), np.nan)
    for i, g in enumerate(groups):
        padded[i, : len(g)] = g
    subj = rng.integers(0, len(groups), size=(n_resamples, len(groups)))  # (B, S) drawn subjects
    n_drawn = counts[subj]  # (B, S) sequences of each drawn subject
    pos = (rng.random((n_resamples, len(groups), width)) * n_drawn[..., None]).astype(np.int64)
    picked = padded[subj[..., None], pos]  # (B, S, W); positions >= the subject's count are masked below
    used = np.arange(width)[None, None, :] < n_drawn[..., None]
    return np.where(used, picked, 0.0).sum(axis=(1, 2)) / n_drawn.sum(axis=1)


def _interval(dist: np.ndarray, confidence: float) -> list[float]:
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(dist, [tail, 1 - tail])
    return [float(lo), float(hi)]


def describe(values: Iterable[Value], cfg: StatsConfig = StatsConfig()) -> dict[str, Any]:
    """Counts, spread and the bootstrap interval of the mean of per-sequence values ``(subject, value)``.

    Returns ``n_sequences``, ``n_subjects``, ``n_excluded`` (missing or non-finite values left out), ``mean``,
    ``std`` (sample standard deviation over sequence means), ``ci`` ([low, high] or None) and ``note`` (why
    there is no interval, else None). Every number is finite or None (strict JSON).
    """
    kept, excluded = _finite(values)
    out: dict[str, Any] = {
        "n_sequences": len(kept),
        "n_subjects": len({s for s, _ in kept}),
        "n_excluded": excluded,
        "mean": None,
        "std": None,
        "ci": None,
        "note": None,
    }
    if excluded:
        out["note"] = f"{excluded} missing or non-finite sequence value(s) excluded"
    if not kept:
        return out
    arr = np.array([v for _, v in kept])
    out["mean"] = float(arr.mean())
    if len(kept) < 2:
        out["note"] = _join(out["note"], "one sequence: no spread or interval")
        return out
    out["std"] = float(arr.std(ddof=1))
    dist = bootstrap_means(_groups(kept), cfg.n_resamples, cfg.seed)
    out["ci"] = _interval(dist, cfg.confidence)
    return out


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b


def compare(
    a: dict[tuple[str, str], float | None],
    b: dict[tuple[str, str], float | None],
    higher_is_better: bool,
    cfg: StatsConfig = StatsConfig(),
) -> dict[str, Any]:
    """Method A against method B on the (subject, sequence) keys both scored with a finite value.

    Returns ``n_pairs``, ``n_excluded`` (keys of either method without a finite value in the other or itself),
    ``diff`` (mean of A - B), ``ci`` (bootstrap interval of that mean), ``p_bootstrap`` (two-sided: twice the
    smaller share of replicates on either side of 0, with the +1 correction), ``p_wilcoxon`` (signed-rank test
    of the differences; exact for small samples) and ``p`` (the one ``cfg.test`` selects). :func:`verdict` turns
    a corrected p into better/worse/n.s.
    """
    keys = sorted(set(a) | set(b))
    pairs = [
        (k[0], a[k] - b[k])
        for k in keys
        if a.get(k) is not None and b.get(k) is not None and math.isfinite(a[k]) and math.isfinite(b[k])
    ]
    out: dict[str, Any] = {
        "n_pairs": len(pairs),
        "n_excluded": len(keys) - len(pairs),
        "diff": None,
        "ci": None,
        "p_bootstrap": None,
        "p_wilcoxon": None,
        "p": None,
        "higher_is_better": higher_is_better,
    }
    if not pairs:
        return out
    d = np.array([x for _, x in pairs])
    out["diff"] = float(d.mean())
    if len(pairs) < 2:
        return out
    dist = bootstrap_means(_groups(pairs), cfg.n_resamples, cfg.seed)
    out["ci"] = _interval(dist, cfg.confidence)
    if np.all(d == 0):
        out["p_bootstrap"] = out["p_wilcoxon"] = 1.0
    else:
        tail = min(np.count_nonzero(dist <= 0), np.count_nonzero(dist >= 0))
        out["p_bootstrap"] = min(1.0, 2 * (tail + 1) / (len(dist) + 1))
        out["p_wilcoxon"] = float(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    out["p"] = out["p_bootstrap"] if cfg.test == "bootstrap" else out["p_wilcoxon"]
    return out


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and is not counted in the family)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    order = sorted(idx, key=lambda i: pvalues[i])
    adjusted: list[float | None] = [None] * len(pvalues)
    running, m = 0.0, len(order)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        adjusted[i] = running
    return adjusted


def verdict(comparison: dict[str, Any], p_adjusted: float | None, cfg: StatsConfig = StatsConfig()) -> str:
    """``better`` / ``worse`` (A than B, in the metric's direction), ``n.s.`` (not distinguishable at ``alpha``
    after correction), ``too few`` (fewer than ``min_pairs`` paired sequences) or ``n/a`` (no paired values)."""
    if comparison["diff"] is None or comparison["n_pairs"] == 0:
        return "n/a"
    if comparison["n_pairs"] < cfg.min_pairs or p_adjusted is None:
        return "too few"
    if p_adjusted >= cfg.alpha or comparison["diff"] == 0:
        return "n.s."
    a_higher = comparison["diff"] > 0
    return "better" if a_higher == comparison["higher_is_better"] else "worse"


def compare_family(
    a: dict[str, dict[tuple[str, str], float | None]],
    b: dict[str, dict[tuple[str, str], float | None]],
    directions: dict[str, bool | None],
    cfg: StatsConfig = StatsConfig(),
) -> dict[str, dict[str, Any]]:
    """Compare A and B on every metric with a direction; Holm-correct across those metrics; add ``p_adjusted``
    and ``verdict`` to each. ``a``/``b``: metric -> {(subject, sequence): value}."""
    metrics = [m for m, hib in directions.items() if hib is not None and m in a and m in b]
    results = {m: compare(a[m], b[m], bool(directions[m]), cfg) for m in metrics}
    tested = [m for m in metrics if results[m]["n_pairs"] >= cfg.min_pairs]
    adjusted = holm([results[m]["p"] for m in tested])
    for m in metrics:
        p_adj = adjusted[tested.index(m)] if m in tested else None
        results[m]["p_adjusted"] = p_adj
        results[m]["verdict"] = verdict(results[m], p_adj, cfg)
    return results
