"""The results report: report.md and a self-contained report.html (inline CSS, images as data URIs).

Built only from summary.json (docs/RESULTS_FORMAT.md), the benchmark config and the images on disk, so it can be
regenerated at any time with ``nesbench report RUN_DIR``.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from tabulate import tabulate

from nesbench.config import Benchmark
from nesbench.data.layout import frame_files, prediction_dir, sequence_dir
from nesbench.errors import DataError, NesbenchError
from nesbench.fsutil import dumps_strict, read_json_strict, write_text_atomic
from nesbench.metrics.images import FrameError, read_rgb
from nesbench.metrics.psnr import PSNR_CAP_DB
from nesbench.metrics.results_md import na_cell
from nesbench.metrics.spec import METRICS, ORDER, PUBLISHED_COMPARED, format_value, label
from nesbench.report.stats import (
    beats_matrices,
    comparison_rows,
    plus_minus,
    seed_rows,
    stats_config,
    whisker,
)
from nesbench.upstream.run_settings import SETTINGS_HEADERS, settings_rows

METRIC_ORDER = ORDER
METRIC_LABEL = {n: label(n) for n in METRICS}
GRID_FRAMES = 2
MATRIX_NOTE = (
    "Row method against column method over the whole protocol, paired on the same sequences; one mark per metric "
    "in the order given: ▲ row better, ▼ row worse, = not distinguishable, · too few paired sequences, "
    "– no values."
)

SEED_NOTE = (
    "Each seeded method ran once per seed (`nesbench run --seeds N`, separate results <method>-seed<k>): mean over "
    "seeds ± the between-seed standard deviation of the mean, next to the between-sequence standard deviation "
    "(seq.) averaged over the seeds."
)


def _interval_note(summary: dict) -> str:
    s = summary.get("statistics")
    if not s:
        return ""
    return (
        f"± is half the width of the {s['confidence']:.0%} bootstrap interval of the mean (subjects, then "
        f"sequences resampled; {s['n_resamples']} resamples, seed {s['seed']})."
    )


def _verdict_note(summary: dict) -> str:
    s = summary.get("statistics")
    if not s:
        return ""
    return (
        f"Verdicts: paired {s['comparison_test']} test on sequence means, Holm-corrected across metrics, alpha "
        f"{s['alpha']}, at least {s['min_pairs']} paired sequences (docs/METRICS.md)."
    )


@dataclass
class Table:
    """A table whose cells are plain strings; ``bold`` marks (row, col) cells holding the best value."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]]
    n_keys: int = 1

    def markdown(self) -> str:
        rows = [
            [f"**{c}**" if (i, j) in self.bold else c for j, c in enumerate(r)]
            for i, r in enumerate(self.rows)
        ]
        return tabulate(rows, headers=self.headers, tablefmt="github", disable_numparse=True)


def _fmt(v: float | None, metric: str) -> str:
    return format_value(v, metric, small_as_exponent=True)


def _metric_columns(summary: dict, scorer: str) -> list[str]:
    declared = summary.get("metrics", {}).get(scorer, {})
    return [m for m in METRIC_ORDER if m in declared] + [m for m in declared if m not in METRIC_ORDER]


def _arrow(summary: dict, scorer: str, metric: str) -> str:
    hib = summary.get("metrics", {}).get(scorer, {}).get(metric, {}).get("higher_is_better")
    return "↑" if hib else "↓" if hib is not None else ""


def _entries(summary: dict, **match: Any) -> list[dict]:
    return [e for e in summary.get("entries", []) if all(e.get(k) == v for k, v in match.items())]


