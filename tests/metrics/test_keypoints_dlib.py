"""The offline dlib 68-point keypoint metric on a real face (scikit-image's public-domain astronaut photograph).

Skipped where the optional extra is not installed (`pip install -e .[keypoints-dlib]`; test.sh installs it on Linux
x86_64, Python < 3.13).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data

from nesbench.metrics.keypoints import NoFaceDetected
from nesbench.metrics.keypoints_dlib import load_dlib_detector
from nesbench.metrics.results_md import markdown_table, na_cell
from nesbench.metrics.score import score_sequence

pytest.importorskip("dlib", reason="pip install -e .[keypoints-dlib]")
DETECTOR, REASON = load_dlib_detector()


def test_dlib_finds_the_68_points_of_a_real_face() -> None:
    assert REASON is None, REASON
    pts = DETECTOR.landmarks(data.astronaut())  # 512x512, one face (plus a weak false positive at upsample 1)
    assert pts.shape == (68, 2)
    x0, y0, x1, y1 = pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()
    assert 160 < x0 < x1 < 280 and 70 < y0 < y1 < 190  # on Eileen Collins' face (box 175,76 - 265,166)
    left_eye, right_eye, mouth = pts[36:42].mean(0), pts[42:48].mean(0), pts[48:68].mean(0)
    assert left_eye[0] < right_eye[0] and max(left_eye[1], right_eye[1]) < pts[30, 1] < mouth[1]  # iBUG order
    assert DETECTOR.error(data.astronaut(), pts + [3.0, 4.0]) == pytest.approx(5.0)
    with pytest.raises(NoFaceDetected, match="no face detected by dlib"):
        DETECTOR.landmarks(np.full((128, 128, 3), 200, np.uint8))


def test_keypoint_dlib_is_its_own_metric_and_reports_frames_without_a_face(tmp_path, mx) -> None:
    """Frame 1 is the astronaut, frame 2 a flat image: one value, one 'no face' note; FAN's column stays apart."""
    mx.make_sequence(tmp_path / "gt", n=2, res=512)
    face = data.astronaut()
    target = (DETECTOR.landmarks(face) + [2.0, 0.0]) / 256.0 - 1.0  # GT 2 px to the right, in [-1, 1]
    params = json.loads((tmp_path / "gt" / "flame_params.json").read_text())
    params["frames"][0]["flame_keypoints"] = target.tolist() + [[0.0, 0.0]] * 2
    (tmp_path / "gt" / "flame_params.json").write_text(json.dumps(params))
    mx.write_png(tmp_path / "pred" / "1.png", face)
    mx.write_png(tmp_path / "pred" / "2.png", np.full((512, 512, 3), 200, np.uint8))
    rec = score_sequence(tmp_path / "pred", tmp_path / "gt", "unified", device="cpu", lpips_backbone=mx.STUB)
    assert rec["frames"]["1"]["keypoint_dlib"] == pytest.approx(2.0, abs=0.6)  # integer GT pixels
    assert rec["frames"]["2"]["keypoint_dlib"] is None and rec["n_scored"] == 2
    assert rec["no_face"] == {"keypoint_dlib": 1} and "keypoint" not in rec["frames"]["1"]
    assert rec["keypoint_dlib_model"]["model_sha256"].startswith("fbdc2cb8")
    entry = {"no_face": {"keypoint_dlib": 8}, "n_scored": 8}
    assert na_cell({}, "unified", entry, "keypoint_dlib") == "n/a: no face detected on 8/8 frames"


def test_unavailable_metrics_show_their_reason_in_the_table() -> None:
    reason = "unavailable: dlib not installed (pip install -e .[keypoints-dlib]); more"
    summary = {
        "provenance": {},
        "metrics": {
            "unified": {"lpips": {"higher_is_better": False}, "keypoint_dlib": {"higher_is_better": False}}
        },
        "unavailable": {"unified": {"keypoint_dlib": reason}},
        "entries": [
            {
                "protocol": "p",
                "level": "protocol",
                "method": "m",
                "scorer": "unified",
                "metrics": {"lpips": None, "keypoint_dlib": None},
                "no_face": {"lpips": 0},
                "n_scored": 3,
                "n_expected": 3,
            }
        ],
    }
    table = markdown_table(summary)
    assert "n/a: dlib not installed" in table and f"- unified keypoint_dlib: {reason}" in table
