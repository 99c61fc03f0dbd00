"""Issue 18 speed-ups keep every number identical; the TF32 opt-in is parsed strictly (nesbench.upstream.speed)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nesbench.upstream import speed

REPO_ROOT = Path(__file__).resolve().parents[2]
CPU_SHIM = Path(__file__).resolve().parent / "cpu_shim"


def test_speedup_switches(monkeypatch):
    monkeypatch.delenv(speed.SPEEDUPS_ENV, raising=False)
    assert speed.enabled_speedups() == list(speed.SPEEDUPS)  # default: all on (they change no number)
    assert speed.enabled_speedups("none") == [] and speed.enabled_speedups("off") == []
    assert speed.enabled_speedups("train-plots,eval-mesh") == ["eval-mesh", "train-plots"]
    monkeypatch.setenv(speed.SPEEDUPS_ENV, "eval-mesh")
    assert speed.enabled("eval-mesh") and not speed.enabled("train-plots")
    with pytest.raises(ValueError, match="unknown speed-up 'mesh'"):
        speed.enabled_speedups("mesh")
    assert (
        speed.tf32_choice("1") is True and speed.tf32_choice("0") is False and speed.tf32_choice("") is None
    )
    with pytest.raises(ValueError, match="NESBENCH_TF32"):
        speed.tf32_choice("yes")


def test_configure_records_and_applies_tf32(monkeypatch):
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        monkeypatch.setenv(speed.TF32_ENV, "1")
        got = speed.configure()
        assert got["tf32"] == "on" and got["matmul_tf32"] and got["cudnn_tf32"]
        monkeypatch.setenv(speed.TF32_ENV, "0")
        got = speed.configure()
        assert got["tf32"] == "off" and not got["matmul_tf32"] and not got["cudnn_tf32"]
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


class _Frames(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return torch.full((2,), float(i))


@pytest.mark.parametrize("workers", [0, 2])
def test_skipped_plot_loop_leaves_the_random_stream_as_the_loop_does(workers):
    """Upstream's plot loop (iter over a non-shuffled DataLoader, a forward drawing torch.rand per batch) and
    speed.skip_plot_loop leave the CPU generator in the same state, so the training after it is the same."""
    loader = torch.utils.data.DataLoader(_Frames(), batch_size=2, shuffle=False, num_workers=workers)
    shape = (7, 3)

    def after(skip: bool) -> tuple[bytes, list[int]]:
        torch.manual_seed(3)
        if skip:
            speed.skip_plot_loop(loader, shape)
        else:
            it = iter(loader)
            for _ in range(len(loader)):
                next(it)
                torch.rand(shape)  # PointAvatar's eikonal points in the eval forward
        state = torch.get_rng_state().numpy().tobytes()
        order = [int(b[0, 0]) for b in torch.utils.data.DataLoader(_Frames(), batch_size=1, shuffle=True)]
        return state, order

    assert after(skip=True) == after(skip=False)
    loader_only = torch.utils.data.DataLoader(_Frames(), batch_size=1, shuffle=False)
    torch.manual_seed(3)
    iter(loader_only)  # IMavatar's skip: its plot forward draws nothing on the CPU
    a = torch.get_rng_state()
    torch.manual_seed(3)
    speed.skip_plot_loop(loader_only)
    assert torch.equal(a, torch.get_rng_state())


PLOT_PROBE = r"""
import os, sys, torch, numpy as np
import utils.plots as plt
torch.manual_seed(0)
res = 24
n = res * res
points = torch.rand(1, n, 3) - 0.5
points[..., 2] += 4.0
outputs = {"network_object_mask": torch.rand(n) > 0.3, "points": points.reshape(-1, 3),
           "rgb_values": torch.rand(n, 3) * 2 - 1, "normal_values": torch.rand(n, 3) * 2 - 1}
pose = torch.eye(4)[None]
gt = {"rgb": torch.rand(1, n, 3) * 2 - 1}
sphere = lambda p, idx: p.norm(dim=-1) - 0.5
out = sys.argv[1]
os.makedirs(out + "/eval/e_6/epoch_3")  # as scripts/test.py does before plotting
plt.plot(7, sphere, outputs, pose, gt, out + "/eval/e_6/epoch_3", 3, [res, res], plot_nimgs=2, min_depth=3.0,
         max_depth=5.0, res_init=16, res_up=2, is_eval=True)
"""


def test_real_imavatar_eval_writes_the_same_rgb_bytes_without_mesh_and_plots(tmp_path):
    """The real IMavatar utils/plots.py (patched at the pin) on CPU: with the eval speed-ups the scored rgb/7.png
    is byte for byte the one upstream writes, and no mesh, grid or normal map is written (NESBENCH_TEST_MIRROR)."""
    from nesbench.upstream.install import install
    from nesbench.upstream.pins import get_pin

    root = os.environ.get("NESBENCH_TEST_MIRROR")
    if not root:
        pytest.skip("set NESBENCH_TEST_MIRROR=DIR (DIR/IMavatar) to run against the real code")
    pin = get_pin("imavatar")
    code = install(pin, mirror=Path(root), root=tmp_path / "up", say=lambda m: None)
    files = {}
    for mode in ("none", "all"):
        out = tmp_path / mode
        env = {**os.environ, speed.SPEEDUPS_ENV: mode, "PYTHONPATH": f"{CPU_SHIM}{os.pathsep}{REPO_ROOT}"}
        done = subprocess.run(
            [sys.executable, "-c", PLOT_PROBE, str(out)], cwd=code, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        files[mode] = {str(p.relative_to(out)): p for p in out.rglob("*") if p.is_file()}
    assert set(files["none"]) == {
        "eval/e_6/epoch_3/rgb/7.png",
        "eval/e_6/epoch_3/normal/7.png",
        "eval/e_6/epoch_3/surface_7.ply",
        "eval/e_6/rendering/epoch_3_7.png",
    }
    assert set(files["all"]) == {"eval/e_6/epoch_3/rgb/7.png"}
    rgb = "eval/e_6/epoch_3/rgb/7.png"
    digest = {m: hashlib.sha256(files[m][rgb].read_bytes()).hexdigest() for m in files}
    assert digest["none"] == digest["all"]
