"""Issue 17 in the metric engine: exact-match PSNR, strict JSON, exit codes, misnamed frames, content-keyed caches,
duplicates, names that are paths."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from nesbench.cli import main
from nesbench.config import Benchmark, Protocol, Split
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.errors import ConfigError
from nesbench.metrics.benchmark_mode import score_benchmark
from nesbench.metrics.engine.gt_cache import GtCache
from nesbench.metrics.frames import load_gt_sequence
from nesbench.metrics.psnr import PSNR_CAP_DB
from nesbench.metrics.score import score_sequence

SCORERS = ("unified", "renderme-imavatar", "renderme-pointavatar")


def strict_load(path):
    def refuse(name):
        raise AssertionError(f"{path}: {name} is not strict JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _bench(root) -> Benchmark:
    proto = Protocol("p", "P", ("e_0",), (Split("a", ("e_1",)),))
    return Benchmark(
        name="tiny",
        title="Tiny",
        resolution=64,
        testsets={"testset1": ("0001",)},
        sequences=("e_0", "e_1"),
        protocols={"p": proto},
        methods=(),
        scorers=SCORERS,
        data_root_spec=str(root),
        config_hash="abc",
    )


@pytest.fixture
def perfect(tmp_path, mx):
    """A dataset of one sequence (2 frames) and a method 'copy' whose predictions are the GT images."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    seq = sequence_dir(data, "testset1", "0001", "e_1")
    imgs = mx.make_sequence(seq, n=2, cloth=False)
    for k in imgs:  # a full head mask: every scorer's composite of the GT is the GT image itself
        mx.write_png(seq / "mask" / f"{k}.png", np.full((64, 64, 3), 255, np.uint8))
        mx.write_png(seq / "semantic" / f"{k}.png", np.ones((64, 64), np.uint8))
    for k, img in imgs.items():
        mx.write_png(prediction_dir(runs, "copy", "p", "0001", "e_1") / f"{k}.png", img)
    return tmp_path, data, runs


@pytest.mark.parametrize("scorer", SCORERS)
def test_an_exact_match_has_the_capped_psnr_in_every_scorer(perfect, mx, scorer):
    tmp, data, runs = perfect
    pred = prediction_dir(runs, "copy", "p", "0001", "e_1")
    rec = score_sequence(
        pred, sequence_dir(data, "testset1", "0001", "e_1"), scorer, device="cpu", lpips_backbone=mx.STUB
    )
    psnrs = [v["psnr"] for v in rec["frames"].values()]
    # the legacy PointAvatar formula gives 20*log10(1/1e-8) in float32 (just under the cap): unchanged
    assert all(np.isfinite(psnrs)) and all(abs(p - PSNR_CAP_DB) < 1e-3 for p in psnrs), psnrs
    assert rec["mean"]["psnr"] <= PSNR_CAP_DB


def test_summary_csv_and_tables_of_an_exact_match_are_strict_and_agree(perfect, mx):
    tmp, data, runs = perfect
    out = tmp / "out"
    summary = score_benchmark(_bench(data), runs, out, device="cpu", lpips_backbone=mx.STUB, progress=False)
    for path in [out / "summary.json", *(out / "cache").rglob("*.json")]:
        strict_load(path)
    e = next(
        e
        for e in summary["entries"]
        if e["level"] == "protocol" and e["scorer"] == "unified" and e["method"] == "copy"
    )
    assert e["metrics"]["psnr"] == PSNR_CAP_DB
    csv_text = (out / "frames.csv").read_text()
    assert "inf" not in csv_text.lower() and "nan" not in csv_text.lower()
    assert re.search(r"\|\s+160\s+\|", (out / "results.md").read_text())  # tabulate drops the .00


def test_score_exits_nonzero_when_a_frame_failed_unless_allowed(perfect, mx, capsys):
    tmp, data, runs = perfect
    pred = prediction_dir(runs, "copy", "p", "0001", "e_1")
    (pred / "2.png").write_bytes(b"not a png")
    argv = [
        "metrics",
        "score",
        "--pred",
        str(pred),
        "--gt",
        str(sequence_dir(data, "testset1", "0001", "e_1")),
    ]
    argv += ["--scorer", "unified", "--device", "cpu", "--lpips-backbone", str(mx.STUB)]
    assert main([*argv, "--json", str(tmp / "o.json")]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 expected frames failed" in err and "--allow-incomplete" in err and "Traceback" not in err
    strict_load(tmp / "o.json")  # the per-frame result is written before the exit
    assert main([*argv, "--allow-incomplete"]) == 0
    assert "accepted: --allow-incomplete" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        ({1: "0001.png", 2: "0002.png"}, "found 0001.png"),
        ({1: "1.jpg", 2: "2.jpg"}, "found 1.jpg"),
        ({1: "1.PNG", 2: "2.PNG"}, "found 1.PNG"),
    ],
)
def test_misnamed_predictions_are_reported_by_name(perfect, mx, names, reason):
    tmp, data, runs = perfect
    pred = prediction_dir(runs, "copy", "p", "0001", "e_1")
    for k, name in names.items():
        os.rename(pred / f"{k}.png", pred / name)
    rec = score_sequence(
        pred, sequence_dir(data, "testset1", "0001", "e_1"), "unified", device="cpu", lpips_backbone=mx.STUB
    )
    assert rec["n_scored"] == 0 and reason in rec["failed"]["1"], rec["failed"]


