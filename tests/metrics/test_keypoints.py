"""Keypoint error through a fake face_alignment module (the real one and its weights are not available here)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from nesbench.metrics.score import score_sequence


def _fake_face_alignment(offset: float, no_face_on: set[int]) -> types.ModuleType:
    mod = types.ModuleType("face_alignment")

    class LandmarksType:  # new API name only: the code must find TWO_D
        TWO_D = "2D"

    class FaceAlignment:
        targets: list = []

        def __init__(self, kind, flip_input=False, device="cpu"):
            assert kind == "2D" and flip_input is False

        def get_landmarks(self, image):
            assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
            k = int(image[0, 0, 0])  # the test writes the frame number into pixel (0, 0)
            if k in no_face_on:
                return None
            return [FaceAlignment.targets[k] + np.array([offset, 0.0])]

    mod.LandmarksType, mod.FaceAlignment = LandmarksType, FaceAlignment
    return mod


def test_keypoint_error_with_face_alignment(tmp_path, mx, monkeypatch) -> None:
    mx.make_sequence(tmp_path / "gt", n=3)
    fake = _fake_face_alignment(offset=3.0, no_face_on={3})
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    import json

    frames = json.loads((tmp_path / "gt" / "flame_params.json").read_text())["frames"]
    fake.FaceAlignment.targets = {
        k: ((np.array(frames[k - 1]["flame_keypoints"])[:68] + 1.0) * 64 / 2).astype(int) for k in (1, 2, 3)
    }
    for k in (1, 2, 3):
        img = np.full((64, 64, 3), 200, np.uint8)
        img[0, 0, 0] = k
        mx.write_png(tmp_path / "pred" / f"{k}.png", img)

    def score(name: str) -> dict:
        sc = mx.scorer_at(name, 64)
        return score_sequence(tmp_path / "pred", tmp_path / "gt", sc, device="cpu", lpips_backbone=mx.STUB)

    rec = score("unified")
    assert rec["unavailable"] == {} and "face_drop_rule" not in rec
    assert rec["n_scored"] == 3  # unified: a frame without a detected face is kept for every other metric
    assert rec["frames"]["1"]["keypoint"] == pytest.approx(3.0)
    assert rec["frames"]["3"]["keypoint"] is None
    assert rec["metric_failures"]["3"]["keypoint"].startswith("no face detected")
    assert rec["mean"]["keypoint"] == pytest.approx(3.0)
    # renderme-imavatar: the benchmark's metrics.py:239-242 drops such a frame from every metric, counted
    im = score("renderme-imavatar")
    assert im["face_drop_rule"] == "applied"
    assert im["n_expected"] == 3 and im["n_scored"] == 2 and im["n_dropped"] == 1 and im["failed"] == {}
    assert set(im["frames"]) == {"1", "2"} and im["dropped"]["3"].startswith("no face detected")
    assert im["mean"]["psnr"] == pytest.approx(np.mean([im["frames"][k]["psnr"] for k in ("1", "2")]))


def test_without_face_alignment_the_drop_rule_is_reported_not_applied(tmp_path, mx, monkeypatch) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", img)
    monkeypatch.setitem(sys.modules, "face_alignment", None)  # import fails
    sc = mx.scorer_at("renderme-imavatar", 64)
    rec = score_sequence(tmp_path / "pred", tmp_path / "gt", sc, device="cpu", lpips_backbone=mx.STUB)
    assert rec["n_scored"] == 2 and rec["n_dropped"] == 0
    assert rec["face_drop_rule"].startswith("not applied: frames on which FAN finds no face are kept")


def test_old_face_alignment_api_uses__2D(monkeypatch) -> None:
    from nesbench.metrics.keypoints import load_detector

    fake = _fake_face_alignment(0.0, set())
    fake.LandmarksType = type("LandmarksType", (), {"_2D": "2D"})
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    detector, reason = load_detector("cpu")
    assert reason is None and detector is not None


def test_face_alignment_that_cannot_start_is_reported(monkeypatch) -> None:
    from nesbench.metrics.keypoints import load_detector

    fake = _fake_face_alignment(0.0, set())

    def broken(*a, **k):
        raise OSError("weights not downloadable")

    fake.FaceAlignment = broken
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    detector, reason = load_detector("cpu")
    assert detector is None and "weights not downloadable" in reason and reason.startswith("unavailable:")


def test_fan_weights_folder_is_what_face_alignment_sees_as_torch_hub_checkpoints(
    tmp_path, monkeypatch
) -> None:
    import torch.hub

    from nesbench.metrics.keypoints import load_detector

    weights = tmp_path / "fan"
    weights.mkdir()
    (weights / "2DFAN4-11f355bf06.pth.tar").write_bytes(b"fan")
    seen = []
    fake = _fake_face_alignment(0.0, set())
    before = torch.hub.get_dir()

    class Recording(fake.FaceAlignment):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            seen.append(sorted(p.name for p in (Path(torch.hub.get_dir()) / "checkpoints").iterdir()))

    fake.FaceAlignment = Recording
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    detector, reason = load_detector("cpu", weights)
    assert reason is None and seen == [["2DFAN4-11f355bf06.pth.tar"]] and torch.hub.get_dir() == before
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "weights" / "face-alignment").mkdir(parents=True)
    (tmp_path / "cache" / "weights" / "face-alignment" / "s3fd-619a316812.pth").write_bytes(b"s3fd")
    assert load_detector("cpu")[1] is None and seen[-1] == ["s3fd-619a316812.pth"]  # the cache by default
    detector, reason = load_detector("cpu", tmp_path / "nowhere")
    assert detector is None and "FAN weights folder not found" in reason and "--fan-weights DIR" in reason
