"""The batched SSIM against scikit-image, and its CPU (cv2 per-plane) path against the torch (GPU) path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from nesbench.metrics.ssim import _ssim_map_torch, ssim, ssim_map


def _pair(b: int = 2, res: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, res, res, generator=g)
    y = (x + 0.2 * torch.rand(b, 3, res, res, generator=g) - 0.1).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_mean_of_channels_equals_scikit_image(data_range: float) -> None:
    x, y = _pair()
    x, y = x * data_range, y * data_range
    ours = ssim(x, y, data_range)
    for i in range(x.shape[0]):
        want = np.mean(
            [
                structural_similarity(
                    x[i, c].double().numpy(),
                    y[i, c].double().numpy(),
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                    data_range=data_range,
                )
                for c in range(3)
            ]
        )
        assert ours[i].item() == pytest.approx(want, abs=1e-6)


def test_cpu_planes_equal_the_torch_path_for_any_layout() -> None:
    x, y = _pair(b=3)
    c1, c2 = 0.01**2, 0.03**2
    ref = _ssim_map_torch(x.double(), y.double(), c1, c2)
    cpu = ssim_map(x, y, 1.0)  # float32 on the CPU: cv2 per plane
    strided = ssim_map(
        x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last), 1.0
    )
    assert cpu.shape == ref.shape == (3, 3, 38, 38)
    assert torch.equal(cpu, strided)
    assert (cpu.double() - ref).abs().max().item() < 1e-5
    single = torch.cat([ssim_map(x[i : i + 1], y[i : i + 1], 1.0) for i in range(3)])
    assert torch.equal(cpu, single)  # the batch does not change a frame's values


@pytest.mark.parametrize("strip", [1, 7, 38, 128])
def test_cpu_strips_equal_the_whole_plane_bit_for_bit(monkeypatch: pytest.MonkeyPatch, strip: int) -> None:
    """The CPU path works in strips of rows: the values are those of one strip covering the whole plane."""
    import nesbench.metrics.ssim as ssim_module

    x, y = _pair(b=2, res=150, seed=3)
    x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
    monkeypatch.setattr(ssim_module, "STRIP", 10_000)
    whole = ssim_map(x, y, 1.0)
    monkeypatch.setattr(ssim_module, "STRIP", strip)
    assert torch.equal(ssim_map(x, y, 1.0), whole)
