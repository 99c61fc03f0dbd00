"""Helpers for metric tests: tiny GT sequences and prediction folders written on the fly."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from nesbench.metrics.registry import scorer_formulas_at

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity"
STUB = FIXTURE / "lpips_alexnet_stub.pth"


def write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), img)


def make_sequence(
    seq_dir: Path, n: int = 3, res: int = 64, seed: int = 0, grey_mask: bool = False, cloth: bool = True
) -> dict[int, np.ndarray]:
    """A GT sequence: random image, a soft disc mask, semantic with a cloth band at the bottom. Returns images."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    disc = np.clip((res * 0.4 - np.hypot(yy - res / 2, xx - res / 2)) * 40, 0, 255).astype(np.uint8)
    sem = np.where(disc > 0, 1, 0).astype(np.uint8)
    if cloth:
        sem[int(res * 0.8) :, :] = 16
    frames, images = [], {}
    for k in range(1, n + 1):
        img = rng.integers(0, 256, (res, res, 3), dtype=np.uint8)
        images[k] = img
        write_png(seq_dir / "image" / f"{k}.png", img)
        write_png(seq_dir / "mask" / f"{k}.png", disc if grey_mask else np.repeat(disc[:, :, None], 3, 2))
        write_png(seq_dir / "semantic" / f"{k}.png", sem)
        kps = rng.uniform(-0.5, 0.5, (70, 2)).tolist()
        frames.append(
            {
                "file_path": f"./image/{k}",
                "expression": [0.0] * 50,
                "pose": [0.0] * 15,
                "flame_keypoints": kps,
                "world_mat": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, -4]],
                "bbox": [-1, -1, 1, 1],
            }
        )
    (seq_dir / "flame_params.json").write_text(
        json.dumps({"frames": frames, "shape_params": [0.0] * 100, "intrinsics": [-1.5, 1.5, 0.5, 0.5]})
    )
    return images


@pytest.fixture
def stub() -> Path:
    return STUB


@pytest.fixture
def mx() -> SimpleNamespace:
    """The helpers of this file (pytest's importlib mode does not let test modules import conftest)."""
    return SimpleNamespace(
        FIXTURE=FIXTURE,
        STUB=STUB,
        make_sequence=make_sequence,
        write_png=write_png,
        scorer_at=scorer_formulas_at,
    )
