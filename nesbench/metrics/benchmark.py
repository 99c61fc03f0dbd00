"""Benchmark mode: score every (method, protocol, subject, sequence) of a benchmark and aggregate
sequence -> split/subject -> protocol as the benchmark's calculate_metric.py does (means of sequence-means)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nesbench import __version__
from nesbench.config import Benchmark
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.errors import DataError
from nesbench.fsutil import file_digests, read_json_strict, write_json_atomic, write_text_atomic
from nesbench.metrics.engine import Engine, PredSource, SequenceResult, describe_device
from nesbench.metrics.frames import load_gt_sequence
from nesbench.metrics.gt_cache import gt_cache_from
from nesbench.metrics.predictions import prediction_source
from nesbench.metrics.registry import get_scorer
from nesbench.metrics.report import markdown_table
from nesbench.metrics.score import sequence_record
from nesbench.metrics.stats import StatsConfig
from nesbench.metrics.summary_stats import add_entry_statistics, comparisons, seed_summary
from nesbench.names import check_names
from nesbench.paths import REPO_ROOT

FORMAT = "nesbench-results/1"
CSV_METRICS = ("l1", "mae", "mse", "psnr", "ssim", "lpips", "keypoint", "keypoint_dlib")


def harness_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def unavailable_warnings(unavailable: dict[str, dict[str, str]]) -> list[str]:
    """One console line per distinct reason, naming the metrics and scorers it applies to (summary.json keeps the
    per-scorer detail), e.g. ``warning: lpips unavailable (unified, renderme-imavatar): LPIPS needs ...``."""
    by_reason: dict[str, dict[str, list[str]]] = {}
    for scorer, metrics in unavailable.items():
        for metric, reason in metrics.items():
            by_reason.setdefault(reason, {}).setdefault(metric, []).append(scorer)
    lines = []
    for reason, metrics in by_reason.items():
        text = reason.removeprefix("unavailable: ")
        what = "; ".join(f"{m} unavailable ({', '.join(scorers)})" for m, scorers in metrics.items())
        lines.append(f"warning: {what}: {text}")
    return lines


def _split_names(items: Iterable[str] | str | None, what: str) -> list[str] | None:
    """A comma list (or list of comma lists) as names checked by the name rule, repeats removed, or None."""
    if items is None:
        return None
    if isinstance(items, str):
        items = items.split(",")
    out = [x.strip() for i in items for x in str(i).split(",") if x.strip()]
    return check_names(out, what) or None


def _content_files(folder: Path) -> list[list]:
    """[name, content hash] of every regular file in ``folder``: what the results cache is keyed by (a file
    rewritten with the same size and mtime is a new key); FIFOs and devices are listed, never opened."""
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.iterdir() if not p.is_dir())
    return [[p.name, d] for p, d in zip(paths, file_digests(paths), strict=True)]


def _cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def score_benchmark(
    bench: Benchmark,
    runs_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    methods: Iterable[str] | str | None = None,
    protocols: Iterable[str] | str | None = None,
    subjects: Iterable[str] | str | None = None,
    scorers: Iterable[str] | str | None = None,
    device: str = "auto",
    lpips_backbone: str | os.PathLike[str] | None = None,
    progress: bool = True,
    batch_size: int | None = None,
    gt_cache: str | os.PathLike[str] | None = None,
    decode_processes: int | None = None,
    fan_weights: str | os.PathLike[str] | None = None,
    stats: StatsConfig | None = None,
    seeds: list[int] | None = None,
) -> dict[str, Any]:
    """Score a benchmark's canonical prediction layout; write frames.csv, summary.json, results.md in out_dir.

    Every expected frame is either scored or listed in ``failures`` with its reason. Per-sequence results are
    cached in out_dir/cache/ and reused only when the prediction and GT files (names and content hashes), the scorer
    versions, the resolution and the LPIPS backbone are unchanged. ``gt_cache``: folder of decoded GT kept
    between runs (default ``$NESBENCH_GT_CACHE``, else none; :mod:`nesbench.metrics.gt_cache`).
    ``decode_processes``: see :class:`~nesbench.metrics.engine.Engine` (None: its default).
    ``stats``: how intervals and comparisons are computed (:mod:`nesbench.metrics.stats`; None: the defaults).
    ``seeds``: the seeds `nesbench run --seeds N` asked for (recorded; ``<method>-seed<k>`` runs are grouped).
    """
    runs = Path(runs_dir)
    out = Path(out_dir)
    root = bench.data_root(data_root)
    if not runs.is_dir():
        raise DataError(
            f"{runs}: runs folder not found; pass --runs with <method>/<protocol>/<subject>/<seq>/rgb/"
        )
    method_list = _split_names(methods, "method") or check_names(
        sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name[0] != "."),
        "method folder",
        f"{runs} (rename the folder, or pass --methods)",
    )
    if not method_list:
        raise DataError(f"{runs}: no method folders; render predictions first (see docs/RESULTS_FORMAT.md)")
    proto_list = [bench.protocol(p) for p in (_split_names(protocols, "protocol") or list(bench.protocols))]
    subject_list = bench.resolve_subjects(_split_names(subjects, "subject or test set"))
    scorer_objs = [
        get_scorer(n, resolution=bench.resolution)
        for n in (_split_names(scorers, "scorer") or bench.scorers or ["unified"])
    ]
    cache = gt_cache_from(gt_cache)  # a bad folder fails here, before the networks load
    engine = Engine(
        scorer_objs,
        device=device,
        lpips_backbone=lpips_backbone,
        missing_lpips="unavailable",
        batch_size=batch_size,
        gt_cache=cache,
        decode_processes=decode_processes,
        fan_weights=fan_weights,
    )
    for line in unavailable_warnings(engine.unavailable):
        print(line, file=sys.stderr)
    for name, rule in engine.face_drop_rule.items():
        if rule != "applied":
            print(f"warning: {name}: the benchmark's no-face frame drop rule is {rule}", file=sys.stderr)
    lpips_info = engine.lpips_provenance()
    scorer_state = {
        "scorers": {s.name: s.version for s in scorer_objs},
        "resolution": bench.resolution,
        "lpips": lpips_info["sha256"] if lpips_info else None,
        "unavailable": engine.unavailable,
        "face_drop_rule": engine.face_drop_rule,
    }

    records: dict[
        tuple[str, str, str, str, str], dict[str, Any]
    ] = {}  # (method, protocol, scorer, subj, seq)
    jobs = [(p, subj, seq) for p in proto_list for subj in subject_list for seq in p.test_sequences]
    bar = tqdm(jobs, desc="scoring sequences", disable=not progress, file=sys.stderr)
    with engine:  # stops decode worker processes, if any, when done
        for proto, subj, seq in bar:
            gt_dir = sequence_dir(root, bench.testset_of(subj), subj, seq)
            try:
                gt = load_gt_sequence(gt_dir)
            except DataError as exc:
                for m in method_list:
                    for s in scorer_objs:
                        records[m, proto.name, s.name, subj, seq] = _failed_sequence(s, str(exc))
                continue
            gt_stat = {d: _content_files(gt_dir / d) for d in ("image", "mask", "semantic")}
            gt_stat["json"] = _content_files(gt_dir)
            todo: dict[str, PredSource] = {}
            meta: dict[str, tuple[Path, int | None, str]] = {}
            for m in method_list:
                src, folder, epoch = prediction_source(
                    prediction_dir(runs, m, proto.name, subj, seq), gt.expected
                )
                key = _cache_key(
                    {"state": scorer_state, "gt": gt_stat, "pred": _content_files(folder), "err": src.error}
                )
                cache_file = out / "cache" / m / proto.name / subj / f"{seq}.json"
                cached = _read_cache(cache_file, key, [s.name for s in scorer_objs])
                if cached is not None:
                    for s in scorer_objs:
                        records[m, proto.name, s.name, subj, seq] = cached[s.name]
                    continue
                todo[m] = src
                meta[m] = (cache_file, epoch, key)
            if not todo:
                continue
            results = engine.score(gt.dir, todo)
            for m, (cache_file, epoch, key) in meta.items():
                per_scorer = {}
                for s in scorer_objs:
                    rec = sequence_record(
                        s, results[m, s.name], engine.unavailable[s.name], engine.face_drop_rule.get(s.name)
                    )
                    rec["epoch"] = epoch
                    per_scorer[s.name] = rec
                    records[m, proto.name, s.name, subj, seq] = rec
                write_json_atomic(cache_file, {"key": key, "records": per_scorer})

    summary = _summarise(bench, method_list, proto_list, subject_list, scorer_objs, records, stats)
    summary["seeds"] = seed_summary(summary["entries"], method_list, seeds)
    summary["provenance"] = {
        "benchmark": bench.name,
        "benchmark_title": bench.title,
        "config_path": str(bench.source),
        "config_hash": bench.config_hash,
        "scorers": {s.name: s.version for s in scorer_objs},
        "harness_version": __version__,
        "harness_commit": harness_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": describe_device(engine.device),
        "resolution": bench.resolution,
        "data_root": str(root),
        "runs_dir": str(runs.resolve()),
        "lpips_backbone": lpips_info,
        "face_drop_rule": engine.face_drop_rule,
    }
    if engine.dlib is not None:
        summary["provenance"]["keypoint_dlib_model"] = engine.dlib.provenance()
    summary = {"format": FORMAT, "provenance": summary.pop("provenance"), **summary}
    write_text_atomic(out / "frames.csv", _frames_csv(records, scorer_objs))
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "results.md", markdown_table(summary))
    return summary


def incomplete_reason(summary: dict[str, Any], out_dir: str | os.PathLike[str] | None = None) -> str | None:
    """One line saying why a scored benchmark is incomplete, or None when every expected frame was scored.

    Incomplete: no ground truth at all (nothing expected), any expected frame failed, or any ground-truth sequence
    could not be read. ``out_dir`` (where summary.json/frames.csv were written) makes the pointer a full path.
    Callers decide what to do with it (`nesbench metrics` exits 1 unless --allow-incomplete).
    """
    c = summary["counts"]
    n_exp, n_sc, n_fail = c["n_expected"], c["n_scored"], c["n_failed"]
    n_seq, n_seq_fail = c.get("n_gt_sequences", 0), c.get("n_gt_sequences_failed", 0)
    root = summary.get("provenance", {}).get("data_root", "?")
    out = Path(out_dir) if out_dir is not None else None
    where = (
        f"{out / 'summary.json'} 'failures' and {out / 'frames.csv'}"
        if out
        else "summary.json 'failures' and frames.csv"
    )
    if n_exp == 0:
        first = next((f["reason"] for f in summary.get("failures", []) if f.get("frame") is None), None)
        what = (
            f"none of the {n_seq} ground-truth sequences could be read (first: {first})"
            if n_seq_fail
            else "no ground-truth frames are expected (no subjects or test sequences selected)"
        )
        return (
            f"no ground truth under data root {root}: {what}; nothing was scored. Check the data with "
            f"`nesbench data check {root}`, pass --data DIR to point at the dataset, or see "
            "benchmark_data/README.md"
        )
    if n_fail == 0 and n_seq_fail == 0:
        return None
    parts = []
    if n_fail:
        parts.append(f"{n_fail} of {n_exp} expected frames failed")
    if n_seq_fail:
        parts.append(
            f"{n_seq_fail} of {n_seq} ground-truth sequences could not be read under {root} "
            "(their frames are not even counted as expected)"
        )
    return (
        f"incomplete results: {' and '.join(parts)}; the means cover only the {n_sc} scored frames; "
        f"see {where} for every reason"
    )


def _failed_sequence(scorer: Any, reason: str) -> dict[str, Any]:
    rec = sequence_record(scorer, SequenceResult([]), {})
    rec["sequence_error"] = reason
    rec["epoch"] = None
    return rec


def _read_cache(path: Path, key: str, scorers: list[str]) -> dict[str, Any] | None:
    """The cached records of one sequence when the entry is intact and its key matches, else None (re-scored)."""
    try:
        data = read_json_strict(path)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("records"), dict):
        return None
    records = data["records"]
    fields = {"n_expected": int, "n_scored": int, "failed": dict, "frames": dict, "mean": dict}
    for name in scorers:
        rec = records.get(name)
        if not isinstance(rec, dict) or not all(isinstance(rec.get(f), t) for f, t in fields.items()):
            return None
    return records


def _summarise(bench, methods, protocols, subjects, scorers, records, stats=None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    totals = {"n_expected": 0, "n_scored": 0, "n_failed": 0, "n_dropped": 0}
    gt_sequences: set[tuple[str, str]] = set()
    gt_failed: set[tuple[str, str]] = set()

    def entry(level, m, p, s, split, subj, seq, recs, extra=None) -> dict[str, Any]:
        n_exp = sum(r["n_expected"] for r in recs)
        n_sc = sum(r["n_scored"] for r in recs)
        n_drop = sum(r.get("n_dropped", 0) for r in recs)
        n_seq_err = sum(1 for r in recs if r.get("sequence_error"))
        scored = [r for r in recs if r["n_scored"] > 0]
        e = {
            "method": m,
            "protocol": p,
            "scorer": s.name,
            "level": level,
            "split": split,
            "subject": subj,
            "sequence": seq,
            **(extra or {}),
            "n_expected": n_exp,
            "n_scored": n_sc,
            "n_failed": n_exp - n_sc - n_drop,
            "n_dropped": n_drop,
            "n_sequences": len(scored),
            "n_sequences_failed": n_seq_err,
            "metrics": {n: _mean([r["mean"].get(n) for r in scored]) for n in s.metrics},
        }
        for n in recs[0].get("unavailable", {}) if recs else ():
            e["metrics"][n] = None
        no_face = sum((Counter(r.get("no_face", {})) for r in recs), Counter())
        if no_face:
            e["no_face"] = dict(no_face)  # metric -> frames without a detected face
        return e

    for m in methods:
        for p in protocols:
            for s in scorers:
                for subj in subjects:
                    for seq in p.test_sequences:
                        r = records[m, p.name, s.name, subj, seq]
                        for k, reason in r["failed"].items():
                            failures.append(_failure(m, p.name, s.name, subj, seq, int(k), reason))
                        gt_sequences.add((subj, seq))
                        if r.get("sequence_error"):
                            failures.append(_failure(m, p.name, s.name, subj, seq, None, r["sequence_error"]))
                            gt_failed.add((subj, seq))
                        totals["n_expected"] += r["n_expected"]
                        totals["n_scored"] += r["n_scored"]
                        totals["n_dropped"] += r.get("n_dropped", 0)
                for split in p.splits:
                    all_recs = []
                    for subj in subjects:
                        subj_recs = [records[m, p.name, s.name, subj, seq] for seq in split.sequences]
                        for seq, r in zip(split.sequences, subj_recs, strict=True):
                            entries.append(
                                entry(
                                    "sequence",
                                    m,
                                    p.name,
                                    s,
                                    split.name,
                                    subj,
                                    seq,
                                    [r],
                                    {"epoch": r.get("epoch")},
                                )
                            )
                        entries.append(entry("subject", m, p.name, s, split.name, subj, None, subj_recs))
                        all_recs += subj_recs
                    entries.append(entry("split", m, p.name, s, split.name, None, None, all_recs))
                proto_recs = [
                    records[m, p.name, s.name, subj, seq] for subj in subjects for seq in p.test_sequences
                ]
                entries.append(entry("protocol", m, p.name, s, None, None, None, proto_recs))
    totals["n_failed"] = totals["n_expected"] - totals["n_scored"] - totals["n_dropped"]
    # a sequence whose GT could not be read has n_expected 0: count it here so that it cannot hide
    totals["n_gt_sequences"] = len(gt_sequences)
    totals["n_gt_sequences_failed"] = len(gt_failed)
    unavailable: dict[str, dict[str, str]] = {}
    for (_, _, sname, _, _), r in records.items():
        if r.get("unavailable"):
            unavailable.setdefault(sname, {}).update(r["unavailable"])
    cfg = stats or StatsConfig()
    add_entry_statistics(entries, cfg)
    directions = {s.name: {n: ms.higher_is_better for n, ms in s.metrics.items()} for s in scorers}
    return {
        "metrics": {
            s.name: {
                n: {
                    "higher_is_better": ms.higher_is_better,
                    "aggregation": ms.aggregation,
                    "description": ms.description,
                }
                for n, ms in s.metrics.items()
            }
            for s in scorers
        },
        "unavailable": unavailable,
        "counts": totals,
        "entries": entries,
        "statistics": cfg.to_dict(),
        "comparisons": comparisons(entries, list(methods), directions, cfg),
        "failures": failures,
    }


def _failure(m: str, p: str, s: str, subj: str, seq: str, frame: int | None, reason: str) -> dict[str, Any]:
    return {
        "method": m,
        "protocol": p,
        "scorer": s,
        "subject": subj,
        "sequence": seq,
        "frame": frame,
        "reason": reason,
    }


def _frames_csv(records: dict, scorers: list) -> str:
    versions = {s.name: s.version for s in scorers}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "method",
            "protocol",
            "scorer",
            "scorer_version",
            "subject",
            "sequence",
            "frame",
            "status",
            "reason",
            *CSV_METRICS,
        ]
    )
    for (m, p, s, subj, seq), r in sorted(records.items()):
        rows = {int(k): ("ok", "", v) for k, v in r["frames"].items()}
        rows.update({int(k): ("failed", reason, {}) for k, reason in r["failed"].items()})
        rows.update({int(k): ("dropped", reason, {}) for k, reason in r.get("dropped", {}).items()})
        for k in sorted(rows):
            status, reason, vals = rows[k]
            w.writerow(
                [
                    m,
                    p,
                    s,
                    versions[s],
                    subj,
                    seq,
                    k,
                    status,
                    reason,
                    *("" if vals.get(n) is None else repr(float(vals[n])) for n in CSV_METRICS),
                ]
            )
    return buf.getvalue()