def test_zero_based_predictions_fail_the_sequence_by_name(perfect, mx):
    tmp, data, runs = perfect
    pred = prediction_dir(runs, "copy", "p", "0001", "e_1")
    os.rename(pred / "1.png", pred / "0.png")
    os.rename(pred / "2.png", pred / "1.png")
    with pytest.raises(Exception, match="0.png is present, so the frames look 0-based"):
        score_sequence(
            pred,
            sequence_dir(data, "testset1", "0001", "e_1"),
            "unified",
            device="cpu",
            lpips_backbone=mx.STUB,
        )


def test_results_cache_is_keyed_by_content_not_size_and_mtime(perfect, mx):
    tmp, data, runs = perfect
    out, bench = tmp / "out", _bench(data)
    kw = dict(device="cpu", lpips_backbone=mx.STUB, progress=False, scorers="unified")
    first = score_benchmark(bench, runs, out, **kw)
    pred = prediction_dir(runs, "copy", "p", "0001", "e_1") / "1.png"
    st = pred.stat()
    data_bytes = bytearray(pred.read_bytes())
    # same size and mtime, other pixels: decode, perturb, re-encode until the size matches is fiddly; flip one
    # byte of the PNG's last IDAT data instead makes it corrupt -> it must be re-scored (a failure), not cached
    data_bytes[-20] ^= 0xFF
    pred.write_bytes(bytes(data_bytes))
    os.utime(pred, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert pred.stat().st_size == st.st_size and pred.stat().st_mtime_ns == st.st_mtime_ns
    second = score_benchmark(bench, runs, out, **kw)
    assert first["counts"]["n_failed"] == 0 and second["counts"]["n_failed"] == 1


def test_gt_cache_entry_with_a_flipped_byte_is_rebuilt(perfect, mx, tmp_path):
    tmp, data, runs = perfect
    seq = load_gt_sequence(sequence_dir(data, "testset1", "0001", "e_1"))
    cache = GtCache(tmp_path / "gtc")
    first = cache.load(seq, True)
    image_before = first.image.read(0).copy()
    npy = first.dir / "image.npy"
    raw = bytearray(npy.read_bytes())
    raw[-1] ^= 0xFF  # same size, one pixel off
    npy.write_bytes(bytes(raw))
    fresh = GtCache(tmp_path / "gtc")  # another process
    again = fresh.load(seq, True)
    assert any("checksum" in n and "rebuilt" in n for n in fresh.notes), fresh.notes
    assert np.array_equal(again.image.read(0), image_before)


def test_repeated_methods_and_scorers_are_scored_once(perfect, mx):
    tmp, data, runs = perfect
    s = score_benchmark(
        _bench(data),
        runs,
        tmp / "out",
        methods="copy,copy",
        scorers=["unified", "unified"],
        protocols="p,p",
        device="cpu",
        lpips_backbone=mx.STUB,
        progress=False,
    )
    protocol_rows = [e for e in s["entries"] if e["level"] == "protocol"]
    assert len(protocol_rows) == 1 and s["counts"]["n_expected"] == 2


@pytest.mark.parametrize("bad", ["../../etc/x", "..", "a/b", ".hidden", "a b", "x\x00y", " /etc"])
def test_method_names_that_are_not_names_are_refused_before_any_write(perfect, mx, bad):
    tmp, data, runs = perfect
    before = sorted(p for p in tmp.rglob("*"))
    with pytest.raises(ConfigError, match="not a valid name"):
        score_benchmark(_bench(data), runs, tmp / "out", methods=[bad, "copy"], device="cpu", progress=False)
    assert sorted(p for p in tmp.rglob("*")) == before


def test_benchmark_mode_takes_the_run_lock_on_out(perfect, mx, capsys):
    from nesbench.fsutil import holder_lock
    from nesbench.pipeline.run import RUN_LOCK

    tmp, data, runs = perfect
    out = tmp / "out"
    with holder_lock(out / RUN_LOCK):
        # flock is per open file: a second open in this process conflicts like another process would
        rc = main(
            ["metrics", "--benchmark", "synthetic_tiny", "--runs", str(runs), "--out", str(out), "--quiet"]
        )
    err = capsys.readouterr().err
    assert rc == 1 and "another `nesbench run` or scoring is writing this folder" in err


def test_gt_cache_key_changes_when_a_gt_file_is_rewritten_with_the_same_size_and_mtime(perfect, tmp_path):
    tmp, data, runs = perfect
    seq = load_gt_sequence(sequence_dir(data, "testset1", "0001", "e_1"))
    cache = GtCache(tmp_path / "gtc")
    before = cache.key(seq, True)
    png = seq.dir / "image" / "1.png"
    st = png.stat()
    png.write_bytes(png.read_bytes())  # same bytes, same size; mtime set back below
    os.utime(png, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.key(seq, True) != before
