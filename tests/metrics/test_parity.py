"""Both legacy scorers reproduce the benchmark's own metric code per frame on the parity fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nesbench.metrics.score import score_sequence

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity"
STUB = FIXTURE / "lpips_alexnet_stub.pth"

EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
TOL = {"psnr": 1e-4, "ssim": 1e-5, "l1": 1e-5, "mae": 1e-5, "mse": 1e-5, "lpips": 1e-5}
CASES = {
    "renderme-imavatar": (
        "renderme_imavatar",
        {
            "l1": "mae_l",
            "mae": "mae_l",
            "mse": "mse_l",
            "psnr": "psnr_l",
            "ssim": "ssim_l",
            "lpips": "perceptual_l",
        },
    ),
    "renderme-pointavatar": (
        "renderme_pointavatar_nocloth",
        {
            "l1": "l1_l",
            "mae": "mae_l",
            "mse": "mse_l",
            "psnr": "psnr_l",
            "ssim": "ssim_l",
            "lpips": "perceptual_l",
        },
    ),
}


@pytest.fixture(scope="module")
def results() -> dict:
    return {
        name: {
            bs: score_sequence(
                FIXTURE / "pred", FIXTURE / "gt", name, device="cpu", lpips_backbone=STUB, batch_size=bs
            )
            for bs in (1, 4)
        }
        for name in CASES
    }


@pytest.mark.slow
@pytest.mark.parametrize("scorer", list(CASES))
def test_legacy_scorer_matches_benchmark_code(results: dict, scorer: str) -> None:
    key, mapping = CASES[scorer]
    rec = results[scorer][4]
    assert rec["n_expected"] == rec["n_scored"] == 6 and rec["failed"] == {}
    for k, want in EXPECTED[key].items():
        for ours, theirs in mapping.items():
            assert rec["frames"][k][ours] == pytest.approx(want[theirs], abs=TOL[ours]), (scorer, k, ours)


@pytest.mark.slow
@pytest.mark.parametrize("scorer", list(CASES))
def test_batch_size_does_not_change_values(results: dict, scorer: str) -> None:
    a, b = results[scorer][1]["frames"], results[scorer][4]["frames"]
    for k in a:
        for m in a[k]:
            assert a[k][m] == pytest.approx(b[k][m], rel=1e-6, abs=1e-7)


def test_pointavatar_l1_is_the_squared_error_and_imavatar_l1_the_mae(results: dict) -> None:
    pa = results["renderme-pointavatar"][4]["frames"]["1"]
    im = results["renderme-imavatar"][4]["frames"]["1"]
    assert pa["l1"] == pa["mse"] != pa["mae"]
    assert im["l1"] == im["mae"] != im["mse"]
    assert results["renderme-imavatar"][4]["unavailable"]["keypoint"].startswith(
        "unavailable: face-alignment not installed (pip install -e .[keypoints])"
    )
    assert results["renderme-imavatar"][4]["mean"]["keypoint"] is None
