"""The Markdown results table printed and written as results.md (one table per protocol)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from nesbench.metrics.spec import HEADLINE, METRICS
from nesbench.metrics.summary_stats import SYMBOL, half_width

COLUMNS = HEADLINE
DIGITS = {n: s.digits for n, s in METRICS.items()}


def short_reason(reason: str) -> str:
    """The gist of an 'unavailable: ...' reason for a table cell (the full text with the fix is listed below)."""
    text = reason.removeprefix("unavailable: ")
    for stop in ("; ", " ("):
        text = text.split(stop, 1)[0]
    return text


def na_cell(
    summary: dict[str, Any], scorer: str, entry: dict[str, Any], metric: str, default: str = "n/a"
) -> str:
    """Why ``metric`` of ``entry`` has no value, for its table cell: 'n/a: <reason>' for an unavailable metric,
    'n/a: no face detected on N/M frames' for a keypoint metric, else ``default``."""
    reason = summary.get("unavailable", {}).get(scorer, {}).get(metric)
    if reason:
        return f"n/a: {short_reason(reason)}"
    no_face = entry.get("no_face", {}).get(metric)
    if no_face:
        return f"n/a: no face detected on {no_face}/{entry['n_scored']} frames"
    return default


def markdown_table(summary: dict[str, Any]) -> str:
    """Rows (method, scorer, split | all) with metric means, direction arrows and scored/expected frames."""
    prov = summary.get("provenance", {})
    lines = [
        f"# {prov.get('benchmark_title', prov.get('benchmark', ''))}",
        "",
        f"config hash {prov.get('config_hash')}, harness {prov.get('harness_version')} @ "
        f"{str(prov.get('harness_commit'))[:12]}, scorers "
        + ", ".join(f"{k} v{v}" for k, v in prov.get("scorers", {}).items())
        + f", device {prov.get('device')}, {prov.get('resolution')}px",
    ]
    directions: dict[str, bool] = {}
    for metrics in summary["metrics"].values():
        for n, spec in metrics.items():
            directions.setdefault(n, spec["higher_is_better"])
    cols = [c for c in COLUMNS if c in directions]
    protocols = dict.fromkeys(e["protocol"] for e in summary["entries"])
    for p in protocols:
        rows = []
        for e in summary["entries"]:
            if e["protocol"] != p or e["level"] not in ("split", "protocol"):
                continue
            vals = []
            for c in cols:
                v = e["metrics"].get(c)
                if c not in e["metrics"]:
                    vals.append("")
                elif v is None:
                    vals.append(na_cell(summary, e["scorer"], e, c, default="-"))
                else:
                    hw = half_width(e, c)
                    pm = f" ±{hw:.{DIGITS[c]}f}" if hw is not None else ""
                    vals.append(f"{v:.{DIGITS[c]}f}{pm}")
            split = e["split"] if e["level"] == "split" else "**all**"
            rows.append([e["method"], e["scorer"], split, *vals, f"{e['n_scored']}/{e['n_expected']}"])
        headers = [
            "method",
            "scorer",
            "split",
            *[f"{c} {'↑' if directions[c] else '↓'}" for c in cols],
            "frames",
        ]
        lines += ["", f"## protocol {p}", "", tabulate(rows, headers=headers, tablefmt="github")]
        lines += comparison_lines(summary, p, cols)
        lines += seed_lines(summary, p, cols)
    unav = summary.get("unavailable") or {}
    if unav:
        lines += ["", "n/a = unavailable:"]
        for s, metrics in unav.items():
            lines += [f"- {s} {m}: {reason}" for m, reason in metrics.items()]
    stats = summary.get("statistics")
    if stats:
        lines += [
            "",
            f"± = half the width of the {stats['confidence']:.0%} bootstrap interval of the mean (subjects, then "
            f"sequences resampled; {stats['n_resamples']} resamples, seed {stats['seed']}); comparisons: paired "
            f"{stats['comparison_test']} test on sequence means, Holm-corrected across metrics, alpha "
            f"{stats['alpha']}: ▲ better, ▼ worse, = not distinguishable, · fewer than {stats['min_pairs']} "
            "paired sequences (docs/METRICS.md)",
        ]
    counts = summary.get("counts", {})
    lines += [
        "",
        f"frames: {counts.get('n_scored')} scored of {counts.get('n_expected')} expected, "
        f"{counts.get('n_failed')} failed; ground-truth sequences: {counts.get('n_gt_sequences_failed', 0)} of "
        f"{counts.get('n_gt_sequences', 0)} unreadable (see summary.json 'failures')",
    ]
    if counts.get("n_dropped"):
        lines.append(
            f"{counts['n_dropped']} frames dropped from every metric by a legacy scorer's rule (renderme-imavatar: "
            "no face found by FAN, as the benchmark's metrics.py); listed in frames.csv as 'dropped'"
        )
    for name, rule in (prov.get("face_drop_rule") or {}).items():
        if rule != "applied":
            lines.append(f"{name}: the benchmark's no-face frame drop rule is {rule}")
    return "\n".join(lines) + "\n"


def primary_scorer(summary: dict[str, Any]) -> str:
    scorers = list(summary.get("metrics", {}))
    return "unified" if "unified" in scorers else scorers[0]


def comparison_lines(summary: dict[str, Any], protocol: str, cols: list[str]) -> list[str]:
    """Markdown: each method against each other method per split (primary scorer): verdict and mean difference."""
    if not summary.get("comparisons"):
        return []
    scorer = primary_scorer(summary)
    splits = list(
        dict.fromkeys(
            e["split"] for e in summary["entries"] if e["protocol"] == protocol and e["level"] == "split"
        )
    )
    rows = []
    for split in [*splits, None]:
        for c in summary["comparisons"]:
            if (c["protocol"], c["scorer"], c["split"]) != (protocol, scorer, split):
                continue
            cells = []
            for m in cols:
                r = c["metrics"].get(m)
                ok = r is not None and r["diff"] is not None
                cells.append(f"{SYMBOL[r['verdict']]} {r['diff']:+.{DIGITS[m]}f}" if ok else "")
            rows.append([split or "**all**", c["method_a"], c["method_b"], *cells])
    used = [j for j in range(len(cols)) if any(r[3 + j] for r in rows)]
    if not rows or not used:
        return []
    rows = [r[:3] + [r[3 + j] for j in used] for r in rows]
    headers = ["split", "method", "vs", *[f"{cols[j]} (method - vs)" for j in used]]
    return ["", f"paired comparisons ({scorer}):", "", tabulate(rows, headers=headers, tablefmt="github")]


def seed_lines(summary: dict[str, Any], protocol: str, cols: list[str]) -> list[str]:
    """Markdown: per seeded method and split (primary scorer), mean over seeds ± between-seed sd and the
    between-sequence sd; deterministic methods named (only when `nesbench run --seeds N` asked for seeds)."""
    seeds = summary.get("seeds") or {}
    if not seeds.get("requested") and not seeds.get("spread"):
        return []
    scorer = primary_scorer(summary)
    rows = []
    for r in seeds.get("spread", []):
        if (r["protocol"], r["scorer"]) != (protocol, scorer):
            continue
        cells = []
        for c in cols:
            x = r["metrics"].get(c) or {}
            if x.get("mean") is None:
                cells.append("")
                continue
            d = DIGITS[c]
            sd = "" if x["between_seed_std"] is None else f" ±{x['between_seed_std']:.{d}f}"
            seq = "" if x["between_sequence_std"] is None else f" (seq. {x['between_sequence_std']:.{d}f})"
            cells.append(f"{x['mean']:.{d}f}{sd}{seq}")
        rows.append([r["method"], r["split"] or "**all**", len(r["seeds"]), *cells])
    det = [m for m, info in seeds.get("methods", {}).items() if info.get("deterministic")]
    asked = f"; seeds {seeds['requested']}" if seeds.get("requested") else ""
    out = ["", f"training-seed spread ({scorer}{asked}):"]
    if rows:
        headers = ["method", "split", "seeds", *[f"{c} mean ±seed sd (seq. sd)" for c in cols]]
        out += ["", tabulate(rows, headers=headers, tablefmt="github")]
    if det and seeds.get("requested"):
        out += ["", f"deterministic (one run stands for every seed): {', '.join(det)}"]
    return out
