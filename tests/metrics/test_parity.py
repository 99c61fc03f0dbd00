"""Both legacy scorers reproduce the benchmark's own metric code per frame on the parity fixture: 512 px input and
predictions, 512 px input with 256 px predictions (upsampled to 512 by both), and 256 px input with 256 px
predictions (both upsampled to 512, as the benchmark's ``res = 512``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nesbench.metrics.score import score_sequence

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity"
STUB = FIXTURE / "lpips_alexnet_stub.pth"

# input case -> (prediction folder, GT folder, the benchmark code's values on them)
INPUTS = {
    "gt512-pred512": ("pred", "gt", "expected.json"),
    "gt512-pred256": ("pred256", "gt", "expected_gt512_pred256.json"),
    "gt256-pred256": ("pred256", "gt256", "expected_gt256_pred256.json"),
}
EXPECTED = {case: json.loads((FIXTURE / f).read_text()) for case, (_, _, f) in INPUTS.items()}
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


@pytest.fixture(scope="module")
def small_results() -> dict:
    """The 256 px cases, scored once per scorer (batch size 4)."""
    return {
        (case, name): score_sequence(
            FIXTURE / pred, FIXTURE / gt, name, device="cpu", lpips_backbone=STUB, batch_size=4
        )
        for case, (pred, gt, _) in INPUTS.items()
        if case != "gt512-pred512"
        for name in CASES
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", list(INPUTS))
@pytest.mark.parametrize("scorer", list(CASES))
def test_legacy_scorer_matches_benchmark_code(
    results: dict, small_results: dict, scorer: str, case: str
) -> None:
    key, mapping = CASES[scorer]
    rec = results[scorer][4] if case == "gt512-pred512" else small_results[case, scorer]
    assert rec["n_expected"] == rec["n_scored"] == 6 and rec["failed"] == {}
    for k, want in EXPECTED[case][key].items():
        for ours, theirs in mapping.items():
            assert rec["frames"][k][ours] == pytest.approx(want[theirs], abs=TOL[ours]), (
                scorer,
                case,
                k,
                ours,
            )


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
