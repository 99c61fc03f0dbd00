"""calculate_metric.py / nesbench metrics score, and nesbench fetch-weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nesbench.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_score_writes_out_json(tmp_path, mx, capsys) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / "rgb" / f"{k}.png", img)
    rc = main(
        [
            "metrics",
            "score",
            "--pred",
            str(tmp_path / "pred"),
            "--gt",
            str(tmp_path / "gt"),
            "--scorer",
            "renderme-pointavatar",
            "--device",
            "cpu",
            "--lpips-backbone",
            str(mx.STUB),
            "--json",
            str(tmp_path / "out.json"),
        ]
    )
    assert rc == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert {"scorer", "version", "n_expected", "n_scored", "failed", "frames", "mean"} <= set(out)
    assert out["n_scored"] == 2 and set(out["frames"]["1"]) >= {"l1", "mae", "mse", "psnr", "ssim", "lpips"}
    assert out["resolution"] == 512  # the legacy scorers always evaluate at 512, whatever the GT size
    capsys.readouterr()
    base = _score_argv(tmp_path)
    base += ["--lpips-backbone", str(mx.STUB), "--json", str(tmp_path / "u.json")]
    assert main([*base, "--scorer", "renderme-imavatar", "--resolution", "64"]) == 1
    err = capsys.readouterr().err
    assert (
        "renderme-imavatar always evaluates at 512 px" in err and "--resolution applies to the unified" in err
    )
    assert main([*base, "--scorer", "unified", "--resolution", "64"]) == 0
    assert json.loads((tmp_path / "u.json").read_text())["resolution"] == 64


@pytest.mark.slow
def test_calculate_metric_without_weights_exits_1_with_one_line(tmp_path, mx) -> None:
    mx.make_sequence(tmp_path / "gt", n=1)
    (tmp_path / "pred").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NESBENCH_CACHE": str(tmp_path / "c")}
    p = subprocess.run(
        [
            sys.executable,
            str(REPO / "calculate_metric.py"),
            "score",
            "--pred",
            str(tmp_path / "pred"),
            "--gt",
            str(tmp_path / "gt"),
            "--scorer",
            "unified",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert p.returncode == 1
    assert (
        p.stderr.count("\n") == 1
        and p.stderr.startswith("error: LPIPS needs")
        and "fetch-weights" in p.stderr
        and p.stderr.rstrip().endswith("or pass --allow-missing-lpips to score without LPIPS")
    )


def test_fetch_weights_from_file_verifies_the_official_hash(tmp_path, mx, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NESBENCH_LPIPS_BACKBONE", raising=False)
    assert main(["fetch-weights", "--from", str(mx.STUB)]) == 1
    assert "does not start with 7be5be79" in capsys.readouterr().err
    assert main(["fetch-weights", "--from", str(mx.STUB), "--no-verify"]) == 0
    from nesbench.metrics.lpips_alex import find_backbone

    installed = find_backbone()
    assert installed.read_bytes() == mx.STUB.read_bytes()


def _no_weights(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NESBENCH_LPIPS_BACKBONE", raising=False)


def _score_argv(tmp_path) -> list[str]:
    return [
        "metrics",
        "score",
        "--pred",
        str(tmp_path / "pred"),
        "--gt",
        str(tmp_path / "gt"),
        "--device",
        "cpu",
    ]


def test_score_allow_missing_lpips_writes_null_lpips_with_the_reason(
    tmp_path, mx, capsys, monkeypatch
) -> None:
    _no_weights(tmp_path, monkeypatch)
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", img)
    argv = [*_score_argv(tmp_path), "--scorer", "unified", "--json", str(tmp_path / "out.json")]
    assert main(argv) == 1 and not (tmp_path / "out.json").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "or pass --allow-missing-lpips" in err
    assert main([*argv, "--allow-missing-lpips"]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["mean"]["lpips"] is None and out["mean"]["psnr"] is not None and out["n_scored"] == 2
    assert out["unavailable"]["lpips"].startswith("unavailable: LPIPS needs")
    assert all(f.get("lpips") is None for f in out["frames"].values())
    assert "warning: lpips is null: LPIPS needs" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "expected"), [([], 48), (["--resolution", "32"], 32)])
def test_score_resolution_defaults_to_the_gt_width(tmp_path, mx, capsys, flag, expected) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=1, res=48)
    mx.write_png(tmp_path / "pred" / "1.png", imgs[1])
    argv = [*_score_argv(tmp_path), "--scorer", "unified", "--lpips-backbone", str(mx.STUB)]
    assert main([*argv, *flag, "--json", str(tmp_path / "o.json")]) == 0
    rec = json.loads((tmp_path / "o.json").read_text())
    assert rec["resolution"] == expected and rec["n_scored"] == 1
    how = "given" if flag else "the GT images' width"
    assert f"at {expected}px ({how})" in capsys.readouterr().out


def test_gt_resolution_reads_the_first_readable_header(tmp_path, mx) -> None:
    from nesbench.errors import DataError
    from nesbench.metrics.frames import gt_resolution, load_gt_sequence

    mx.make_sequence(tmp_path / "gt", n=2, res=16)
    (tmp_path / "gt" / "image" / "1.png").write_bytes(b"not a png")
    mx.write_png(tmp_path / "gt" / "image" / "2.png", np.zeros((512, 512, 3), np.uint8))
    assert gt_resolution(load_gt_sequence(tmp_path / "gt")) == 512  # RenderMe-360: the legacy 512
    (tmp_path / "gt" / "image" / "2.png").unlink()
    with pytest.raises(DataError, match="no readable ground-truth image.*pass --resolution N"):
        gt_resolution(load_gt_sequence(tmp_path / "gt"))


def test_list_shows_direction_and_aggregation(capsys) -> None:
    assert main(["metrics", "list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:5] == ["scorer", "version", "metric", "direction", "aggregation"]
    psnr = next(r for r in rows if r[:3] == ["unified", "1.1", "psnr"])
    assert psnr[3:7] == ["higher", "is", "better", "mean"]
    l1 = next(r for r in rows if r[:3] == ["renderme-pointavatar", "1.1", "l1"])
    assert l1[3:7] == ["lower", "is", "better", "mean"]
    assert main(["metrics", "list", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["scorer"] for x in lines] == ["unified", "renderme-imavatar", "renderme-pointavatar"]
    assert lines[0]["specs"]["lpips"] == {"higher_is_better": False, "aggregation": "mean"}
    assert "keypoint" in lines[0]["metrics"] and "keypoint" not in lines[2]["metrics"]


def test_score_with_decode_processes_gives_the_thread_values(tmp_path, mx, capsys) -> None:
    """calculate_metric.py as the main module of the spawned decode workers; a negative count is one-line error."""
    imgs = mx.make_sequence(tmp_path / "gt", n=3)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", img[::-1])
    argv = ["score", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--scorer", "unified",
            "--device", "cpu", "--lpips-backbone", str(mx.STUB)]  # fmt: skip
    out = {}
    for n in ("0", "2"):
        cmd = [sys.executable, str(REPO / "calculate_metric.py"), *argv, "--decode-processes", n]
        subprocess.run([*cmd, "--json", str(tmp_path / f"{n}.json")], check=True, capture_output=True)
        out[n] = json.loads((tmp_path / f"{n}.json").read_text())["frames"]
    assert out["2"] == out["0"] and len(out["0"]) == 3
    with pytest.raises(SystemExit) as exit_:
        main(["metrics", *argv, "--decode-processes", "-1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        "argument --decode-processes: -1 is out of range; a process count (0: threads) is 0..1024" in err[-1]
    )