def _table(
    summary: dict,
    scorer: str,
    title: str,
    key_headers: list[str],
    items: list[tuple[list[str], dict]],
) -> Table:
    """Rows of (key cells ending with the method, entry). The best value per metric is bold, compared among the
    methods whose other key cells are equal (same split, subject, ...) and only among complete entries: a method
    with a failed frame or an unreadable sequence is never marked best (its mean covers fewer frames)."""
    metrics = _metric_columns(summary, scorer)
    headers = (
        key_headers + [f"{METRIC_LABEL.get(m, m)} {_arrow(summary, scorer, m)}" for m in metrics] + ["frames"]
    )
    rows = [
        keys
        + [
            (f := _fmt(v, m)) + plus_minus(e, m, f)
            if (v := e["metrics"].get(m)) is not None
            else na_cell(summary, scorer, e, m)
            for m in metrics
        ]
        + [f"{e['n_scored']}/{e['n_expected']}"]
        for keys, e in items
    ]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, (keys, _) in enumerate(items):
        groups.setdefault(tuple(keys[:-1]), []).append(i)
    bold: set[tuple[int, int]] = set()
    for idx in groups.values():
        if len(idx) < 2:
            continue
        for j, m in enumerate(metrics):
            hib = summary["metrics"][scorer][m].get("higher_is_better")
            vals = {i: items[i][1]["metrics"].get(m) for i in idx if is_complete(items[i][1])}
            finite = {i: v for i, v in vals.items() if v is not None and not math.isnan(v)}
            if finite and hib is not None:
                best = max(finite.values()) if hib else min(finite.values())
                bold |= {(i, len(key_headers) + j) for i, v in finite.items() if v == best}
    return Table(title, headers, rows, bold, len(key_headers))


def is_complete(entry: dict) -> bool:
    """Whether every expected frame of a summary entry was scored (and no GT sequence of it failed)."""
    return (
        entry.get("n_failed", 0) == 0
        and entry.get("n_sequences_failed", 0) == 0
        and entry.get("n_expected", 0) > 0
    )


def leaderboards(summary: dict, bench: Benchmark) -> list[Table]:
    """Per protocol and scorer: one row per (split, method), plus the protocol mean ('all')."""
    tables = []
    for pname in _ordered_protocols(summary, bench):
        splits = [s.name for s in bench.protocols[pname].splits] if pname in bench.protocols else []
        for scorer in summary.get("metrics", {}):
            items = []
            for split in [*splits, None]:
                level = "split" if split else "protocol"
                for e in sorted(
                    _entries(summary, protocol=pname, scorer=scorer, level=level, split=split),
                    key=lambda e: e["method"],
                ):
                    items.append(([split or "all", e["method"]], e))
            if items:
                tables.append(_table(summary, scorer, f"{pname} · {scorer}", ["split", "method"], items))
    return tables


def _ordered_protocols(summary: dict, bench: Benchmark) -> list[str]:
    present = {e["protocol"] for e in summary.get("entries", [])}
    return [p for p in bench.protocols if p in present] + sorted(present - set(bench.protocols))


def _primary_scorer(summary: dict) -> str:
    scorers = list(summary.get("metrics", {}))
    return "unified" if "unified" in scorers else scorers[0]


def subject_tables(summary: dict, bench: Benchmark) -> list[Table]:
    scorer = _primary_scorer(summary)
    tables = []
    for pname in _ordered_protocols(summary, bench):
        items = [
            ([e["split"], e["subject"], e["method"]], e)
            for e in _entries(summary, protocol=pname, scorer=scorer, level="subject")
        ]
        items.sort(key=lambda it: (it[0][1], it[0][0], it[0][2]))
        if items:
            tables.append(
                _table(
                    summary,
                    scorer,
                    f"{pname} · {scorer} · per subject",
                    ["split", "subject", "method"],
                    items,
                )
            )
    return tables


def sequence_tables(summary: dict, bench: Benchmark) -> list[Table]:
    scorer = _primary_scorer(summary)
    tables = []
    for pname in _ordered_protocols(summary, bench):
        items = [
            ([e["split"], e["subject"], e["sequence"], e["method"]], e)
            for e in _entries(summary, protocol=pname, scorer=scorer, level="sequence")
        ]
        if items:
            tables.append(
                _table(
                    summary,
                    scorer,
                    f"{pname} · {scorer} · per sequence",
                    ["split", "subject", "sequence", "method"],
                    items,
                )
            )
    return tables


