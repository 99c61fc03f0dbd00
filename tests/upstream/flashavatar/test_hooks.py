"""The overlay nes_hooks.py that the patched FlashAvatar lines call: the protocol's split from manifest.json, the
image size, the head pose on each camera, per-frame PNGs, and the LPIPS switch."""

from __future__ import annotations

import importlib.util
import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

HOOKS = Path(__file__).resolve().parents[3] / "novel_expression_synthesis" / "flashavatar" / "nes_hooks.py"


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("nes_hooks_test", HOOKS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_range_follows_the_manifest_and_keeps_upstream_without_one(hooks, tmp_path: Path) -> None:
    assert hooks.split_range(str(tmp_path), 0, 0, 10) == (0, 10)  # no manifest: upstream's range
    (tmp_path / "manifest.json").write_text(
        json.dumps({"train": [0, 12], "test": [12, 20], "image_size": [64, 48]})
    )
    assert hooks.split_range(str(tmp_path), 0, 0, -488) == (
        0,
        12,
    )  # upstream: N - 500 (negative for short data)
    assert hooks.split_range(str(tmp_path), 1, -480, 20) == (12, 20)
    assert hooks.split_range(str(tmp_path), 2, 7, 20) == (7, 20)  # upstream's short eval split is left alone
    assert hooks.image_hw(str(tmp_path)) == (48, 64)
    (tmp_path / "manifest.json").write_text(json.dumps({"train": [0, 20000], "test": [20000, 20010]}))
    assert hooks.split_range(str(tmp_path), 0, 0, 1) == (0, 10000)  # upstream's max_train_num


def test_head_pose_on_the_camera_identity_when_absent(hooks) -> None:
    cam = types.SimpleNamespace()
    neck = np.array([[0.0, 1.0, 0.0, -1.0, 0.0, 0.0]], np.float32)
    hooks.attach_head_pose(cam, {"neck": neck}, "cpu")
    assert torch.equal(cam.neck_pose, torch.from_numpy(neck))
    assert torch.equal(cam.rot_pose, torch.tensor([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]))
    assert set(hooks.head_pose(cam)) == {"neck_pose", "rot_pose"}


def test_frame_writer_writes_rgb_pngs_by_index(hooks, tmp_path: Path) -> None:
    out = hooks.FrameWriter(str(tmp_path / "r"))
    rgb = np.zeros((4, 5, 3), np.float32)
    rgb[..., 0] = 254.6  # red, float 0..255 as test.py's image_np
    out.write(7, rgb)
    out.release()
    img = cv2.imread(str(tmp_path / "r" / "00007.png"))[..., ::-1]
    assert img.shape == (4, 5, 3) and (img[..., 0] == 255).all() and not img[..., 1:].any()
    assert json.loads((tmp_path / "r" / "nes_render_done.json").read_text()) == {"frames": 1}
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["00007.png", "nes_render_done.json"]


def test_perceptual_loss_off_is_zero(hooks) -> None:
    loss = hooks.lpips_vgg("cpu", "off")
    assert float(loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)).mean()) == 0.0


def test_perceptual_loss_is_built_on_first_use_only(hooks, monkeypatch) -> None:
    built = []
    monkeypatch.setattr(
        hooks, "_lpips_vgg", lambda device: built.append(device) or (lambda a, b: (a - b).abs())
    )
    loss = hooks.lpips_vgg("cpu", "on")
    assert built == []  # upstream uses it after iteration 15,000 only: shorter runs need no VGG16 weights
    a, b = torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    assert float(loss(a, b).mean()) == 1.0 and float(loss(a, b).mean()) == 1.0
    assert built == ["cpu"]
