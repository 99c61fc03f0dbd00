"""scripts/region_errors.py: per-region errors on the synthetic tiny subject, checked against hand-made predictions."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nesbench.config import load_benchmark
from nesbench.data.layout import frame_files, prediction_dir, sequence_dir
from nesbench.synth.default import ensure_synthetic_data

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "region_errors.py"


@pytest.fixture(scope="module")
def region_errors():
    spec = importlib.util.spec_from_file_location("region_errors", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_predictions(data: Path, runs: Path, method: str, make) -> None:
    bench = load_benchmark("synthetic_tiny")
    subject = bench.subjects[0]
    for split in bench.protocol("expression").splits:
        for seq in split.sequences:
            src = sequence_dir(data, bench.testset_of(subject), subject, seq)
            dst = prediction_dir(runs, method, "expression", subject, seq)
            dst.mkdir(parents=True)
            for p in frame_files(src / "image").values():
                img = np.asarray(Image.open(p)).astype(np.float64)
                m0 = np.asarray(Image.open(src / "mask" / p.name))[..., :1].astype(np.float64) / 255
                Image.fromarray(make(img * m0 + 255 * (1 - m0), m0).round().astype(np.uint8)).save(
                    dst / p.name
                )


def test_regions_split_the_error(region_errors, tmp_path: Path) -> None:
    data = ensure_synthetic_data(load_benchmark("synthetic_tiny"))
    runs = tmp_path / "runs"
    _write_predictions(data, runs, "exact", lambda on_white, m0: on_white)
    # black wherever the mask is: every foreground pixel is wrong, the background exact
    _write_predictions(data, runs, "black-fg", lambda on_white, m0: on_white * (m0 < 0.5))
    rows = region_errors.table(
        region_errors.collect(runs, data, "synthetic_tiny", "expression", ["exact", "black-fg"])
    )
    by = {(r["method"], r["region"]): r for r in rows}
    for region in ("full image", *region_errors.REGIONS):
        assert by["exact", region]["mae"] == 0.0
    assert by["exact", "head"]["psnr"] is None
    assert by["black-fg", "background"]["share_sq_err"] == 0.0
    assert by["black-fg", "torso"]["mae"] > 0.05 and by["black-fg", "head"]["mae"] > 0.05
    shares = sum(by["black-fg", r]["share_px"] for r in region_errors.REGIONS)
    assert shares == pytest.approx(1.0)
    assert sum(by["black-fg", r]["share_sq_err"] for r in region_errors.REGIONS) == pytest.approx(1.0)


def test_cli_writes_table_json_and_picture(region_errors, tmp_path: Path, capsys) -> None:
    data = ensure_synthetic_data(load_benchmark("synthetic_tiny"))
    runs = tmp_path / "runs"
    _write_predictions(data, runs, "exact", lambda on_white, m0: on_white)
    seq = load_benchmark("synthetic_tiny").protocol("expression").splits[0].sequences[0]
    rc = region_errors.main(
        [
            "--runs",
            str(runs),
            "--data",
            str(data),
            "--benchmark",
            "synthetic_tiny",
            "--methods",
            "exact",
            "--json",
            str(tmp_path / "r.json"),
            "--picture",
            str(tmp_path / "r.png"),
            "--picture-frame",
            f"{seq}:1",
        ]
    )
    assert rc == 0
    assert "| exact | torso |" in capsys.readouterr().out
    assert (tmp_path / "r.png").stat().st_size > 1000
    shutil.rmtree(runs)
