"""The report's uncertainty pieces: ± cells, whisker values and the "who beats whom" matrix per protocol.

Built from summary.json's ``stats``, ``comparisons`` and ``statistics`` (docs/RESULTS_FORMAT.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from nesbench.metrics.spec import MATRIX, METRICS, short_label
from nesbench.metrics.stats import StatsConfig, describe
from nesbench.metrics.summary_stats import SYMBOL, half_width, verdicts

MATRIX_METRICS = MATRIX
LABEL = {n: short_label(n) for n in METRICS}


def plus_minus(entry: dict[str, Any], metric: str, value_text: str) -> str:
    """`` ±x``: half the interval width with as many decimals as ``value_text`` (the printed value), or ''
    when the entry has no interval."""
    hw = half_width(entry, metric)
    if hw is None:
        return ""
    decimals = len(value_text.partition(".")[2]) if "e" not in value_text and "." in value_text else None
    return f" ±{hw:.{decimals}f}" if decimals is not None else f" ±{hw:.2e}"


def whisker(
    sequence_entries: list[dict[str, Any]], metric: str, cfg: StatsConfig
) -> tuple[float, float, float]:
    """(mean, low, high) of a metric over sequence-level entries (one subject), with the summary's bootstrap
    settings; NaN where undefined (the plot leaves the bar or whisker out)."""
    d = describe(((e["subject"], e["metrics"].get(metric)) for e in sequence_entries), cfg)
    nan = float("nan")
    mean = d["mean"] if d["mean"] is not None else nan
    lo, hi = d["ci"] if d["ci"] is not None else (mean, mean)
    return mean, lo, hi


def stats_config(summary: dict[str, Any]) -> StatsConfig:
    """The settings summary.json records (defaults for summaries written before intervals existed)."""
    s = summary.get("statistics") or {}
    keys = ("confidence", "n_resamples", "seed", "alpha", "min_pairs")
    return StatsConfig(**{k: s[k] for k in keys if k in s}, test=s.get("comparison_test", "bootstrap"))


@dataclass
class Matrix:
    """One protocol's pairwise verdicts: ``cells[i][j]`` is row method i against column method j."""

    title: str
    methods: list[str]
    metrics: list[str]
    cells: list[list[dict[str, str]]]

    def markdown(self) -> str:
        rows = [[m, *[c["text"] for c in row]] for m, row in zip(self.methods, self.cells, strict=True)]
        return tabulate(
            rows, headers=["row vs column", *self.methods], tablefmt="github", disable_numparse=True
        )


def _cell(metrics: dict[str, dict], order: list[str]) -> dict[str, str]:
    marks, tips = [], []
    for m in order:
        r = metrics.get(m)
        if r is None or r["diff"] is None:
            marks.append("–")
            continue
        marks.append(SYMBOL[r["verdict"]])
        ci = f" [{r['ci'][0]:+.4g}, {r['ci'][1]:+.4g}]" if r["ci"] else ""
        p = f", p_adj {r['p_adjusted']:.3g}" if r.get("p_adjusted") is not None else ""
        tips.append(f"{LABEL.get(m, m)}: {r['verdict']} (diff {r['diff']:+.4g}{ci}{p}, n={r['n_pairs']})")
    verdict_set = {metrics[m]["verdict"] for m in order if m in metrics}
    wins, losses = "better" in verdict_set, "worse" in verdict_set
    cls = "mixed" if wins and losses else "win" if wins else "loss" if losses else "tie"
    return {"text": "".join(marks), "cls": cls, "title": "; ".join(tips)}


