"""Aggregation of per-sequence records into summary entries, as the benchmark's calculate_metric.py does: the mean
over frames per sequence, then means of sequence means per subject, split and protocol (docs/RESULTS_FORMAT.md).

:func:`aggregate` is pure: records in, the summary's ``metrics``, ``counts``, ``entries``, ``statistics``,
``comparisons`` and ``failures`` out; nothing is read or written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nesbench.metrics.records import Records, SequenceRecord
from nesbench.metrics.selection import RecordKey, Selection
from nesbench.metrics.stats import StatsConfig
from nesbench.metrics.summary_stats import add_entry_statistics, comparisons

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer


def mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# MetricSpec.aggregation -> how sequence means are combined (nesbench.metrics.spec.AGGREGATIONS)
AGGREGATE: dict[str, Callable[[list[float | None]], float | None]] = {"mean": mean}


def entry(
    where: dict[str, Any], scorer: Scorer, recs: list[SequenceRecord], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One summary entry: ``where`` (method, protocol, level, split, subject, sequence) over records ``recs``."""
    n_exp = sum(r.n_expected for r in recs)
    n_sc = sum(r.n_scored for r in recs)
    n_drop = sum(r.n_dropped for r in recs)
    n_seq_err = sum(1 for r in recs if r.sequence_error)
    scored = [r for r in recs if r.n_scored > 0]
    e = {
        "method": where["method"],
        "protocol": where["protocol"],
        "scorer": scorer.name,
        "level": where["level"],
        "split": where.get("split"),
        "subject": where.get("subject"),
        "sequence": where.get("sequence"),
        **(extra or {}),
        "n_expected": n_exp,
        "n_scored": n_sc,
        "n_failed": n_exp - n_sc - n_drop,
        "n_dropped": n_drop,
        "n_sequences": len(scored),
        "n_sequences_failed": n_seq_err,
        "metrics": {
            n: AGGREGATE[ms.aggregation]([r.mean.get(n) for r in scored]) for n, ms in scorer.metrics.items()
        },
    }
    for n in recs[0].unavailable if recs else ():
        e["metrics"][n] = None
    no_face = sum((Counter(r.no_face or {}) for r in recs), Counter())
    if no_face:
        e["no_face"] = dict(no_face)  # metric -> frames without a detected face
    return e


def failure(key: RecordKey, frame: int | None, reason: str) -> dict[str, Any]:
    return {
        "method": key.method,
        "protocol": key.protocol,
        "scorer": key.scorer,
        "subject": key.subject,
        "sequence": key.sequence,
        "frame": frame,
        "reason": reason,
    }


def aggregate(sel: Selection, records: Records, stats: StatsConfig | None = None) -> dict[str, Any]:
    """The summary's aggregates of ``records`` (one per selected method, protocol, scorer, subject, sequence)."""
    entries: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    totals = {"n_expected": 0, "n_scored": 0, "n_failed": 0, "n_dropped": 0}
    gt_sequences: set[tuple[str, str]] = set()
    gt_failed: set[tuple[str, str]] = set()

    for m in sel.methods:
        for p in sel.protocols:
            for s in sel.scorers:

                def rec(subj: str, seq: str) -> SequenceRecord:
                    return records[RecordKey(m, p.name, s.name, subj, seq)]  # noqa: B023 (used in the loop)

                for subj in sel.subjects:
                    for seq in p.test_sequences:
                        key = RecordKey(m, p.name, s.name, subj, seq)
                        r = records[key]
                        for k, reason in r.failed.items():
                            failures.append(failure(key, int(k), reason))
                        gt_sequences.add((subj, seq))
                        if r.sequence_error:
                            failures.append(failure(key, None, r.sequence_error))
                            gt_failed.add((subj, seq))
                        totals["n_expected"] += r.n_expected
                        totals["n_scored"] += r.n_scored
                        totals["n_dropped"] += r.n_dropped
                at = {"method": m, "protocol": p.name}
                for split in p.splits:
                    all_recs = []
                    for subj in sel.subjects:
                        subj_recs = [rec(subj, seq) for seq in split.sequences]
                        for seq, r in zip(split.sequences, subj_recs, strict=True):
                            where = {
                                **at,
                                "level": "sequence",
                                "split": split.name,
                                "subject": subj,
                                "sequence": seq,
                            }
                            entries.append(entry(where, s, [r], {"epoch": r.epoch}))
                        where = {**at, "level": "subject", "split": split.name, "subject": subj}
                        entries.append(entry(where, s, subj_recs))
                        all_recs += subj_recs
                    entries.append(entry({**at, "level": "split", "split": split.name}, s, all_recs))
                proto_recs = [rec(subj, seq) for subj in sel.subjects for seq in p.test_sequences]
                entries.append(entry({**at, "level": "protocol"}, s, proto_recs))
    totals["n_failed"] = totals["n_expected"] - totals["n_scored"] - totals["n_dropped"]
    # a sequence whose GT could not be read has n_expected 0: count it here so that it cannot hide
    totals["n_gt_sequences"] = len(gt_sequences)
    totals["n_gt_sequences_failed"] = len(gt_failed)
    unavailable: dict[str, dict[str, str]] = {}
    for key, r in records.items():
        if r.unavailable:
            unavailable.setdefault(key.scorer, {}).update(r.unavailable)
    cfg = stats or StatsConfig()
    add_entry_statistics(entries, cfg)
    directions = {s.name: {n: ms.higher_is_better for n, ms in s.metrics.items()} for s in sel.scorers}
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
            for s in sel.scorers
        },
        "unavailable": unavailable,
        "counts": totals,
        "entries": entries,
        "statistics": cfg.to_dict(),
        "comparisons": comparisons(entries, list(sel.methods), directions, cfg),
        "failures": failures,
    }