UNKNOWN_SCORER = "unknown"


def published_table(summary: dict, bench: Benchmark) -> Table | None:
    """The published numbers next to ours for the same (method, protocol, split, scorer)."""
    if not bench.published:
        return None
    rows, metrics = [], list(PUBLISHED_COMPARED)
    for r in bench.published:
        # The paper does not say how some rows were scored (NeRFace: no released code): ours under the primary scorer
        scorer = (
            _primary_scorer(summary) if r.scorer == UNKNOWN_SCORER and summary.get("metrics") else r.scorer
        )
        ours = _entries(
            summary, method=r.method, protocol=r.protocol, split=r.split, scorer=scorer, level="split"
        )
        mine = ours[0]["metrics"] if ours else {}
        cells = []
        for m in metrics:
            cells.append(
                f"{r.values.get(m, float('nan')):g}"
                + (f" / {_fmt(mine.get(m), m)}" if ours else " / not run")
            )
        shown = r.scorer if scorer == r.scorer else f"{r.scorer} (ours: {scorer})"
        rows.append([r.display, r.protocol, r.split, shown, *cells])
    headers = ["method", "protocol", "split", "scorer"] + [
        f"{METRIC_LABEL[m]} published / ours" for m in metrics
    ]
    return Table(f"Published: {bench.published_source}", headers, rows, set(), 4)


RUN_SETTINGS_NOTE = (
    "What each scored run recorded in its method_info.json (provenance.runs in summary.json): where its conf came "
    "from, the IMavatar flame-distance step filter (threshold, skipped steps), PointAvatar's test-time fitting, and "
    "how many data warnings (frames not numbered 1..N, shape_params/intrinsics differing across sequences) it ran with."
)


def run_settings_table(summary: dict) -> Table | None:
    """The scored runs' recorded settings per (method, protocol) (:mod:`nesbench.upstream.run_settings`)."""
    runs = summary.get("provenance", {}).get("runs")
    if not isinstance(runs, dict) or not runs:
        return None
    return Table("Run settings", list(SETTINGS_HEADERS), settings_rows(runs), set(), 2)


def seed_tables(summary: dict, bench: Benchmark) -> list[Table]:
    """Per protocol (primary scorer): the between-seed spread next to the between-sequence one (`--seeds N`)."""
    scorer = _primary_scorer(summary)
    tables = []
    for pname in _ordered_protocols(summary, bench):
        headers, rows = seed_rows(summary, pname, scorer, _fmt)
        if rows:
            tables.append(Table(f"{pname} · {scorer} · seed spread", headers, rows, set(), 3))
    return tables


def comparison_tables(summary: dict, bench: Benchmark) -> list[Table]:
    """Per protocol (primary scorer): every method pair per split and overall, verdict and difference per metric."""
    scorer = _primary_scorer(summary)
    tables = []
    for pname in _ordered_protocols(summary, bench):
        splits = [s.name for s in bench.protocols[pname].splits] if pname in bench.protocols else []
        headers, rows = comparison_rows(summary, pname, scorer, splits, _fmt)
        if rows:
            tables.append(
                Table(f"{pname} · {scorer} · paired comparisons per split", headers, rows, set(), 3)
            )
    return tables


def counts_table(summary: dict) -> Table:
    rows = []
    for e in sorted(
        _entries(summary, level="protocol"), key=lambda e: (e["method"], e["protocol"], e["scorer"])
    ):
        rows.append(
            [
                e["method"],
                e["protocol"],
                e["scorer"],
                str(e["n_expected"]),
                str(e["n_scored"]),
                str(e["n_failed"]),
            ]
        )
    return Table(
        "Frame counts", ["method", "protocol", "scorer", "expected", "scored", "failed"], rows, set()
    )


