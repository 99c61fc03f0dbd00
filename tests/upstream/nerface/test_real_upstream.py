"""Against the real NeRFace code (skipped unless NESBENCH_TEST_MIRROR=DIR holds DIR/4D-Facial-Avatars): install,
every patch applies, and a few CPU iterations train and render the tiny synthetic subject through `nesbench run`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nesbench.upstream import flame
from nesbench.upstream.install import install, status
from nesbench.upstream.pins import get_pin

TINY = {
    "nerf.train.num_random_rays": 32,
    "nerf.train.chunksize": 32,
    "nerf.train.num_coarse": 4,
    "nerf.train.num_fine": 4,
    "nerf.validation.num_coarse": 4,
    "nerf.validation.num_fine": 4,
    "nerf.validation.chunksize": 4096,
    "experiment.save_every": 1,
}


@pytest.fixture(scope="module")
def real_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("NESBENCH_TEST_MIRROR")
    if not root or not (Path(root) / "4D-Facial-Avatars").exists():
        pytest.skip(
            "set NESBENCH_TEST_MIRROR=DIR holding DIR/4D-Facial-Avatars to run against the real NeRFace code"
        )
    up = tmp_path_factory.mktemp("up")
    pin = get_pin("nerface")
    code = install(pin, mirror=Path(root), root=up, say=lambda m: None)
    flame.install_synthetic_flame([pin], {"nerface": code})
    return code


def test_every_patch_applies_to_the_pinned_commit(real_code: Path) -> None:
    st = status(get_pin("nerface"), root=real_code.parents[2])
    assert st["commit"] == get_pin("nerface").commit
    assert set(st["patches"].values()) == {"applied"}, st["patches"]
    assert st["overlays"] == "installed" and st["flame"] == "synthetic"


@pytest.mark.slow
def test_tiny_cpu_training_and_render_through_the_harness(
    real_code: Path, tmp_path: Path, monkeypatch
) -> None:
    from nesbench.pipeline.run import RunOptions, run_pipeline

    monkeypatch.setenv("NESBENCH_UPSTREAM", str(real_code.parents[2]))
    out = tmp_path / "run"
    opts = RunOptions(
        benchmark="synthetic_tiny",
        out=out,
        methods=["nerface"],
        protocols=["expression"],
        scorers=["unified"],
        allow_cpu=True,
        iterations=2,
        overrides={k: str(v) for k, v in TINY.items()},
    )
    run_pipeline(opts)
    summary = json.loads((out / "summary.json").read_text())
    rows = [e for e in summary["entries"] if e["method"] == "nerface" and e["level"] == "protocol"]
    assert rows and all(e["n_scored"] == e["n_expected"] > 0 for e in rows)
    info = json.loads((out / "runs" / "nerface" / "expression" / "9001" / "method_info.json").read_text())
    assert info["train_iterations"] == 2 and info["checkpoint"].endswith("checkpoint00001.ckpt")
