"""Benchmark mode: layout walk, failures with counts, aggregation as calculate_metric.py, caching, provenance."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from nesbench.config import Benchmark, Protocol, Split
from nesbench.data.layout import prediction_dir, sequence_dir
from nesbench.metrics import benchmark_mode as bm
from nesbench.metrics.benchmark_mode import score_benchmark


def _bench(root) -> Benchmark:
    proto = Protocol("p", "P", ("e_0",), (Split("a", ("e_1", "e_2")), Split("b", ("e_3",))))
    return Benchmark(
        name="tiny",
        title="Tiny",
        resolution=64,
        testsets={"testset1": ("0001", "0002")},
        sequences=("e_0", "e_1", "e_2", "e_3"),
        protocols={"p": proto},
        methods=(),
        scorers=("unified", "renderme-pointavatar"),
        data_root_spec=str(root),
        config_hash="abc",
    )


@pytest.fixture
def layout(tmp_path, mx):
    data, runs = tmp_path / "data", tmp_path / "runs"
    for si, subj in enumerate(("0001", "0002")):
        for qi, seq in enumerate(("e_1", "e_2", "e_3")):
            imgs = mx.make_sequence(sequence_dir(data, "testset1", subj, seq), n=2, seed=10 * si + qi)
            for k, img in imgs.items():
                mx.write_png(prediction_dir(runs, "good", "p", subj, seq) / f"{k}.png", img)
                if (subj, seq) == ("0002", "e_3"):
                    continue  # method "bad" never rendered this sequence
                if (subj, seq, k) == ("0001", "e_2", 2):
                    continue  # ... and missed one frame here
                noisy = np.clip(img.astype(int) + 20 * (qi + 1), 0, 255).astype(np.uint8)
                folder = runs / "bad" / "p" / subj / seq
                if (subj, seq) == ("0001", "e_1"):  # epoch folders: 10 must win over 9
                    mx.write_png(folder / "epoch_9" / "rgb" / f"{k}.png", img)
                    folder = folder / "epoch_10"
                mx.write_png(folder / "rgb" / f"{k}.png", noisy)
    return tmp_path, data, runs


def _entries(summary, **keys):
    return [e for e in summary["entries"] if all(e[k] == v for k, v in keys.items())]


def test_scores_aggregates_and_records_failures(layout, mx, capsys) -> None:
    tmp, data, runs = layout
    s = score_benchmark(_bench(data), runs, tmp / "out", device="cpu", lpips_backbone=mx.STUB, progress=False)
    assert s["format"] == "nesbench-results/1"
    prov = s["provenance"]
    assert prov["config_hash"] == "abc" and prov["scorers"] == {
        "unified": "1.1",
        "renderme-pointavatar": "1.1",
    }
    assert prov["harness_commit"] and prov["lpips_backbone"]["path"].endswith("lpips_alexnet_stub.pth")
    assert s["metrics"]["unified"]["psnr"]["higher_is_better"] is True
    # perfect method: every sequence scored, l1 = 0
    (good,) = _entries(s, method="good", scorer="unified", level="protocol")
    assert good["n_expected"] == good["n_scored"] == 12 and good["metrics"]["l1"] == 0
    # bad method: 2 missing frames for 0002/e_3, 1 for 0001/e_2
    (bad,) = _entries(s, method="bad", scorer="unified", level="protocol")
    assert (bad["n_expected"], bad["n_scored"], bad["n_failed"]) == (12, 9, 3)
    reasons = {
        (f["subject"], f["sequence"], f["frame"]): f["reason"] for f in s["failures"] if f["method"] == "bad"
    }
    assert (
        "missing prediction folder" in reasons["0002", "e_3", 1]
        and "missing prediction 2.png" in reasons["0001", "e_2", 2]
    )
    seq_e = {
        (e["subject"], e["sequence"]): e
        for e in _entries(s, method="bad", scorer="unified", level="sequence")
    }
    assert seq_e["0001", "e_1"]["epoch"] == 10 and seq_e["0001", "e_1"]["metrics"]["l1"] > 0
    # split = mean over (subject, sequence) sequence-means; subject = mean of its sequence-means
    (split_a,) = _entries(s, method="bad", scorer="unified", level="split", split="a")
    means = [
        seq_e[k]["metrics"]["psnr"]
        for k in [("0001", "e_1"), ("0001", "e_2"), ("0002", "e_1"), ("0002", "e_2")]
    ]
    assert split_a["metrics"]["psnr"] == pytest.approx(np.mean(means))
    (subj_b,) = _entries(s, method="bad", scorer="unified", level="subject", split="b", subject="0002")
    assert subj_b["metrics"]["psnr"] is None and subj_b["n_scored"] == 0 and subj_b["n_expected"] == 2
    all_means = [e["metrics"]["psnr"] for e in seq_e.values() if e["metrics"]["psnr"] is not None]
    assert bad["metrics"]["psnr"] == pytest.approx(np.mean(all_means))
    # files
    rows = list(csv.DictReader((tmp / "out" / "frames.csv").open()))
    assert len(rows) == 2 * 2 * 12 and sum(r["status"] == "failed" for r in rows) == 2 * 3
    md = (tmp / "out" / "results.md").read_text()
    assert "psnr ↑" in md and "l1 ↓" in md and "9/12" in md
    assert json.loads((tmp / "out" / "summary.json").read_text())["counts"] == s["counts"]


def test_missing_lpips_backbone_is_reported_unavailable(layout, monkeypatch, capsys) -> None:
    tmp, data, runs = layout
    monkeypatch.setenv("TORCH_HOME", str(tmp / "nothing"))
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp / "cache"))
    monkeypatch.delenv("NESBENCH_LPIPS_BACKBONE", raising=False)
    scorers = "unified,renderme-imavatar,renderme-pointavatar"
    s = score_benchmark(
        _bench(data), runs, tmp / "out", methods="good", scorers=scorers, device="cpu", progress=False
    )
    for name in scorers.split(","):  # summary.json keeps the per-scorer detail
        assert s["unavailable"][name]["lpips"].startswith("unavailable: LPIPS needs")
    assert all(e["metrics"]["lpips"] is None for e in s["entries"])
    assert all(e["metrics"]["psnr"] is not None for e in _entries(s, level="protocol"))
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    # one line per distinct reason, naming every scorer it applies to (dlib's line only where dlib is missing)
    lines = [x for x in lines if not x.startswith("warning: keypoint_dlib")]
    assert len(lines) == 3, lines
    assert "renderme-imavatar: the benchmark's no-face frame drop rule is not applied" in lines[-1]
    assert s["provenance"]["face_drop_rule"]["renderme-imavatar"].startswith("not applied")
    lp = next(x for x in lines if "LPIPS needs" in x)
    assert lp.startswith(f"warning: lpips unavailable ({scorers.replace(',', ', ')}): LPIPS needs")
    assert "fetch-weights" in lp
    kp = next(x for x in lines if x.startswith("warning: keypoint"))
    assert kp.startswith("warning: keypoint unavailable (unified, renderme-imavatar): face-alignment not")
    assert "n/a = unavailable" in (tmp / "out" / "results.md").read_text()


def test_cache_reused_only_when_inputs_and_version_unchanged(layout, mx, monkeypatch) -> None:
    tmp, data, runs = layout
    kw = dict(methods=["good"], scorers=["unified"], device="cpu", lpips_backbone=mx.STUB, progress=False)
    first = score_benchmark(_bench(data), runs, tmp / "out", **kw)
    calls = []
    real = bm.Engine.score
    monkeypatch.setattr(
        bm.Engine, "score", lambda self, gt, preds, **k: calls.append(gt) or real(self, gt, preds)
    )
    again = score_benchmark(_bench(data), runs, tmp / "out", **kw)
    assert calls == [] and again["entries"] == first["entries"]
    img = prediction_dir(runs, "good", "p", "0001", "e_1") / "1.png"
    mx.write_png(img, np.zeros((64, 64, 3), np.uint8))
    third = score_benchmark(_bench(data), runs, tmp / "out", **kw)
    assert len(calls) == 1
    (e,) = _entries(third, level="sequence", subject="0001", sequence="e_1")
    assert e["metrics"]["l1"] > 0
    monkeypatch.setattr("nesbench.metrics.scorers.UnifiedScorer.version", "9.9")
    score_benchmark(_bench(data), runs, tmp / "out", **kw)
    assert len(calls) == 1 + 6


def test_benchmark_cli_prints_the_table(layout, mx, capsys) -> None:
    from nesbench.cli import main

    tmp, data, runs = layout
    conf = tmp / "tiny.conf"
    conf.write_text(
        'name = tiny\nresolution = 64\ndata_root = "DATA"\ntestsets { testset1 = ["0001", "0002"] }\n'
        'sequences = ["e_0", "e_1", "e_2", "e_3"]\nscorers = ["unified"]\n'
        'protocols { p { train = ["e_0"], splits { a = ["e_1", "e_2"], b = ["e_3"] } } }\n'.replace(
            "DATA", str(data)
        )
    )
    rc = main(
        [
            "metrics",
            "--benchmark",
            str(conf),
            "--runs",
            str(runs),
            "--out",
            str(tmp / "o"),
            "--device",
            "cpu",
            "--lpips-backbone",
            str(mx.STUB),
            "--methods",
            "good",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "| good" in out and "12/12" in out and (tmp / "o" / "summary.json").is_file()


def test_incomplete_reason_counts_failed_frames_and_unreadable_gt(layout, mx) -> None:
    import shutil

    tmp, data, runs = layout
    kw = dict(scorers="unified", device="cpu", lpips_backbone=mx.STUB, progress=False)
    good = score_benchmark(_bench(data), runs, tmp / "g", methods="good", **kw)
    assert good["counts"]["n_gt_sequences"] == 6 and good["counts"]["n_gt_sequences_failed"] == 0
    assert bm.incomplete_reason(good) is None
    s = score_benchmark(_bench(data), runs, tmp / "o", **kw)
    reason = bm.incomplete_reason(s, tmp / "o")
    assert reason.startswith("incomplete results: 3 of 24 expected frames failed;")
    assert "only the 21 scored frames" in reason and str(tmp / "o" / "summary.json") + " 'failures'" in reason
    assert str(tmp / "o" / "frames.csv") in reason and "\n" not in reason
    # a GT folder that disappears has n_expected 0: it must still be counted, as a failed sequence
    shutil.rmtree(sequence_dir(data, "testset1", "0001", "e_1"))
    s = score_benchmark(_bench(data), runs, tmp / "g2", methods="good", **kw)
    assert s["counts"]["n_expected"] == 10 and s["counts"]["n_failed"] == 0
    assert (s["counts"]["n_gt_sequences"], s["counts"]["n_gt_sequences_failed"]) == (6, 1)
    reason = bm.incomplete_reason(s)
    assert "1 of 6 ground-truth sequences could not be read" in reason and "frames failed" not in reason
    assert "ground-truth sequences: 1 of 6 unreadable" in (tmp / "g2" / "results.md").read_text()


def test_incomplete_reason_without_any_ground_truth_names_the_root_and_the_fix(layout, mx) -> None:
    tmp, data, runs = layout
    bench = _bench(tmp / "no-data")
    s = score_benchmark(bench, runs, tmp / "o", scorers="unified", device="cpu", lpips_backbone=mx.STUB)
    assert s["counts"]["n_expected"] == 0 and s["counts"]["n_gt_sequences_failed"] == 6
    reason = bm.incomplete_reason(s)
    assert reason.startswith(f"no ground truth under data root {tmp / 'no-data'}: none of the 6 ground-truth")
    assert "ground-truth sequence folder not found" in reason
    assert f"`nesbench data check {tmp / 'no-data'}`" in reason
    assert "--data" in reason and "benchmark_data/README.md" in reason


def _tiny_conf(tmp, data):
    conf = tmp / "tiny.conf"
    conf.write_text(
        f'name = tiny\nresolution = 64\ndata_root = "{data}"\ntestsets {{ testset1 = ["0001", "0002"] }}\n'
        'sequences = ["e_0", "e_1", "e_2", "e_3"]\nscorers = ["unified"]\n'
        'protocols { p { train = ["e_0"], splits { a = ["e_1", "e_2"], b = ["e_3"] } } }\n'
    )
    return conf


@pytest.mark.parametrize("allow", [False, True])
def test_benchmark_cli_exits_1_on_failed_frames_unless_allowed(layout, mx, capsys, allow) -> None:
    from nesbench.cli import main

    tmp, data, runs = layout
    argv = [
        "metrics",
        "--benchmark",
        str(_tiny_conf(tmp, data)),
        "--runs",
        str(runs),
        "--out",
        str(tmp / "o"),
    ]
    argv += ["--device", "cpu", "--lpips-backbone", str(mx.STUB), "--quiet", "--no-report"]
    rc = main(argv + (["--allow-incomplete"] if allow else []))
    cap = capsys.readouterr()
    # every output is written and the table printed either way
    assert "| bad" in cap.out and "9/12" in cap.out
    assert all((tmp / "o" / f).is_file() for f in ("summary.json", "frames.csv", "results.md"))
    msgs = [x for x in cap.err.splitlines() if x.startswith(("error:", "warning: incomplete"))]
    assert len(msgs) == 1 and "3 of 24 expected frames failed" in msgs[0]
    assert "means cover only the 21 scored frames" in msgs[0] and "'failures'" in msgs[0]
    if allow:
        assert rc == 0 and msgs[0].startswith("warning: incomplete results")
    else:
        assert rc == 1 and msgs[0].startswith("error: incomplete results") and "--allow-incomplete" in msgs[0]


def test_benchmark_cli_without_ground_truth_exits_1_naming_the_data_root(layout, mx, capsys) -> None:
    from nesbench.cli import main

    tmp, data, runs = layout
    argv = [
        "metrics",
        "--benchmark",
        str(_tiny_conf(tmp, data)),
        "--runs",
        str(runs),
        "--out",
        str(tmp / "o"),
    ]
    argv += ["--data", str(tmp / "empty"), "--device", "cpu", "--lpips-backbone", str(mx.STUB), "--quiet"]
    assert main(argv + ["--no-report"]) == 1
    cap = capsys.readouterr()
    assert "frames: 0 scored of 0 expected, 0 failed; ground-truth sequences: 6 of 6 unreadable" in cap.out
    (err,) = [x for x in cap.err.splitlines() if x.startswith("error:")]
    assert err.startswith(f"error: no ground truth under data root {tmp / 'empty'}")
    assert "nesbench data check" in err and "benchmark_data/README.md" in err
    assert (tmp / "o" / "summary.json").is_file()


def test_provenance_records_every_run_s_settings(layout, mx) -> None:
    """Issue 15 item 7: the conf source and flame-distance filter each job recorded in method_info.json."""
    tmp, data, runs = layout
    info = {"confs": "benchmark tarball", "flame_distance_filter": {"on": True, "threshold": 5e-5}}
    (runs / "good" / "p" / "0001" / "method_info.json").write_text(json.dumps(info))
    s = score_benchmark(
        _bench(data),
        runs,
        tmp / "out",
        scorers="unified",
        device="cpu",
        lpips_backbone=mx.STUB,
        progress=False,
    )
    assert s["provenance"]["runs"] == {"good": {"p/0001": info}}


def test_the_old_module_name_still_imports_with_a_deprecation_warning(monkeypatch) -> None:
    """`nesbench.metrics.benchmark` (documented before issue 14) is kept for one release as an alias."""
    import importlib  # noqa: PLC0415
    import sys  # noqa: PLC0415

    monkeypatch.delitem(sys.modules, "nesbench.metrics.benchmark", raising=False)
    with pytest.warns(DeprecationWarning, match="nesbench.metrics.benchmark_mode"):
        old = importlib.import_module("nesbench.metrics.benchmark")
    assert old.score_benchmark is score_benchmark and old.incomplete_reason is bm.incomplete_reason
