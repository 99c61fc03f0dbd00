"""The decoded-GT cache: bit-identical scores, compact storage, invalidation, corrupt entries and frames, races."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from nesbench.cli import main
from nesbench.metrics.engine import Engine, PredSource
from nesbench.metrics.engine.gt_cache import ENV, GtCache, gt_cache_from
from nesbench.metrics.frames import load_gt_sequence, read_gt_frame
from nesbench.metrics.registry import list_scorers, scorer_formulas_at


def _engine(stub, cache: GtCache | None, res: int) -> Engine:
    return Engine(at_resolution(res), device="cpu", lpips_backbone=stub, batch_size=4, gt_cache=cache)


def at_resolution(res: int) -> list:
    """Every scorer's formulas at ``res`` (batch reads need one size; the legacy scorers are 512 in use)."""
    return [scorer_formulas_at(n, res) for n in list_scorers()]


def _frames(results) -> dict:
    return {key: (r.frames, r.failed) for key, r in results.items()}


def _entries(root) -> list:
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def test_cached_ground_truth_gives_bit_identical_scores(tmp_path, mx, stub) -> None:
    gt, pred = mx.FIXTURE / "gt", mx.FIXTURE / "pred" / "rgb"
    preds = {"m": PredSource({k: pred / f"{k}.png" for k in range(1, 7)})}
    plain = _frames(_engine(stub, None, 512).score(gt, preds))
    cache = GtCache(tmp_path / "c")
    cold = _frames(_engine(stub, cache, 512).score(gt, preds))
    (entry,) = _entries(tmp_path / "c")
    index = json.loads((entry / "index.json").read_text())
    assert index["frames"] == [1, 2, 3, 4, 5, 6] and index["components"] == ["image", "mask", "semantic"]
    warm = _frames(_engine(stub, cache, 512).score(gt, preds))
    assert plain == cold == warm  # exact equality of every value of every scorer
    assert _entries(tmp_path / "c") == [entry] and not cache.notes


@pytest.mark.parametrize("res", [64, 48])
def test_batch_read_of_cached_ground_truth_with_failed_predictions(
    tmp_path, mx, stub, monkeypatch, res
) -> None:
    """At the cached frames' resolution the engine reads whole GT batches from the cache (also for a colour mask and
    fractional labels, and with failed predictions inside a batch); at another it prepares frame by frame. Both give
    the values of scoring from PNGs, for every scorer."""
    imgs = mx.make_sequence(tmp_path / "gt", n=6)
    mask = np.zeros((64, 64, 3), np.uint8)
    mask[8:56, 8:56] = (255, 128, 40)
    mx.write_png(tmp_path / "gt" / "mask" / "2.png", mask)
    sem = np.full((64, 64, 3), (7, 3, 1), np.uint8)
    sem[50:] = 16
    mx.write_png(tmp_path / "gt" / "semantic" / "5.png", sem)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "a" / f"{k}.png", np.roll(img, k, axis=1))
        mx.write_png(tmp_path / "b" / f"{k}.png", 255 - img)
    (tmp_path / "a" / "2.png").write_bytes(b"not a png")
    preds = {
        "a": PredSource({k: tmp_path / "a" / f"{k}.png" for k in range(1, 7)}),
        "b": PredSource({k: tmp_path / "b" / f"{k}.png" for k in (1, 3, 4, 5, 6)}),  # 2 is missing
    }
    batch_reads = []
    original = Engine._read_gt_batch
    monkeypatch.setattr(Engine, "_read_gt_batch", lambda *a: batch_reads.append(a[2]) or original(*a))
    plain = _frames(_engine(stub, None, res).score(tmp_path / "gt", preds))
    assert not batch_reads
    cache = GtCache(tmp_path / "c")
    cold = _frames(_engine(stub, cache, res).score(tmp_path / "gt", preds))
    warm = _frames(_engine(stub, cache, res).score(tmp_path / "gt", preds))
    assert plain == cold == warm
    assert batch_reads == ([[1, 2, 3, 4], [5, 6]] * 2 if res == 64 else [])
    assert (
        "2.png" in plain["a", "unified"][1][2] and plain["b", "unified"][1][2] == "missing prediction 2.png"
    )
    assert set(plain["b", "renderme-pointavatar"][0]) == {1, 3, 4, 5, 6}


@pytest.mark.parametrize("grey", [True, False])
def test_entries_hold_exactly_the_decoded_frames(tmp_path, mx, grey) -> None:
    mx.make_sequence(tmp_path / "gt", n=3, grey_mask=grey)
    if not grey:  # a mask whose channels differ, and a colour semantic map (luma with fractions)
        mask = np.zeros((64, 64, 3), np.uint8)
        mask[10:40, 10:40] = (255, 128, 0)
        mx.write_png(tmp_path / "gt" / "mask" / "2.png", mask)
        mx.write_png(tmp_path / "gt" / "semantic" / "3.png", np.full((64, 64, 3), (7, 3, 1), np.uint8))
    seq = load_gt_sequence(tmp_path / "gt")
    cached = GtCache(tmp_path / "c").load(seq, want_semantic=True)
    assert cached.mask.shape[3] == (1 if grey else 3)
    assert cached.semantic.dtype == (np.uint8 if grey else np.float32)
    for k in seq.expected:
        want, got = read_gt_frame(seq, k, True), cached.raw(seq, k)
        for name in ("image", "mask", "semantic", "keypoints"):
            a, b = getattr(want, name), getattr(got, name)
            # labels: the same values; uint8 or float32 (a sequence with fractional labels is stored as float32)
            same_type = a.dtype == b.dtype or name == "semantic"
            assert same_type and a.shape == b.shape and np.array_equal(a, b), (k, name)
        assert got.paths == want.paths


