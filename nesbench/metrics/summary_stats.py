"""Attach :mod:`nesbench.metrics.stats` to a results summary: per-entry intervals and pairwise comparisons.

Works on the summary's own entries (docs/RESULTS_FORMAT.md): the sequence-level entries hold the per-sequence
means, and every aggregate (subject, split, protocol) is described from the sequences it covers.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from nesbench.errors import ConfigError
from nesbench.methods.spec import parse_run_name
from nesbench.metrics.stats import StatsConfig, compare_family, describe

SeqKey = tuple[str, str]  # (subject, sequence)


def _sequence_values(entries: list[dict[str, Any]]) -> dict[tuple, dict[str, dict[SeqKey, float | None]]]:
    """(method, protocol, scorer, split) -> metric -> {(subject, sequence): sequence mean}."""
    out: dict[tuple, dict[str, dict[SeqKey, float | None]]] = {}
    for e in entries:
        if e["level"] != "sequence":
            continue
        per_metric = out.setdefault((e["method"], e["protocol"], e["scorer"], e["split"]), {})
        for m, v in e["metrics"].items():
            per_metric.setdefault(m, {})[e["subject"], e["sequence"]] = v
    return out


def _covered(
    seqs: dict[tuple, dict[str, dict[SeqKey, float | None]]], entry: dict[str, Any]
) -> dict[str, dict[SeqKey, float | None]]:
    """metric -> the sequence values an aggregate entry covers (its splits, restricted to its subject)."""
    out: dict[str, dict[SeqKey, float | None]] = {}
    for (m, p, s, split), per_metric in seqs.items():
        if (m, p, s) != (entry["method"], entry["protocol"], entry["scorer"]):
            continue
        if entry["split"] is not None and split != entry["split"]:
            continue
        for metric, values in per_metric.items():
            for key, v in values.items():
                if entry["subject"] is None or key[0] == entry["subject"]:
                    out.setdefault(metric, {})[key] = v
    return out


def add_entry_statistics(entries: list[dict[str, Any]], cfg: StatsConfig) -> None:
    """Give every subject/split/protocol entry ``n_subjects`` and ``stats``: metric -> :func:`describe`'s result
    without the mean (the entry's ``metrics`` holds it)."""
    seqs = _sequence_values(entries)
    for e in entries:
        if e["level"] == "sequence":
            continue
        covered = _covered(seqs, e)
        e["n_subjects"] = len({k[0] for values in covered.values() for k in values})
        e["stats"] = {}
        for metric in e["metrics"]:
            d = describe(((k[0], v) for k, v in covered.get(metric, {}).items()), cfg)
            d.pop("mean")
            e["stats"][metric] = d


def comparisons(
    entries: list[dict[str, Any]],
    methods: list[str],
    directions: dict[str, dict[str, bool | None]],
    cfg: StatsConfig,
) -> list[dict[str, Any]]:
    """Every pair of methods on every (protocol, scorer, split | whole protocol), compared on the sequences both
    scored (seeded runs of the same method are not paired); ``directions``: scorer -> metric -> higher_is_better. Verdicts are from ``method_a``'s side."""
    seqs = _sequence_values(entries)
    groups = sorted({(e["protocol"], e["scorer"], e["split"]) for e in entries if e["level"] == "split"})
    protocols = list(dict.fromkeys((e["protocol"], e["scorer"]) for e in entries))
    out = []
    for p, s, split in [*groups, *((p, s, None) for p, s in protocols)]:
        for a, b in combinations(methods, 2):
            if parse_run_name(a)[0] == parse_run_name(b)[0]:
                continue  # seeds of one method: their spread is reported in 'seeds', not as wins
            probe = {"protocol": p, "scorer": s, "split": split, "subject": None}
            va = _covered(seqs, {**probe, "method": a})
            vb = _covered(seqs, {**probe, "method": b})
            if not va or not vb:
                continue
            out.append(
                {
                    "protocol": p,
                    "scorer": s,
                    "split": split,
                    "method_a": a,
                    "method_b": b,
                    "metrics": compare_family(va, vb, directions.get(s, {}), cfg),
                }
            )
    return out


SYMBOL = {"better": "▲", "worse": "▼", "n.s.": "=", "too few": "·", "n/a": ""}
FLIP = {"better": "worse", "worse": "better"}


def half_width(entry: dict[str, Any], metric: str) -> float | None:
    """Half the width of an entry's interval for a metric (what the tables print after ±), or None."""
    ci = (entry.get("stats") or {}).get(metric, {}).get("ci")
    return None if ci is None else (ci[1] - ci[0]) / 2


def verdicts(summary: dict[str, Any], protocol: str, scorer: str, split: str | None) -> dict[tuple, dict]:
    """(method, other) -> metric -> comparison seen from ``method``'s side (both orders of every stored pair)."""
    out: dict[tuple, dict] = {}
    for c in summary.get("comparisons", []):
        if (c["protocol"], c["scorer"], c["split"]) != (protocol, scorer, split):
            continue
        out[c["method_a"], c["method_b"]] = c["metrics"]
        out[c["method_b"], c["method_a"]] = {
            m: {
                **r,
                "diff": None if r["diff"] is None else -r["diff"],
                "ci": None if r["ci"] is None else [-r["ci"][1], -r["ci"][0]],
                "verdict": FLIP.get(r["verdict"], r["verdict"]),
            }
            for m, r in c["metrics"].items()
        }
    return out


def _deterministic(method: str) -> bool | None:
    from nesbench.methods.registry import get_method

    try:
        return get_method(method).deterministic
    except ConfigError:
        return None  # not a registered method (predictions scored from elsewhere)


def _std(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def seed_summary(
    entries: list[dict[str, Any]], run_names: list[str], requested: list[int] | None
) -> dict[str, Any]:
    """summary.json 'seeds': which runs belong to which method and seed, whether each method is deterministic,
    and per method with several seeded runs, protocol, scorer and split (None: the whole protocol) the
    between-seed spread of the mean next to the between-sequence spread (the mean of the runs' ``std``)."""
    groups: dict[str, dict[int | None, str]] = {}
    for name in run_names:
        method, seed = parse_run_name(name)
        groups.setdefault(method, {})[seed] = name
    methods = {}
    for method, runs in groups.items():
        det = _deterministic(method)
        info: dict[str, Any] = {
            "deterministic": det,
            "seeds": sorted(k for k in runs if k is not None) or None,
            "runs": list(runs.values()),
        }
        if det and requested:
            info["note"] = "deterministic: one run stands for every seed (between-seed spread 0)"
        methods[method] = info
    spread = []
    for method, runs in groups.items():
        seeded = {k: name for k, name in runs.items() if k is not None}
        if len(seeded) < 2:
            continue
        by_key: dict[tuple, dict[int, dict]] = {}
        for e in entries:
            if e["method"] in seeded.values() and e["level"] in ("split", "protocol"):
                seed = parse_run_name(e["method"])[1]
                by_key.setdefault((e["protocol"], e["scorer"], e["split"]), {})[seed] = e
        for (p, s, split), per_seed in by_key.items():
            metrics = {}
            for m in next(iter(per_seed.values()))["metrics"]:
                vals = [
                    v
                    for e in per_seed.values()
                    if (v := e["metrics"].get(m)) is not None and math.isfinite(v)
                ]
                seq_sd = [
                    sd
                    for e in per_seed.values()
                    if (sd := (e.get("stats") or {}).get(m, {}).get("std")) is not None
                ]
                metrics[m] = {
                    "n_seeds": len(vals),
                    "seed_means": [
                        None if (v := per_seed[k]["metrics"].get(m)) is None or not math.isfinite(v) else v
                        for k in sorted(per_seed)
                    ],
                    "mean": float(np.mean(vals)) if vals else None,
                    "between_seed_std": _std(vals),
                    "between_sequence_std": float(np.mean(seq_sd)) if seq_sd else None,
                }
            spread.append(
                {
                    "method": method,
                    "protocol": p,
                    "scorer": s,
                    "split": split,
                    "seeds": sorted(per_seed),
                    "metrics": metrics,
                }
            )
    return {"requested": requested, "methods": methods, "spread": spread}
