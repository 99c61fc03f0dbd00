"""scripts/bench_upstream.sh + scripts/bench_table.py with a fake training and rendering command (CPU): argument
handling, the per-variant environment (speed-ups, TF32), byte comparison with `off`, scoring and the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_upstream.sh"

# Training: writes the harness's train marker (final epoch, train_dir) and a log with IMavatar's epoch lines; records
# the environment it saw. Rendering: the GT frames of the sequence, shifted by one grey level under TF32.
FAKE_TRAIN = r"""
import json, os, sys
a = sys.argv[1:]
get = lambda k: a[a.index(k) + 1]
runs, m, subject, epochs = get("--runs"), get("--methods"), get("--subjects"), int(get("--epochs"))
exps = next(s.split("=", 1)[1] for s in a if s.startswith("train.exps_folder="))
job = os.path.join(runs, m, "expression", subject)
os.makedirs(job + "/logs", exist_ok=True)
train_dir = os.path.join(exps, subject, "M", "split", "train")
from nesbench.ledger import ledger_for_runs
ledger, key = ledger_for_runs(runs), f"{m}/expression/{subject}"
ledger.start(key, "train")
ledger.finish(key, "train", ok=True, result={"final_epoch": epochs, "train_dir": train_dir})
open(job + "/logs/train.log", "w").write("".join(f"Epoch time: {2.0 + i}\n" for i in range(epochs)))
env = {k: os.environ.get(k) for k in ("NESBENCH_SPEEDUPS", "NESBENCH_TF32", "NESBENCH_DETERMINISTIC")}
json.dump(env, open(os.path.join(runs, "env.json"), "w"))
"""
FAKE_EVAL = r"""
import json, os, shutil, sys
import numpy as np
from PIL import Image
m, conf, seq, final, workdir = sys.argv[1:6]
runs = os.path.dirname(workdir) + "/runs"
from nesbench.ledger import ledger_for_runs
train_dir = ledger_for_runs(runs).result(f"{m}/expression/" + os.listdir(runs + "/" + m + "/expression")[0], "train")["train_dir"]
pred = "rgb" if m == "imavatar" else "rgb_erode_dilate"
out = os.path.join(os.path.dirname(train_dir), "eval", seq, "epoch_" + final, pred)
os.makedirs(out)
gt = os.environ["FAKE_GT"]
for name in sorted(os.listdir(gt + "/image")):
    img = np.asarray(Image.open(os.path.join(gt, "image", name)).convert("RGB")).astype(np.int16)
    if os.environ.get("NESBENCH_TF32") == "1":
        img = np.clip(img + 1, 0, 255)
    Image.fromarray(img.astype(np.uint8)).save(os.path.join(out, name.rsplit(".", 1)[0] + ".png"))
    print("Plot time per frame: 0.5")
"""


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "NESBENCH_CACHE": str(cache)}
    env.pop("NESBENCH_DATA", None)
    code = (
        "from nesbench.config import load_benchmark; from nesbench.synth.default import ensure_synthetic_data; "
        "ensure_synthetic_data(load_benchmark('synthetic_tiny'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return env


def _bench(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "train.py").write_text(FAKE_TRAIN)
    (tmp_path / "eval.py").write_text(FAKE_EVAL)
    gt = next(Path(env["NESBENCH_CACHE"]).rglob("e_6"))
    env = {
        **env,
        "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
        "NESBENCH_BENCH_TRAIN": f"{sys.executable} {tmp_path / 'train.py'}",
        "NESBENCH_BENCH_EVAL": f"{sys.executable} {tmp_path / 'eval.py'}",
        "FAKE_GT": str(gt),
    }
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=tmp_path)


def test_bench_writes_the_before_after_table(tmp_path, tiny_data):
    out = tmp_path / "out"
    r = _bench(
        tmp_path,
        tiny_data,
        *("--methods", "imavatar", "--benchmark", "synthetic_tiny", "--im-epochs", "2", "--out", str(out)),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    table = (out / "bench.md").read_text()
    rows = {
        line.split(" | ")[1]: line.split(" | ")
        for line in table.splitlines()
        if line.startswith("| imavatar")
    }
    assert set(rows) == {"off", "on", "tf32"}
    assert rows["off"][2] == "none" and rows["on"][2] == "all" and rows["tf32"][3] == "on"
    assert rows["on"][6] == "2.5"  # mean of the runner's "Epoch time:" lines
    assert rows["on"][7] == "4" and rows["on"][9] == "0.50"  # frames of e_6 (synthetic_tiny), runner s/frame
    assert rows["on"][10] == "identical (4/4)" and rows["on"][11] == "0"
    assert rows["tf32"][10].startswith("4/4 frames differ") and rows["tf32"][11] == "1"
    assert float(rows["on"][12]) > float(rows["tf32"][12])  # PSNR of the shifted renders is lower
    env = json.loads((out / "imavatar" / "tf32" / "runs" / "env.json").read_text())
    assert env == {"NESBENCH_SPEEDUPS": "all", "NESBENCH_TF32": "1", "NESBENCH_DETERMINISTIC": "1"}
    env = json.loads((out / "imavatar" / "off" / "runs" / "env.json").read_text())
    assert env["NESBENCH_SPEEDUPS"] == "none" and env["NESBENCH_TF32"] == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--methods", "nerface"), "imavatar and/or pointavatar"),
        (("--variants", "on,fast"), "--variants: off, on, tf32, on-again"),
        (("--im-epochs", "0"), "positive integer"),
        (("--bogus",), "unknown option '--bogus'"),
    ],
)
def test_bench_refuses_bad_arguments(tmp_path, tiny_data, args, message):
    r = _bench(tmp_path, tiny_data, *args)
    assert r.returncode == 2 and message in r.stderr


def test_table_names_an_empty_folder(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_table.py"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "no <method>/<variant>/times.json" in r.stderr
