"""The GPU formulas give the CPU values, proven on the CPU: the torch SSIM path is forced and CUDA's division by a
CPU scalar (``x * (1/b)``, one ulp off) is emulated; quantised images are compared bit for bit."""

from __future__ import annotations

import json
from contextlib import nullcontext

import cv2
import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from nesbench.metrics import precision
from nesbench.metrics.precision import quantise, unit
from nesbench.metrics.registry import scorer_formulas_at
from nesbench.metrics.score import score_sequence
from nesbench.metrics.scorers import RenderMeIMavatarScorer

TOL = {"psnr": 1e-4, "ssim": 1e-5, "l1": 1e-5, "mae": 1e-5, "mse": 1e-5, "lpips": 1e-5}
DIVISIONS = {torch.Tensor.div, torch.div, torch.true_divide, torch.Tensor.__truediv__}


class CudaScalarDivision(TorchFunctionMode):
    """Division by a Python number as PyTorch's CUDA kernel does it (BinaryDivTrueKernel.cu: a CPU-scalar divisor
    becomes a multiplication by its reciprocal, computed in the op's float type), so CPU runs meet the GPU's
    rounding. Inside it, ``unit`` takes its GPU path too (on the CPU it divides in float32 directly)."""

    def __enter__(self):
        self._saved, precision.CPU_IEEE_DIVISION = precision.CPU_IEEE_DIVISION, False
        return super().__enter__()

    def __exit__(self, *exc):
        precision.CPU_IEEE_DIVISION = self._saved
        return super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in DIVISIONS and len(args) == 2 and isinstance(args[1], (int, float)) and not kwargs:
            a, b = args
            dtype = torch.result_type(a, b) if a.is_floating_point() else torch.get_default_dtype()
            inv = torch.tensor(1, dtype=dtype) / torch.tensor(b, dtype=dtype)
            return a.to(dtype) * inv
        return func(*args, **kwargs)


def _numpy_unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255)


def test_emulated_cuda_division_is_one_ulp_off_for_float32_but_unit_is_exact() -> None:
    ints = np.arange(256, dtype=np.float32)
    floats = np.random.default_rng(0).uniform(0, 255, 200_000).astype(np.float32)  # resized frames
    for x in (ints, floats):
        want = _numpy_unit(x)
        t = torch.from_numpy(x)
        with CudaScalarDivision():
            naive, exact = t / 255.0, unit(t)
        assert not torch.equal(naive, torch.from_numpy(want))  # the emulation is live: the old formula fails
        assert torch.equal(exact, torch.from_numpy(want))
        assert torch.equal(unit(t), torch.from_numpy(want))


