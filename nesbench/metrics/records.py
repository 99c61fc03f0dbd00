"""The per-sequence record: one scorer's result on one sequence, typed, from scoring through
:func:`~nesbench.metrics.aggregate.aggregate` to the writers.

Its dict forms: :meth:`SequenceRecord.scores_dict` is the OUT.json structure of `nesbench metrics score`;
:meth:`SequenceRecord.to_dict` adds what benchmark mode knows (the epoch scored, a GT sequence that could not be read)
and is what the results cache stores; :meth:`SequenceRecord.from_dict` reads it back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nesbench.metrics.engine import SequenceResult, frame_means
from nesbench.metrics.selection import RecordKey

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer

# the fields a results-cache entry must have, with their types (older entries may lack the others)
REQUIRED_FIELDS = {"n_expected": int, "n_scored": int, "failed": dict, "frames": dict, "mean": dict}


@dataclass(frozen=True)
class SequenceRecord:
    """One scorer's result on one sequence. Frame numbers are text keys, as in the JSON forms."""

    scorer: str
    version: str | None
    resolution: int | None
    n_expected: int
    n_scored: int
    failed: dict[str, str]  # frame -> why it could not be scored
    n_dropped: int
    dropped: dict[str, str]  # frame -> why the scorer's rule left it out (renderme-imavatar: no face)
    frames: dict[str, dict[str, float | None]]  # frame -> metric -> value
    mean: dict[str, float | None]  # metric -> mean over the scored frames (None: no value, or unavailable)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it could not be computed
    face_drop_rule: str | None = None  # 'applied' or 'not applied: <why>' (scorers with the no-face rule)
    metric_failures: dict[str, dict[str, str]] | None = None  # frame -> metric -> why
    no_face: dict[str, int] | None = None  # metric -> frames on which the detector found no face
    sequence_error: str | None = None  # benchmark mode: the GT sequence could not be read
    epoch: int | None = None  # benchmark mode: the epoch folder that was scored

    @classmethod
    def of(
        cls,
        scorer: Scorer,
        result: SequenceResult,
        unavailable: dict[str, str],
        face_drop_rule: str | None = None,
        *,
        epoch: int | None = None,
    ) -> SequenceRecord:
        """The record of one engine result. ``face_drop_rule``: for a scorer that drops frames without a FAN face,
        whether the rule was applied ('applied' or 'not applied: <why>')."""
        means = frame_means(result, list(scorer.metrics))
        for n in unavailable:
            means[n] = None
        metric_failures = no_face = None
        if result.metric_failures:
            metric_failures = {str(k): v for k, v in sorted(result.metric_failures.items())}
            counts = Counter(
                m for v in result.metric_failures.values() for m, r in v.items() if r.startswith("no face")
            )
            no_face = dict(counts) if counts else None
        return cls(
            scorer=scorer.name,
            version=scorer.version,
            resolution=scorer.resolution,
            n_expected=len(result.expected),
            n_scored=len(result.frames),
            failed={str(k): r for k, r in sorted(result.failed.items())},
            n_dropped=len(result.dropped),
            dropped={str(k): r for k, r in sorted(result.dropped.items())},
            frames={str(k): v for k, v in sorted(result.frames.items())},
            mean=means,
            unavailable=dict(unavailable),
            face_drop_rule=face_drop_rule,
            metric_failures=metric_failures,
            no_face=no_face,
            epoch=epoch,
        )

    @classmethod
    def unreadable_gt(cls, scorer: Scorer, reason: str) -> SequenceRecord:
        """The record of a sequence whose ground truth could not be read: nothing expected, ``reason`` kept."""
        return replace(cls.of(scorer, SequenceResult([]), {}), sequence_error=reason)

    def scores_dict(self) -> dict[str, Any]:
        """The OUT.json structure of one (scorer, sequence) result (optional keys only when set)."""
        d: dict[str, Any] = {
            "scorer": self.scorer,
            "version": self.version,
            "resolution": self.resolution,
            "n_expected": self.n_expected,
            "n_scored": self.n_scored,
            "failed": self.failed,
            "n_dropped": self.n_dropped,
            "dropped": self.dropped,
            "frames": self.frames,
            "mean": self.mean,
            "unavailable": self.unavailable,
        }
        if self.face_drop_rule is not None:
            d["face_drop_rule"] = self.face_drop_rule
        if self.metric_failures is not None:
            d["metric_failures"] = self.metric_failures
            if self.no_face is not None:
                d["no_face"] = self.no_face
        return d

    def to_dict(self) -> dict[str, Any]:
        """:meth:`scores_dict` with benchmark mode's ``sequence_error`` (when set) and ``epoch``: a results-cache
        entry."""
        d = self.scores_dict()
        if self.sequence_error is not None:
            d["sequence_error"] = self.sequence_error
        d["epoch"] = self.epoch
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceRecord:
        """A record from its dict form (a results-cache entry, checked for :data:`REQUIRED_FIELDS` by the cache)."""
        return cls(
            scorer=d.get("scorer", ""),
            version=d.get("version"),
            resolution=d.get("resolution"),
            n_expected=d["n_expected"],
            n_scored=d["n_scored"],
            failed=d["failed"],
            n_dropped=d.get("n_dropped", 0),
            dropped=d.get("dropped", {}),
            frames=d["frames"],
            mean=d["mean"],
            unavailable=d.get("unavailable") or {},
            face_drop_rule=d.get("face_drop_rule"),
            metric_failures=d.get("metric_failures"),
            no_face=d.get("no_face"),
            sequence_error=d.get("sequence_error"),
            epoch=d.get("epoch"),
        )


Records = dict[RecordKey, SequenceRecord]  # every record of a benchmark-mode run
