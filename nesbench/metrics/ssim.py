"""Batched Gaussian SSIM (11x11, sigma 1.5, 'valid' window positions) as separable torch convolutions.

Both legacy paths reduce to this: the IMavatar overlay's MATLAB-style SSIM (cv2.filter2D then a 5-pixel crop,
constants on the 0..255 scale; its per-channel loop bug gives the mean of per-channel SSIMs, which is what the
depthwise convolution computes) and PointAvatar's torch SSIM (padding 0, groups=3, L=1). Written by hand because
neither skimage nor cv2 batches over frames on the GPU.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

WINDOW = 11
SIGMA = 1.5


def gaussian_1d(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    g = torch.tensor(
        [math.exp(-((x - size // 2) ** 2) / (2 * sigma**2)) for x in range(size)], dtype=torch.float64
    )
    return g / g.sum()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return _blur_cv2(x, g)
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _blur_cv2(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """CPU path: cv2.sepFilter2D per plane (SIMD; torch's CPU depthwise conv is ~10x slower), cropped to 'valid'."""
    k = g.double().numpy()
    planes = x.reshape(-1, *x.shape[2:]).numpy()
    out = np.stack([cv2.sepFilter2D(p, -1, k, k)[5:-5, 5:-5] for p in planes])
    return torch.from_numpy(out).view(*x.shape[:2], *out.shape[1:])


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """SSIM map (B x C x H-10 x W-10) of images on a [0, data_range] scale."""
    g = gaussian_1d().to(device=x.device, dtype=x.dtype)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    c = x.shape[1]
    mu1, mu2, exx, eyy, exy = mu.split(c, dim=1)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = exx - mu1_sq, eyy - mu2_sq, exy - mu12
    return ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Mean SSIM per image (B values): mean over channels and valid window positions."""
    return ssim_map(x, y, data_range).mean(dim=(1, 2, 3))
