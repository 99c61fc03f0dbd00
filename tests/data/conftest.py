"""Small datasets in the RenderMe-360 NES layout, built per test (2 sequences x 3 frames at 16x16 by default)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nesbench.config import Benchmark, load_benchmark


def flame_params(n_frames: int, seed: int = 0) -> dict:
    """A valid flame_params.json (spec 1.2): identity world_mat rotation, normalised intrinsics, 68 keypoints."""
    rng = np.random.default_rng(seed)
    return {
        "intrinsics": [-1.5, 1.5, 0.5, 0.5],
        "shape_params": np.round(np.linspace(-1, 1, 100), 6).tolist(),
        "frames": [
            {
                "file_path": f"./image/{k}",
                "world_mat": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -4.0]],
                "expression": rng.normal(size=50).round(4).tolist(),
                "pose": rng.normal(scale=0.1, size=15).round(4).tolist(),
                "bbox": [-0.5, -0.5, 0.5, 0.5],
                "flame_keypoints": rng.uniform(-1, 1, size=(68, 2)).round(4).tolist(),
            }
            for k in range(1, n_frames + 1)
        ],
    }


def write_sequence(folder: Path, n_frames: int = 3, size: int = 16, seed: int = 0) -> None:
    """One sequence: image/ (RGB), mask/ (RGB, as IMavatar preprocessing writes them), semantic/ (labels 0..18)."""
    rng = np.random.default_rng(seed)
    for sub in ("image", "mask", "semantic"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for k in range(1, n_frames + 1):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / "image" / f"{k}.png"
        )
        m = np.zeros((size, size), np.uint8)
        m[size // 4 : -size // 4, size // 4 : -size // 4] = 255
        Image.fromarray(np.stack([m] * 3, -1)).save(folder / "mask" / f"{k}.png")
        Image.fromarray(rng.integers(0, 19, (size, size), dtype=np.uint8), mode="L").save(
            folder / "semantic" / f"{k}.png"
        )
    (folder / "flame_params.json").write_text(json.dumps(flame_params(n_frames, seed)))


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: make_dataset(name='data', subjects={'testset1': ['0100']}, sequences=('e_0', 'e_1')) -> root."""

    def make(
        name: str = "data",
        subjects: dict[str, list[str]] | None = None,
        sequences: tuple[str, ...] = ("e_0", "e_1"),
        frames: int = 3,
        size: int = 16,
    ) -> Path:
        root = tmp_path / name
        for testset, ids in (subjects or {"testset1": ["0100"]}).items():
            for sid in ids:
                for i, seq in enumerate(sequences):
                    write_sequence(root / testset / sid / sid / seq, frames, size, seed=i)
        return root

    return make


@pytest.fixture
def dataset(make_dataset: Callable[..., Path]) -> Path:
    """The default good dataset: testset1/0100/0100/{e_0,e_1}, 3 frames each at 16x16."""
    return make_dataset()


@pytest.fixture
def tiny_benchmark(tmp_path: Path) -> Benchmark:
    """A benchmark with two subjects in two test sets and one protocol (train e_0, test e_1)."""
    conf = tmp_path / "tiny.conf"
    conf.write_text(
        """
name = tiny
title = "tiny test benchmark"
resolution = 16
data_root = "unused"
testsets { testset1 = ["0100"], testset2 = ["0041"] }
sequences = ["e_0", "e_1", "e_2"]
protocols { expression { train = ["e_0"], splits { test = ["e_1"] } } }
"""
    )
    return load_benchmark(conf)
