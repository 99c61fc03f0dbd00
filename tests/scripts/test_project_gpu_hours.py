"""scripts/project_gpu_hours.py: frames counted in the data (or estimated), epochs from the method confs, hours."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from nesbench.config import load_benchmark
from nesbench.synth.default import ensure_synthetic_data

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "project_gpu_hours.py"


@pytest.fixture(scope="module")
def proj():
    spec = importlib.util.spec_from_file_location("project_gpu_hours", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_counts_frames_in_the_data_and_applies_the_formula(proj, tmp_path):
    data = ensure_synthetic_data(load_benchmark("synthetic_tiny"))  # 4 frames per sequence
    out = tmp_path / "rows.json"
    assert proj.main(["--benchmark", "synthetic_tiny", "--methods", "imavatar",
                      "--term", "imavatar:train=2,eval=36", "--json", str(out)]) == 0  # fmt: skip
    rows = {r["protocol"]: r for r in json.loads(out.read_text())}
    expr, speech = rows["expression"], rows["speech"]
    # expression: train e_0..e_5, test e_6..e_11 (6 sequences each); speech: train s_5, s_6, test 11 + s_4
    assert (expr["train_frames"], expr["test_frames"]) == (24, 24)
    assert (speech["train_frames"], speech["test_frames"]) == (8, 48)
    assert expr["frames_from"] == f"counted in {data}"
    assert expr["epochs"] == 100 and speech["epochs"] == 300  # configs/methods/imavatar.conf
    assert expr["train_h"] == pytest.approx(100 * 24 * 2 / 3600)
    assert expr["eval_h"] == pytest.approx(24 * 36 / 3600)
    assert speech["total_h"] == pytest.approx((300 * 8 * 2 + 48 * 36) / 3600 * 1)


def test_estimates_frames_without_data_and_says_so(proj, tmp_path, capsys):
    assert (
        proj.main(
            ["--benchmark", "synthetic_tiny", "--data", str(tmp_path / "none"), "--methods", "pointavatar"]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "estimate (download page)" in text
    # ~120 frames per expression sequence x 6 training sequences
    assert "| pointavatar | expression | 100 | 722 / 722 |" in text


def test_bad_term_is_one_clear_error(proj):
    with pytest.raises(SystemExit, match="METHOD:train=SECONDS,eval=SECONDS"):
        proj.main(["--term", "imavatar:train=fast"])
    with pytest.raises(SystemExit, match="no measured cost for 'nerface'"):
        proj.main(["--benchmark", "synthetic_tiny", "--methods", "nerface"])
