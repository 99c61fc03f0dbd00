"""The typed per-sequence record: its dict forms keep the OUT.json / results-cache layout, and read back equal."""

from __future__ import annotations

from nesbench.metrics.engine import SequenceResult
from nesbench.metrics.records import SequenceRecord
from nesbench.metrics.registry import get_scorer

OUT_JSON_KEYS = [
    "scorer",
    "version",
    "resolution",
    "n_expected",
    "n_scored",
    "failed",
    "n_dropped",
    "dropped",
    "frames",
    "mean",
    "unavailable",
]


def _result() -> SequenceResult:
    return SequenceResult(
        [1, 2, 3, 4],
        frames={2: {"psnr": 30.0, "keypoint": None}, 1: {"psnr": 20.0, "keypoint": 1.5}},
        failed={3: "3.png: missing"},
        metric_failures={2: {"keypoint": "no face detected"}},
        dropped={4: "no face (FAN)"},
    )


def test_a_record_of_a_result_keeps_the_out_json_layout_and_reads_back_equal() -> None:
    scorer = get_scorer("unified", resolution=64)
    rec = SequenceRecord.of(scorer, _result(), {"lpips": "unavailable: no backbone"}, "applied", epoch=7)
    d = rec.to_dict()
    assert list(d) == [*OUT_JSON_KEYS, "face_drop_rule", "metric_failures", "no_face", "epoch"]
    assert list(rec.scores_dict()) == [*OUT_JSON_KEYS, "face_drop_rule", "metric_failures", "no_face"]
    assert list(d["frames"]) == ["1", "2"] and d["failed"] == {"3": "3.png: missing"}
    assert d["mean"]["psnr"] == 25.0 and d["mean"]["keypoint"] == 1.5 and d["mean"]["lpips"] is None
    assert (d["n_expected"], d["n_scored"], d["n_dropped"]) == (4, 2, 1)
    assert d["no_face"] == {"keypoint": 1} and d["epoch"] == 7
    assert SequenceRecord.from_dict(d) == rec


def test_optional_keys_appear_only_when_set() -> None:
    scorer = get_scorer("unified", resolution=64)
    plain = SequenceRecord.of(scorer, SequenceResult([1], frames={1: {"psnr": 1.0}}), {})
    assert list(plain.to_dict()) == [*OUT_JSON_KEYS, "epoch"] and plain.to_dict()["epoch"] is None
    gone = SequenceRecord.unreadable_gt(scorer, "gt/e_1: missing")
    assert list(gone.to_dict()) == [*OUT_JSON_KEYS, "sequence_error", "epoch"]
    assert gone.n_expected == 0 and gone.sequence_error == "gt/e_1: missing"
    assert SequenceRecord.from_dict(gone.to_dict()) == gone


def test_an_older_cache_entry_without_the_later_fields_reads_with_their_defaults() -> None:
    old = {"n_expected": 2, "n_scored": 1, "failed": {"2": "bad"}, "frames": {"1": {"psnr": 3.0}}, "mean": {}}
    rec = SequenceRecord.from_dict(old)
    assert (rec.n_dropped, rec.dropped, rec.unavailable, rec.epoch, rec.sequence_error) == (
        0,
        {},
        {},
        None,
        None,
    )