def test_changed_ground_truth_makes_a_new_entry(tmp_path, mx, stub) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "p" / f"{k}.png", img)
    preds = {"m": PredSource({k: tmp_path / "p" / f"{k}.png" for k in (1, 2)})}
    cache = GtCache(tmp_path / "c")
    first = _engine(stub, cache, 64).score(tmp_path / "gt", preds)
    assert first["m", "unified"].frames[1]["mae"] == 0
    mx.write_png(tmp_path / "gt" / "image" / "1.png", 255 - imgs[1])
    os.utime(tmp_path / "gt" / "image" / "1.png", ns=(1, 1))  # whatever the clock: the stat changes
    second = _engine(stub, None, 64).score(tmp_path / "gt", preds)
    again = _engine(stub, cache, 64).score(tmp_path / "gt", preds)
    assert _frames(again) == _frames(second)
    assert again["m", "unified"].frames[1]["mae"] > 0 and len(_entries(tmp_path / "c")) == 2


def test_sequence_with_a_corrupt_frame_is_not_cached_and_fails_as_before(tmp_path, mx, stub, capsys) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=3)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "p" / f"{k}.png", img)
    (tmp_path / "gt" / "mask" / "2.png").write_bytes(b"not a png")
    preds = {"m": PredSource({k: tmp_path / "p" / f"{k}.png" for k in (1, 2, 3)})}
    plain = _frames(_engine(stub, None, 64).score(tmp_path / "gt", preds))
    cached = _frames(_engine(stub, GtCache(tmp_path / "c"), 64).score(tmp_path / "gt", preds))
    assert cached == plain and 2 in plain["m", "unified"][1]
    assert not (tmp_path / "c").exists() or not _entries(tmp_path / "c")
    err = capsys.readouterr().err
    assert "note: gt cache: " in err and "not cached" in err and "mask/2.png" in err


def test_damaged_entry_is_rebuilt_with_a_note(tmp_path, mx) -> None:
    mx.make_sequence(tmp_path / "gt", n=2)
    seq = load_gt_sequence(tmp_path / "gt")
    cache = GtCache(tmp_path / "c")
    entry = cache.load(seq, True).dir
    (entry / "image.npy").write_bytes(b"truncated")
    again = cache.load(seq, True)
    assert "unreadable entry" in cache.notes[0] and again.dir == entry
    assert np.array_equal(again.raw(seq, 1).image, read_gt_frame(seq, 1, True).image)


def test_concurrent_writer_keeps_the_first_entry(tmp_path, mx) -> None:
    mx.make_sequence(tmp_path / "gt", n=2)
    seq = load_gt_sequence(tmp_path / "gt")
    cache = GtCache(tmp_path / "c")
    entry = cache.load(seq, True).dir
    mtime = (entry / "image.npy").stat().st_mtime_ns
    rebuilt = cache._build(entry, seq, True, map)  # as a second process that found no entry would
    assert rebuilt.dir == entry and (entry / "image.npy").stat().st_mtime_ns == mtime
    assert _entries(tmp_path / "c") == [entry]  # its temporary folder is gone


def test_cli_option_and_environment_variable(tmp_path, mx, monkeypatch, capsys) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", img)
    args = ["metrics", "score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]
    args += ["--scorer", "unified", "--device", "cpu", "--lpips-backbone", str(mx.STUB)]
    assert main([*args, "--gt-cache", str(tmp_path / "opt")]) == 0
    assert len(_entries(tmp_path / "opt")) == 1
    monkeypatch.setenv(ENV, str(tmp_path / "env"))
    assert gt_cache_from(None).root == tmp_path / "env"
    assert main(args) == 0 and len(_entries(tmp_path / "env")) == 1
    (tmp_path / "file").write_text("")
    capsys.readouterr()
    assert main([*args, "--gt-cache", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "file: cannot write the GT cache there" in err and "\n" not in err
    shutil.rmtree(tmp_path / "env")


def test_full_disk_while_writing_scores_from_pngs_with_a_note(
    tmp_path, mx, stub, monkeypatch, capsys
) -> None:
    import errno  # noqa: PLC0415

    from nesbench.metrics.engine import gt_cache  # noqa: PLC0415

    imgs = mx.make_sequence(tmp_path / "gt", n=3)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "p" / f"{k}.png", img)
    preds = {"m": PredSource({k: tmp_path / "p" / f"{k}.png" for k in (1, 2, 3)})}
    plain = _frames(_engine(stub, None, 64).score(tmp_path / "gt", preds))
    calls = []

    def append(self, frame):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.file.write(frame.tobytes())

    monkeypatch.setattr(gt_cache._NpyWriter, "append", append)
    cached = _frames(_engine(stub, GtCache(tmp_path / "c"), 64).score(tmp_path / "gt", preds))
    assert cached == plain and len(calls) == 4
    assert _entries(tmp_path / "c") == [] and not list((tmp_path / "c").iterdir())  # temporary folder removed
    err = capsys.readouterr().err
    assert "not cached" in err and "No space left on device" in err


def test_notes_go_through_the_package_logger(tmp_path, capsys) -> None:
    """`note: gt cache: ...` on stderr by default; silenced like any logger (nesbench/log.py)."""
    import logging  # noqa: PLC0415

    cache = GtCache(tmp_path / "c")
    cache.notes.append("one")
    cache.flush_notes()
    assert capsys.readouterr().err == "note: gt cache: one\n" and not cache.notes
    root = logging.getLogger("nesbench")
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        cache.notes.append("two")
        cache.flush_notes()
    finally:
        root.setLevel(level)
    assert capsys.readouterr().err == ""