def beats_matrices(summary: dict[str, Any], protocols: list[str], scorer: str) -> list[Matrix]:
    """Per protocol (whole protocol, ``scorer``): who beats whom, one mark per metric in :data:`MATRIX_METRICS`
    order (▲ row better, ▼ worse, = not distinguishable, · too few sequences, – no values)."""
    declared = summary.get("metrics", {}).get(scorer, {})
    out = []
    for p in protocols:
        pairs = verdicts(summary, p, scorer, None)
        if not pairs:
            continue
        methods = list(dict.fromkeys(m for pair in pairs for m in pair))
        order = [
            m
            for m in MATRIX_METRICS
            if m in declared and any(pairs[k].get(m, {}).get("diff") is not None for k in pairs)
        ]
        cells = [
            [
                {"text": "", "cls": "self", "title": ""} if a == b else _cell(pairs.get((a, b), {}), order)
                for b in methods
            ]
            for a in methods
        ]
        title = f"{p} · {scorer} · marks: {' '.join(LABEL.get(m, m) for m in order)}"
        out.append(Matrix(title, methods, order, cells))
    return out


def seed_rows(
    summary: dict[str, Any], protocol: str, scorer: str, fmt: Any
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the seed-spread table (empty rows when no seeds were asked for): per seeded method
    and split, each metric as ``mean ±between-seed sd (seq. between-sequence sd)``; one row per deterministic
    method saying so."""
    seeds = summary.get("seeds") or {}
    if not seeds.get("requested") and not seeds.get("spread"):
        return [], []
    spread = [r for r in seeds.get("spread", []) if (r["protocol"], r["scorer"]) == (protocol, scorer)]
    declared = summary.get("metrics", {}).get(scorer, {})
    metrics = [
        m
        for m in MATRIX_METRICS
        if m in declared and any(r["metrics"].get(m, {}).get("mean") is not None for r in spread)
    ]
    rows = []
    for r in spread:
        cells = []
        for m in metrics:
            x = r["metrics"].get(m, {})
            if x.get("mean") is None:
                cells.append("n/a")
                continue
            sd_seed = "" if x["between_seed_std"] is None else f" ±{fmt(x['between_seed_std'], m)}"
            sd_seq = (
                "" if x["between_sequence_std"] is None else f" (seq. {fmt(x['between_sequence_std'], m)})"
            )
            cells.append(f"{fmt(x['mean'], m)}{sd_seed}{sd_seq}")
        rows.append([r["method"], r["split"] or "all", ",".join(map(str, r["seeds"])), *cells, ""])
    for method, info in seeds.get("methods", {}).items():
        if info.get("deterministic") and seeds.get("requested"):
            rows.append(
                [method, "", "", *["" for _ in metrics], "deterministic: one run stands for every seed"]
            )
    headers = [
        "method",
        "split",
        "seeds",
        *[f"{LABEL.get(m, m)} mean ±seed sd (seq. sd)" for m in metrics],
        "note",
    ]
    return headers, rows


def comparison_rows(
    summary: dict[str, Any], protocol: str, scorer: str, splits: list[str], fmt: Any
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the per-split comparison table: each stored method pair, per split and the whole
    protocol ('all'), per metric the verdict mark and the mean difference (method − vs)."""
    declared = summary.get("metrics", {}).get(scorer, {})
    stored = [c for c in summary.get("comparisons", []) if (c["protocol"], c["scorer"]) == (protocol, scorer)]
    metrics = [
        m
        for m in MATRIX_METRICS
        if m in declared and any(c["metrics"].get(m, {}).get("diff") is not None for c in stored)
    ]
    order = {s: i for i, s in enumerate([*splits, None])}
    rows = []
    for c in sorted(stored, key=lambda c: order.get(c["split"], len(order))):
        cells = []
        for m in metrics:
            r = c["metrics"].get(m)
            ok = r is not None and r["diff"] is not None
            cells.append(
                f"{SYMBOL[r['verdict']]} {'+' if r['diff'] >= 0 else '−'}{fmt(abs(r['diff']), m)}"
                if ok
                else ""
            )
        rows.append([c["split"] or "all", c["method_a"], c["method_b"], *cells])
    return ["split", "method", "vs", *[f"{LABEL.get(m, m)} (method − vs)" for m in metrics]], rows