def _edge_images(res: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """uint8 GT/pred/mask with saturated 0/255 areas and soft mask edges, and their float32 2x-up-resized versions."""
    rng = np.random.default_rng(seed)
    img = {n: rng.integers(0, 256, (res, res, 3)).astype(np.uint8) for n in ("gt", "pred")}
    img["gt"][:8], img["pred"][:, :8] = 255, 0
    img["gt"][-8:], img["pred"][:, -8:] = 0, 255
    mask = rng.integers(0, 256, (res, res, 1)).astype(np.uint8)
    mask[:16], mask[-16:] = 0, 255
    img["mask"] = mask
    for n in ("gt", "pred", "mask"):
        up = cv2.resize(img[n].astype(np.float32), (2 * res, 2 * res))
        img[n + "_resized"] = up.reshape(2 * res, 2 * res, -1)
    return img


def _legacy_quantised(gt: np.ndarray, mask: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The overlay metrics.py steps: float32 /255, torch CPU float32 white composite, clip(255x).astype(uint8)."""
    g, m = torch.from_numpy(_numpy_unit(gt)), torch.from_numpy(_numpy_unit(mask))
    g = (g * m + 1.0 * (1 - m)).numpy()
    return tuple(np.clip(255 * x, 0, 255).astype(np.uint8) for x in (_numpy_unit(pred), g))


@pytest.mark.parametrize("resized", [False, True])
def test_quantised_images_are_bit_identical_to_the_legacy_code(resized: bool) -> None:
    img = _edge_images()
    sfx = "_resized" if resized else ""
    gt, mask, pred = img["gt" + sfx], img["mask" + sfx], img["pred" + sfx]
    want_p, want_g = _legacy_quantised(gt, mask, pred)
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None].permute(0, 3, 1, 2)  # noqa: E731
    for emulate in (False, True):
        mode = CudaScalarDivision() if emulate else nullcontext()
        with mode:
            p, g, _ = RenderMeIMavatarScorer.composites(
                {"gt": to_t(gt), "mask": to_t(mask)}, {"pred": to_t(pred)}
            )
            pq, gq = quantise(p), quantise(g)
        assert torch.equal(pq[0].permute(1, 2, 0), torch.from_numpy(want_p)), emulate
        assert torch.equal(gq[0].permute(1, 2, 0), torch.from_numpy(want_g)), emulate


def _gpu_formulas_on_cpu(pred_dir, gt_dir, name: str, stub, resolution: int) -> dict:
    """Scores with the torch SSIM path and CUDA's scalar division: what a GPU computes, run on the CPU."""
    sc = scorer_formulas_at(name, resolution, ssim_backend="torch")
    with CudaScalarDivision():
        return score_sequence(pred_dir, gt_dir, sc, device="cpu", lpips_backbone=stub)


def _assert_same(a: dict, b: dict, name: str) -> None:
    assert a["failed"] == b["failed"] == {} and a["frames"].keys() == b["frames"].keys()
    for k, row in a["frames"].items():
        assert row.keys() == b["frames"][k].keys()
        for m, v in row.items():
            if m in TOL:
                assert b["frames"][k][m] == pytest.approx(v, abs=TOL[m]), (name, k, m, v, b["frames"][k][m])


@pytest.fixture
def edge_sequence(tmp_path, mx):
    """4 GT frames at 64 px (soft disc masks, one fully random soft mask, cloth band) and predictions with
    saturated 0/255 areas, one rendered at 128 px (resized by every scorer)."""
    root, write_png = tmp_path, mx.write_png
    imgs = mx.make_sequence(root / "gt", n=4, res=64, seed=5)
    rng = np.random.default_rng(2)
    write_png(root / "gt" / "mask" / "2.png", rng.integers(0, 256, (64, 64, 3)).astype(np.uint8))
    for k, img in imgs.items():
        pred = np.clip(img.astype(int) + rng.integers(-30, 31, img.shape), 0, 255).astype(np.uint8)
        pred[:6], pred[:, -6:] = 255, 0
        if k == 3:
            pred = cv2.resize(pred, (128, 128), interpolation=cv2.INTER_LINEAR)
        write_png(root / "pred" / f"{k}.png", pred)
    return root


SCORERS = ["renderme-imavatar", "renderme-pointavatar", "unified"]


@pytest.mark.parametrize("name", SCORERS)
def test_gpu_formulas_give_the_cpu_values_on_edge_images(edge_sequence, stub, name: str) -> None:
    cpu = score_sequence(
        edge_sequence / "pred",
        edge_sequence / "gt",
        scorer_formulas_at(name, 64),
        device="cpu",
        lpips_backbone=stub,
    )
    gpu = _gpu_formulas_on_cpu(edge_sequence / "pred", edge_sequence / "gt", name, stub, 64)
    assert cpu["n_scored"] == 4
    _assert_same(cpu, gpu, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SCORERS)
def test_gpu_formulas_give_the_cpu_and_benchmark_values_on_the_parity_fixture(mx, name: str) -> None:
    cpu = score_sequence(mx.FIXTURE / "pred", mx.FIXTURE / "gt", name, device="cpu", lpips_backbone=mx.STUB)
    gpu = _gpu_formulas_on_cpu(mx.FIXTURE / "pred", mx.FIXTURE / "gt", name, mx.STUB, 512)
    _assert_same(cpu, gpu, name)
    expected = json.loads((mx.FIXTURE / "expected.json").read_text())
    key = {"renderme-imavatar": "renderme_imavatar", "renderme-pointavatar": "renderme_pointavatar_nocloth"}
    names = {"l1": "mae_l", "mse": "mse_l", "psnr": "psnr_l", "ssim": "ssim_l", "lpips": "perceptual_l"}
    if name == "renderme-pointavatar":
        names["l1"] = "l1_l"
    for k, want in expected.get(key.get(name), {}).items():
        for ours, theirs in names.items():
            assert gpu["frames"][k][ours] == pytest.approx(want[theirs], abs=TOL[ours]), (name, k, ours)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_quantised_images_are_bit_identical(mx) -> None:
    from nesbench.metrics.images import read_rgb  # noqa: PLC0415

    for k in range(1, 7):
        img = {n: read_rgb(mx.FIXTURE / "gt" / n / f"{k}.png") for n in ("image", "mask")}
        pred = read_rgb(mx.FIXTURE / "pred" / "rgb" / f"{k}.png")
        for resized in (False, True):
            arrs = {"gt": img["image"], "mask": img["mask"][:, :, :1], "pred": pred}
            if resized:
                arrs = {
                    n: cv2.resize(a.astype(np.float32), (300, 300)).reshape(300, 300, -1)
                    for n, a in arrs.items()
                }
            out = {}
            for dev in ("cpu", "cuda"):
                t = {
                    n: torch.from_numpy(np.ascontiguousarray(a))[None].permute(0, 3, 1, 2).to(dev)
                    for n, a in arrs.items()
                }
                p, g, _ = RenderMeIMavatarScorer.composites(
                    {"gt": t["gt"], "mask": t["mask"]}, {"pred": t["pred"]}
                )
                out[dev] = (quantise(p).cpu(), quantise(g).cpu(), unit(t["gt"]).cpu())
            for a, b in zip(out["cpu"], out["cuda"], strict=True):
                assert torch.equal(a, b), (k, resized)
