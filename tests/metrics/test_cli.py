"""calculate_metric.py / nesbench metrics score, and nesbench fetch-weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
            "--resolution",
            "64",
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


def test_fetch_weights_offline_says_what_to_do(monkeypatch, capsys) -> None:
    import urllib.request

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["fetch-weights"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fetch-weights --from alexnet-owt-7be5be79.pth" in err
