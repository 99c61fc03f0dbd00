"""`nesbench data check|fix-masks` through the CLI: exit codes, --json, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from nesbench.cli import main
from nesbench.paths import REPO_ROOT


def e1(root: Path) -> Path:
    return root / "testset1" / "0100" / "0100" / "e_1"


def test_check_good_exit_0(dataset: Path, capsys) -> None:  # noqa: ANN001
    assert main(["data", "check", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "e_1" in out and out.strip().splitlines()[-1].startswith("OK:")


def test_check_broken_exit_1_and_json(dataset: Path, capsys) -> None:  # noqa: ANN001
    (e1(dataset) / "mask" / "2.png").unlink()
    assert main(["data", "check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert "ERROR [missing-mask] testset1/0100/0100/e_1/mask: frame(s) 2 listed" in out
    assert out.strip().splitlines()[-1].startswith("FAIL: 1 error(s)")
    assert main(["data", "check", str(dataset), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and [i["code"] for i in report["issues"]] == ["missing-mask"]


def test_check_with_benchmark_and_subjects(make_dataset, tiny_benchmark, capsys) -> None:  # noqa: ANN001
    root = make_dataset(subjects={"testset1": ["0100"], "testset2": ["0041"]})
    assert (
        main(["data", "check", str(root), "--benchmark", str(tiny_benchmark.source), "--subjects", "0041"])
        == 0
    )
    out = capsys.readouterr().out
    assert "subject 0041 (testset2)" in out and "subject 0100" not in out
    assert (
        main(["data", "check", str(root), "--benchmark", str(tiny_benchmark.source), "--subjects", "nobody"])
        == 1
    )
    assert "error: unknown subject or test set 'nobody'" in capsys.readouterr().err


def test_check_missing_root_is_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["data", "check", str(tmp_path / "absent")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no such folder" in err and "\n" not in err


def test_fix_masks_then_strict_check_passes(dataset: Path, capsys) -> None:  # noqa: ANN001
    gray = np.zeros((16, 16), np.uint8)
    gray[4:12, 4:12] = 255
    for k in (1, 2, 3):
        Image.fromarray(gray).save(e1(dataset) / "mask" / f"{k}.png")
    assert main(["data", "check", str(dataset), "--strict"]) == 1
    assert "mask-1channel" in capsys.readouterr().out
    assert main(["data", "check", str(dataset)]) == 0  # a warning only by default
    capsys.readouterr()
    assert main(["data", "fix-masks", str(dataset)]) == 0
    assert "converted 3 of 6 mask(s)" in capsys.readouterr().out
    with Image.open(e1(dataset) / "mask" / "2.png") as im:
        assert im.mode == "RGB"
        assert (np.asarray(im)[..., 1] == gray).all()
    assert main(["data", "check", str(dataset), "--strict"]) == 0
    assert not list((e1(dataset) / "mask").glob(".*"))  # no temp files left behind


def test_subprocess_never_prints_a_traceback(dataset: Path) -> None:
    p = e1(dataset) / "flame_params.json"
    p.write_bytes(b"\xff\xfe not json")
    (e1(dataset) / "image" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    outputs = []
    for args in ([str(dataset)], [str(dataset), "--json"], [str(dataset / "nope")]):
        proc = subprocess.run(
            [sys.executable, "-m", "nesbench", "data", "check", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        outputs.append(proc)
    assert "[json-invalid]" in outputs[0].stdout and "[not-png]" in outputs[0].stdout
    assert {i["code"] for i in json.loads(outputs[1].stdout)["issues"]} >= {"json-invalid", "not-png"}
    assert outputs[2].stderr.startswith("error: ") and "no such folder" in outputs[2].stderr


def test_check_defaults_to_the_benchmark_data_root(make_dataset, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    root = make_dataset(subjects={"testset1": ["0100"]})
    conf = tmp_path / "mine.conf"
    conf.write_text(
        f'name = mine\nresolution = 16\ndata_root = "{root}"\ntestsets {{ testset1 = ["0100"] }}\n'
        'sequences = ["e_0", "e_1"]\nprotocols { p { train = ["e_0"], splits { t = ["e_1"] } } }\n'
    )
    assert main(["data", "check", "--benchmark", str(conf)]) == 0
    assert f"dataset: {root}   benchmark: mine" in capsys.readouterr().out
    assert main(["data", "check"]) == 1
    assert "error: no dataset given; pass ROOT" in capsys.readouterr().err
