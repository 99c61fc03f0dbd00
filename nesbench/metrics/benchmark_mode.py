"""Benchmark mode: score every (method, protocol, subject, sequence) of a benchmark and aggregate
sequence -> split/subject -> protocol as the benchmark's calculate_metric.py does (means of sequence-means)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nesbench import __version__
from nesbench.config import Benchmark
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.errors import DataError
from nesbench.log import get_logger
from nesbench.metrics.aggregate import aggregate
from nesbench.metrics.engine import Engine, PredSource, describe_device
from nesbench.metrics.engine.gt_cache import gt_cache_from
from nesbench.metrics.engine.memory import reuse_freed_memory
from nesbench.metrics.frames import load_gt_sequence
from nesbench.metrics.options import ScoringOptions
from nesbench.metrics.predictions import prediction_source
from nesbench.metrics.records import Records, SequenceRecord
from nesbench.metrics.results_cache import ResultsCache, gt_contents
from nesbench.metrics.scorers import Scorer
from nesbench.metrics.selection import RecordKey, Selection, select
from nesbench.metrics.stats import StatsConfig
from nesbench.metrics.summary_stats import seed_summary
from nesbench.metrics.writers import CSV_METRICS, write_results
from nesbench.paths import REPO_ROOT
from nesbench.upstream.run_settings import run_settings

__all__ = ["CSV_METRICS", "FORMAT", "incomplete_reason", "score_benchmark", "unavailable_warnings"]

FORMAT = "nesbench-results/1"

log = get_logger(__name__)


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
    options: ScoringOptions | None = None,
    progress: bool = True,
    stats: StatsConfig | None = None,
    seeds: list[int] | None = None,
    **scoring: Any,
) -> dict[str, Any]:
    """Score a benchmark's canonical prediction layout; write frames.csv, summary.json, results.md in out_dir.

    Every expected frame is either scored or listed in ``failures`` with its reason. Per-sequence results are
    cached in out_dir/cache/ and reused only when the prediction and GT files (names and content hashes), the scorer
    versions, the resolution and the LPIPS backbone are unchanged. ``options``: how scoring runs (device,
    weights, batch size, GT cache, decode processes: :class:`~nesbench.metrics.options.ScoringOptions`);
    ``**scoring``: the same fields as keywords (``device="cpu"``), for callers without an options object.
    ``stats``: how intervals and comparisons are computed (:mod:`nesbench.metrics.stats`; None: the defaults).
    ``seeds``: the seeds `nesbench run --seeds N` asked for (recorded; ``<method>-seed<k>`` runs are grouped).
    """
    if options is not None and scoring:
        raise TypeError("pass either options or its fields as keywords, not both")
    opts = options or ScoringOptions(**scoring)
    runs, out = Path(runs_dir), Path(out_dir)
    root = bench.data_root(data_root)
    sel = select(bench, runs, methods, protocols, subjects, scorers)
    with _engine(sel.scorers, opts) as engine:  # stops decode worker processes, if any, when done
        state = {
            "scorers": {s.name: s.version for s in sel.scorers},
            "resolution": bench.resolution,
            "lpips": (engine.lpips_provenance() or {}).get("sha256"),
            "unavailable": engine.unavailable,
            "face_drop_rule": engine.face_drop_rule,
        }
        results_cache = ResultsCache(out / "cache", state, [s.name for s in sel.scorers])
        records = score_sequences(engine, sel, bench, root, runs, results_cache, progress)
    summary = aggregate(sel, records, stats)
    summary["seeds"] = seed_summary(summary["entries"], sel.methods, seeds)
    summary = {"format": FORMAT, "provenance": _provenance(bench, sel, engine, root, runs), **summary}
    write_results(out, summary, records, sel.scorers)
    return summary


def _engine(scorers: list[Scorer], opts: ScoringOptions) -> Engine:
    """The engine for ``scorers``; warns about unavailable metrics and rules (recorded in the results too)."""
    gt_cache = gt_cache_from(opts.gt_cache)  # a bad folder fails here, before the networks load
    reuse_freed_memory()  # process-wide, values unaffected (nesbench.metrics.engine.memory)
    engine = Engine(
        scorers,
        device=opts.device,
        lpips_backbone=opts.lpips_backbone,
        missing_lpips="unavailable",
        batch_size=opts.batch_size,
        gt_cache=gt_cache,
        decode_processes=opts.decode_processes,
        fan_weights=opts.fan_weights,
    )
    for line in unavailable_warnings(engine.unavailable):
        log.warning(line.removeprefix("warning: "))  # the same line on stderr, through the package logger
    for name, rule in engine.face_drop_rule.items():
        if rule != "applied":
            log.warning(f"{name}: the benchmark's no-face frame drop rule is {rule}")
    return engine


def score_sequences(
    engine: Engine,
    sel: Selection,
    bench: Benchmark,
    root: Path,
    runs: Path,
    results_cache: ResultsCache,
    progress: bool,
) -> Records:
    """The record of every selected (method, protocol, scorer, subject, sequence): from the results cache when its
    inputs are unchanged, else scored (all methods of a GT sequence at once) and cached."""
    records: Records = {}
    todo = list(sel.sequences())
    for proto, subj, seq in tqdm(todo, desc="scoring sequences", disable=not progress, file=sys.stderr):
        gt_dir = sequence_dir(root, bench.testset_of(subj), subj, seq)
        try:
            gt = load_gt_sequence(gt_dir)
        except DataError as exc:
            for m in sel.methods:
                for s in sel.scorers:
                    records[RecordKey(m, proto.name, s.name, subj, seq)] = SequenceRecord.unreadable_gt(
                        s, str(exc)
                    )
            continue
        gt_stat = gt_contents(gt_dir)
        to_score: dict[str, PredSource] = {}
        meta: dict[str, tuple[Path, int | None, str]] = {}
        for m in sel.methods:
            src, folder, epoch = prediction_source(
                prediction_dir(runs, m, proto.name, subj, seq), gt.expected
            )
            key = results_cache.key(gt_stat, folder, src.error)
            cache_file = results_cache.path(m, proto.name, subj, seq)
            cached = results_cache.read(cache_file, key)
            if cached is not None:
                for s in sel.scorers:
                    records[RecordKey(m, proto.name, s.name, subj, seq)] = cached[s.name]
                continue
            to_score[m] = src
            meta[m] = (cache_file, epoch, key)
        if not to_score:
            continue
        results = engine.score(gt.dir, to_score)
        for m, (cache_file, epoch, key) in meta.items():
            per_scorer = {}
            for s in sel.scorers:
                rec = SequenceRecord.of(
                    s,
                    results[m, s.name],
                    engine.unavailable[s.name],
                    engine.face_drop_rule.get(s.name),
                    epoch=epoch,
                )
                per_scorer[s.name] = rec
                records[RecordKey(m, proto.name, s.name, subj, seq)] = rec
            results_cache.write(cache_file, key, per_scorer)
    return records


def _provenance(bench: Benchmark, sel: Selection, engine: Engine, root: Path, runs: Path) -> dict[str, Any]:
    prov = {
        "benchmark": bench.name,
        "benchmark_title": bench.title,
        "config_path": str(bench.source),
        "config_hash": bench.config_hash,
        "scorers": {s.name: s.version for s in sel.scorers},
        "harness_version": __version__,
        "harness_commit": harness_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": describe_device(engine.device),
        "resolution": bench.resolution,
        "data_root": str(root),
        "runs_dir": str(runs.resolve()),
        "lpips_backbone": engine.lpips_provenance(),
        "face_drop_rule": engine.face_drop_rule,
        # per scored job: conf source, flame-distance filter, test-time fitting, data warnings (method_info.json)
        "runs": run_settings(runs, sel.methods, [p.name for p in sel.protocols]),
    }
    if engine.dlib is not None:
        prov["keypoint_dlib_model"] = engine.dlib.provenance()
    return prov


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
