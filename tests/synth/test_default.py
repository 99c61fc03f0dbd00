"""The embedded default dataset: generated once, reused by stamp, regenerated on change, never left half-written."""

from __future__ import annotations

import dataclasses

import pytest

from nesbench.config import load_benchmark
from nesbench.synth import default


def _small(res=48, frames=2, seed=0):
    bench = load_benchmark("synthetic")
    return dataclasses.replace(
        bench, sequences=("e_0", "s_5"), extra={"synth": {"res": res, "frames": frames, "seed": seed}}
    )


def test_generates_reuses_and_regenerates(tmp_path):
    bench = _small()
    root = default.ensure_synthetic_data(bench, tmp_path / "data", progress=False)
    assert root == tmp_path / "data"
    seq = root / "testset1" / "9001" / "9001" / "e_0"
    assert sorted(p.name for p in (seq / "image").iterdir()) == ["1.png", "2.png"]
    stamp = (root / default.STAMP).stat().st_mtime_ns
    image = (seq / "image" / "1.png").stat().st_mtime_ns
    assert default.ensure_synthetic_data(bench, tmp_path / "data", progress=False) == root
    assert (root / default.STAMP).stat().st_mtime_ns == stamp and (
        seq / "image" / "1.png"
    ).stat().st_mtime_ns == image
    default.ensure_synthetic_data(_small(frames=3), tmp_path / "data", progress=False)
    assert sorted(p.name for p in (seq / "image").iterdir()) == ["1.png", "2.png", "3.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data.lock", "data"]  # no temp folders left behind


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(default, "render_subject", boom)
    with pytest.raises(KeyboardInterrupt):
        default.ensure_synthetic_data(_small(), tmp_path / "data", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [".data.lock"]


def test_folders_left_by_a_killed_generation_are_removed(tmp_path):
    stale = tmp_path / ".data.k1ll3d"  # what SIGKILL leaves: finally-blocks never ran
    (stale / "testset1").mkdir(parents=True)
    default.ensure_synthetic_data(_small(), tmp_path / "data", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data.lock", "data"]


def test_default_root_is_the_benchmark_cache(tmp_path):
    bench = _small()
    root = default.ensure_synthetic_data(bench, progress=False)
    assert root == bench.data_root() and (root / default.STAMP).exists()


def test_generated_dataset_passes_data_check(tmp_path, capsys):
    from nesbench.cli import main

    bench = dataclasses.replace(
        load_benchmark("synthetic"), extra={"synth": {"res": 64, "frames": 2, "seed": 0}}
    )
    root = default.ensure_synthetic_data(bench, tmp_path / "data", progress=False)
    assert main(["data", "check", str(root), "--benchmark", "synthetic"]) == 0
    assert "0 error(s)" in capsys.readouterr().out