def _png_data_uri(img_rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError("could not encode a report image")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def _read(path: Path, size: int) -> np.ndarray:
    """The image at ``path`` as RGB size x size; FrameError naming the file when it cannot be read."""
    img = read_rgb(path)
    return (
        cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA) if img.shape[:2] != (size, size) else img
    )


def failure_tile(size: int, lines: list[str]) -> np.ndarray:
    """A grey size x size tile with a red border and the reason in short lines (what the report shows in place
    of a frame that is missing or cannot be read)."""
    tile = np.full((size, size, 3), 64, np.uint8)
    cv2.rectangle(tile, (1, 1), (size - 2, size - 2), (220, 40, 40), 2)
    y = 24
    for line in lines:
        for start in range(0, max(len(line), 1), 26):
            if y > size - 8:
                return tile
            cv2.putText(
                tile, line[start : start + 26], (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1
            )
            y += 16
    return tile


def _tile(path: Path | None, size: int, what: str, k: int) -> tuple[np.ndarray, str | None]:
    """(image or failure tile, reason or None)."""
    if path is None:
        return failure_tile(size, [f"{what} frame {k}", "missing"]), f"{what} frame {k} missing"
    try:
        return _read(path, size), None
    except (FrameError, OSError) as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return failure_tile(size, [f"{what} frame {k}", "cannot be read:", reason]), f"{path}: {reason}"


def image_grids(summary: dict, bench: Benchmark, size: int = 192) -> list[dict[str, str]]:
    """GT | prediction | |error| heat map for a few frames per (method, protocol): first subject, first test sequence."""
    prov = summary.get("provenance", {})
    data_root, runs = Path(prov.get("data_root", "")), Path(prov.get("runs_dir", ""))
    grids = []
    methods = sorted({e["method"] for e in summary.get("entries", [])})
    for pname in _ordered_protocols(summary, bench):
        seqs = [
            e for e in _entries(summary, protocol=pname, level="sequence", scorer=_primary_scorer(summary))
        ]
        if not seqs:
            continue
        subject, sequence = seqs[0]["subject"], seqs[0]["sequence"]
        if subject not in bench.subjects:
            continue
        gt_frames = frame_files(
            sequence_dir(data_root, bench.testset_of(subject), subject, sequence) / "image"
        )
        ks = list(gt_frames)
        picks = [ks[len(ks) * (i + 1) // (GRID_FRAMES + 1)] for i in range(GRID_FRAMES)] if ks else []
        for method in methods:
            pred_frames = frame_files(prediction_dir(runs, method, pname, subject, sequence))
            for k in picks:
                gt, gt_err = _tile(gt_frames.get(k), size, "GT", k)
                pred, pred_err = _tile(pred_frames.get(k), size, "prediction", k)
                if gt_err or pred_err:
                    heat = failure_tile(size, ["no error map"])
                else:
                    err = np.abs(gt.astype(np.float32) - pred.astype(np.float32)).mean(axis=2)
                    heat = cv2.applyColorMap(np.clip(err * 4, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
                    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
                grid = np.concatenate([gt, pred, heat], axis=1)
                caption = f"{method} · {pname} · subject {subject} · {sequence} · frame {k}  (GT | prediction | |error| x4)"
                failed = "; ".join(r for r in (gt_err, pred_err) if r)
                grids.append(
                    {
                        "caption": caption + (f" — FAILED: {failed}" if failed else ""),
                        "src": _png_data_uri(grid),
                        "failed": bool(failed),
                    }
                )
    return grids


def subject_plot(summary: dict, bench: Benchmark, metric: str = "psnr") -> str | None:
    """Bar chart of a metric per subject and method (primary scorer, each protocol): the mean over the subject's
    test sequences with its bootstrap interval as a whisker; a PNG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scorer = _primary_scorer(summary)
    protocols = _ordered_protocols(summary, bench)
    if not protocols or metric not in summary.get("metrics", {}).get(scorer, {}):
        return None
    cfg = stats_config(summary)
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.5 * len(protocols), 3.4), squeeze=False)
    for ax, pname in zip(axes[0], protocols, strict=True):
        entries = _entries(summary, protocol=pname, scorer=scorer, level="sequence")
        subjects = sorted({e["subject"] for e in entries})
        methods = sorted({e["method"] for e in entries})
        width = 0.8 / max(len(methods), 1)
        for i, m in enumerate(methods):
            bars = np.array(
                [
                    whisker([e for e in entries if e["method"] == m and e["subject"] == s], metric, cfg)
                    for s in subjects
                ]
            ).reshape(-1, 3)
            err = np.nan_to_num(np.abs(bars[:, 1:].T - bars[:, 0]))
            xs = np.arange(len(subjects)) + i * width
            ax.bar(xs, bars[:, 0], width, label=m, yerr=err, capsize=3)
            # a missing value is said, not left as an empty slot; a PSNR at the exact-match cap is labelled
            for x, v in zip(xs, bars[:, 0], strict=True):
                if not np.isfinite(v):
                    ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, color="red", rotation=90)
                elif metric == "psnr" and v >= PSNR_CAP_DB:
                    ax.text(x, v, "cap", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(np.arange(len(subjects)) + width * (len(methods) - 1) / 2, subjects)
        ax.set_title(f"{pname} · {scorer}")
        ax.set_ylabel(
            f"{METRIC_LABEL.get(metric, metric)} {_arrow(summary, scorer, metric)} (mean of sequences)"
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def failed_jobs(run_dir: Path) -> list[tuple[str, str]]:
    """(job, stage: reason) of every failed stage in the run's ledger (none for a folder scored by
    `nesbench metrics`); a corrupt ledger is itself reported as a row."""
    from nesbench.ledger import Ledger

    try:
        records = Ledger(run_dir).records()
    except NesbenchError as exc:
        return [("ledger", str(exc))]
    return [(r.job, f"{r.stage}: {r.reason or 'failed'}") for r in records if r.state == "failed"]


def load_summary(run_dir: Path) -> dict[str, Any]:
    """run_dir/summary.json, checked: DataError naming the file and the fix when it is missing or corrupt."""
    path = Path(run_dir) / "summary.json"
    rescore = (
        f"score the run again (`nesbench metrics --runs RUNS --out {run_dir}`, or re-run `nesbench run`)"
    )
    try:
        summary = read_json_strict(path)
    except FileNotFoundError:
        raise DataError(f"{path}: missing; {rescore}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: corrupt summary ({exc}); {rescore}") from None
    ok = (
        isinstance(summary, dict)
        and isinstance(summary.get("entries"), list)
        and isinstance(summary.get("metrics"), dict)
        and isinstance(summary.get("provenance", {}), dict)
        and all(isinstance(e, dict) and isinstance(e.get("metrics"), dict) for e in summary["entries"])
    )
    if not ok:
        raise DataError(f"{path}: not a NES-Bench summary (see docs/RESULTS_FORMAT.md); {rescore}")
    return summary


def write_report(run_dir: Path, bench: Benchmark, summary: dict | None = None) -> Path:
    """Write run_dir/report.md and run_dir/report.html; returns the HTML path."""
    run_dir = Path(run_dir)
    if summary is None:
        summary = load_summary(run_dir)
    boards = leaderboards(summary, bench)
    subjects = subject_tables(summary, bench)
    sequences = sequence_tables(summary, bench)
    published = published_table(summary, bench)
    settings = run_settings_table(summary)
    counts = counts_table(summary)
    seeds = seed_tables(summary, bench)
    pairs = comparison_tables(summary, bench)
    matrices = beats_matrices(summary, _ordered_protocols(summary, bench), _primary_scorer(summary))
    jobs_failed = failed_jobs(run_dir)
    prov = summary.get("provenance", {})
    unavailable = summary.get("unavailable", {})
    failures = summary.get("failures", [])

    md = [f"# NES-Bench report: {prov.get('benchmark_title', bench.title)}", ""]
    md.append(
        f"Created {prov.get('created', '?')} · harness {prov.get('harness_version', '?')} "
        f"({str(prov.get('harness_commit', '?'))[:12]}) · config hash {prov.get('config_hash', '?')} · "
        f"device {prov.get('device', '?')} · resolution {prov.get('resolution', '?')}"
    )
    if matrices:
        md += ["", "## Who beats whom", "", f"{MATRIX_NOTE} {_verdict_note(summary)}"]
        md += [x for t in matrices for x in ("", f"### {t.title}", "", t.markdown())]
        md += [x for t in pairs for x in ("", f"### {t.title}", "", t.markdown())]
    md += ["", "## Leaderboards", ""] + ([_interval_note(summary), ""] if summary.get("statistics") else [])
    for t in boards:
        md += [f"### {t.title}", "", t.markdown(), ""]
    if seeds:
        md += ["## Training-seed spread", "", SEED_NOTE, ""]
        md += [x for t in seeds for x in (f"### {t.title}", "", t.markdown(), "")]
    if published:
        md += ["## Published numbers side by side", "", published.title, "", published.markdown(), ""]
        md += [f"- {note}" for note in bench.published_inferences] + (
            [""] if bench.published_inferences else []
        )
    if settings:
        md += ["## Run settings", "", RUN_SETTINGS_NOTE, "", settings.markdown(), ""]
    md += ["## Per subject", ""] + [x for t in subjects for x in (f"### {t.title}", "", t.markdown(), "")]
    md += ["## Per sequence", ""] + [x for t in sequences for x in (f"### {t.title}", "", t.markdown(), "")]
    md += ["## Frame counts", "", counts.markdown(), ""]
    if jobs_failed:
        md += [f"## Failed jobs ({len(jobs_failed)})", ""] + [f"- {j}: {r}" for j, r in jobs_failed] + [""]
    if unavailable:
        md += (
            ["## Unavailable metrics", ""]
            + [f"- `{s}` {m}: {r}" for s, ms in unavailable.items() for m, r in ms.items()]
            + [""]
        )
    if failures:
        md += (
            [f"## Failures ({len(failures)})", ""]
            + [
                f"- {f['method']} {f['protocol']} {f['scorer']} {f['subject']} {f['sequence']} frame {f['frame']}: {f['reason']}"
                for f in failures[:200]
            ]
            + [""]
        )
    md += ["## Provenance", "", "```json", dumps_strict(prov), "```", ""]
    write_text_atomic(run_dir / "report.md", "\n".join(md))

    env = Environment(
        loader=PackageLoader("nesbench.report", "templates"), autoescape=select_autoescape(["html"])
    )
    html = env.get_template("report.html.j2").render(
        title=prov.get("benchmark_title", bench.title),
        prov=prov,
        prov_json=dumps_strict(prov),
        boards=boards,
        published=published,
        published_inferences=bench.published_inferences,
        settings=settings,
        settings_note=RUN_SETTINGS_NOTE,
        subjects=subjects,
        sequences=sequences,
        counts=counts,
        matrices=matrices,
        seeds=seeds,
        pairs=pairs,
        seed_note=SEED_NOTE,
        matrix_note=MATRIX_NOTE,
        interval_note=_interval_note(summary),
        verdict_note=_verdict_note(summary),
        plot=subject_plot(summary, bench),
        grids=image_grids(summary, bench),
        unavailable=unavailable,
        failures=failures[:200],
        n_failures=len(failures),
        jobs_failed=jobs_failed,
    )
    out = run_dir / "report.html"
    write_text_atomic(out, html)
    return out
