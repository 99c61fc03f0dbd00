"""The Markdown results table printed and written as results.md (one table per protocol)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

COLUMNS = ("l1", "psnr", "ssim", "lpips", "keypoint", "keypoint_dlib")
DIGITS = {"l1": 4, "psnr": 2, "ssim": 4, "lpips": 4, "keypoint": 2, "keypoint_dlib": 2}


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
                    vals.append(f"{v:.{DIGITS[c]}f}")
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
    unav = summary.get("unavailable") or {}
    if unav:
        lines += ["", "n/a = unavailable:"]
        for s, metrics in unav.items():
            lines += [f"- {s} {m}: {reason}" for m, reason in metrics.items()]
    counts = summary.get("counts", {})
    lines += [
        "",
        f"frames: {counts.get('n_scored')} scored of {counts.get('n_expected')} expected, "
        f"{counts.get('n_failed')} failed; ground-truth sequences: {counts.get('n_gt_sequences_failed', 0)} of "
        f"{counts.get('n_gt_sequences', 0)} unreadable (see summary.json 'failures')",
    ]
    return "\n".join(lines) + "\n"
