"""Batched Gaussian SSIM (11x11, sigma 1.5, 'valid' window positions): cv2 separable filters per plane on the CPU,
separable depthwise torch convolutions on the GPU.

Both legacy paths reduce to this: the IMavatar overlay's MATLAB-style SSIM (cv2.filter2D then a 5-pixel crop,
constants on the 0..255 scale; its per-channel loop bug gives the mean of per-channel SSIMs, which is what the
per-channel computation gives) and PointAvatar's torch SSIM (padding 0, groups=3, L=1). Written by hand because
neither skimage nor cv2 batches over frames on the GPU, and because on the CPU the per-plane loop below (in strips
of rows) keeps every intermediate in the cache (whole-batch torch elementwise ops are memory-bound there: ~3x slower).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

WINDOW = 11
SIGMA = 1.5
CROP = WINDOW // 2
STRIP = 128  # output rows per strip of the CPU path (:func:`_ssim_plane`)


def gaussian_1d(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    g = torch.tensor(
        [math.exp(-((x - size // 2) ** 2) / (2 * sigma**2)) for x in range(size)], dtype=torch.float64
    )
    return g / g.sum()


@lru_cache(maxsize=8)
def _gaussian_on(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The window on the device, made once: copying it from the host for every batch made the host wait there for
    the GPU to finish the work queued before it (a copy from pageable memory), every batch."""
    return gaussian_1d().to(device=device, dtype=dtype)


@lru_cache(maxsize=1)
def _plane_pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="ssim")


def _ssim_plane(x: np.ndarray, y: np.ndarray, out: np.ndarray, k: np.ndarray, c1: float, c2: float) -> None:
    """SSIM map of one float32 plane pair into ``out`` (valid region). The same float32 operations, in the same
    order, as the torch formula in :func:`_ssim_map_torch`.

    Computed in strips of :data:`STRIP` output rows (each blurred from its rows plus the window's 10 rows around
    them) so that the ~10 intermediates stay in the core's cache, and on whole blurred rows (the 10 columns that the
    crop drops are computed and discarded) so that each elementwise pass runs over contiguous memory: at 512 px on a
    2-core Xeon, ~30% less CPU per plane alone, ~12-15% for batches of 8 on both cores. Each output value depends
    only on its 11x11 input window, so the values are those of the whole-plane computation, bit for bit (the tests
    check it)."""

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(a, -1, k, k)[CROP:-CROP]  # valid rows, every column

    h = out.shape[0]
    for r in range(0, h, STRIP):
        e = min(r + STRIP, h)
        # planes of channels_last batches are strided
        xs, ys = np.ascontiguousarray(x[r : e + 2 * CROP]), np.ascontiguousarray(y[r : e + 2 * CROP])
        mu1, mu2 = blur(xs), blur(ys)
        exx, eyy, exy = blur(xs * xs), blur(ys * ys), blur(xs * ys)
        mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
        np.subtract(exx, mu1_sq, out=exx)
        np.subtract(eyy, mu2_sq, out=eyy)
        np.subtract(exy, mu12, out=exy)
        num = (2 * mu12 + c1) * (2 * exy + c2)
        np.add(mu1_sq, mu2_sq, out=mu1_sq)
        mu1_sq += c1
        np.add(exx, eyy, out=exx)
        exx += c2
        np.multiply(mu1_sq, exx, out=mu1_sq)
        np.divide(num[:, CROP:-CROP], mu1_sq[:, CROP:-CROP], out=out[r:e])


def _ssim_map_cv2(x: torch.Tensor, y: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    b, c, h, w = x.shape
    k = gaussian_1d().numpy()
    xs, ys = x.numpy(), y.numpy()
    out = np.empty((b, c, h - 2 * CROP, w - 2 * CROP), dtype=np.float32)
    jobs = [(i, j) for i in range(b) for j in range(c)]
    pool = _plane_pool(max(1, torch.get_num_threads()))
    list(pool.map(lambda ij: _ssim_plane(xs[ij], ys[ij], out[ij], k, c1, c2), jobs))
    return torch.from_numpy(out)


def _ssim_map_torch(x: torch.Tensor, y: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    g = _gaussian_on(x.device, x.dtype)
    c = x.shape[1]
    # NCHW: cuDNN's depthwise kernels are 3.5x faster on it than on the engine's channels_last batches (H100)
    x, y = x.contiguous(), y.contiguous()
    mu = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    mu = F.conv2d(mu, g.view(1, 1, 1, -1).expand(5 * c, 1, 1, -1), groups=5 * c)
    mu = F.conv2d(mu, g.view(1, 1, -1, 1).expand(5 * c, 1, -1, 1), groups=5 * c)
    mu1, mu2, exx, eyy, exy = mu.split(c, dim=1)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = exx - mu1_sq, eyy - mu2_sq, exy - mu12
    return ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))


def _legacy_filter2d_one(x: np.ndarray, y: np.ndarray) -> float:
    """The RenderMe-360 IMavatar benchmark's ``ssim_channel`` on one HxWx3 float32 0..255 image pair: the 2D window
    ``np.outer`` of cv2.getGaussianKernel(11, 1.5), ``cv2.filter2D`` (DFT-based for this size in OpenCV, hence its
    own float32 rounding), the same operations in the same order, float32 mean of the map (its per-channel loop
    averages three copies of that mean)."""
    kernel = cv2.getGaussianKernel(WINDOW, SIGMA)
    window = np.outer(kernel, kernel.transpose())
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.filter2D(a, -1, window)[CROP:-CROP, CROP:-CROP]

    mu1, mu2 = blur(x), blur(y)
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = blur(x**2) - mu1_sq
    sigma2_sq = blur(y**2) - mu2_sq
    sigma12 = blur(x * y) - mu1_mu2
    smap = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(np.array([smap.mean()] * 3).mean())


def legacy_filter2d_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (B float64 values) exactly as the IMavatar benchmark's metrics.py ``ssim``, for batches
    B x 3 x H x W of uint8 values (any dtype/device: computed on the host with OpenCV, one image per thread)."""
    xs = x.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).contiguous().numpy()
    ys = y.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).contiguous().numpy()
    pool = _plane_pool(max(1, torch.get_num_threads()))
    vals = list(pool.map(lambda i: _legacy_filter2d_one(xs[i], ys[i]), range(xs.shape[0])))
    return torch.tensor(vals, dtype=torch.float64, device=x.device)


BACKENDS = ("auto", "cv2", "torch")


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float, backend: str = "auto") -> torch.Tensor:
    """SSIM map (B x C x H-10 x W-10) of images on a [0, data_range] scale. ``backend``: 'auto' = cv2 per plane
    for float32 on the CPU, torch convolutions otherwise (a GPU); 'torch' forces the GPU formulas on any device
    (so that CPU-only CI can check them); 'cv2' needs float32 CPU tensors."""
    if backend not in BACKENDS:
        raise ValueError(f"SSIM backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    c1 = (0.01 * data_range) ** 2  # python floats (float64); used as float32 scalars by both paths
    c2 = (0.03 * data_range) ** 2
    if backend == "cv2" or (backend == "auto" and x.device.type == "cpu" and x.dtype == torch.float32):
        return _ssim_map_cv2(x, y, c1, c2)
    return _ssim_map_torch(x, y, c1, c2)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, backend: str = "auto") -> torch.Tensor:
    """Mean SSIM per image (B values): mean over channels and valid window positions (accumulated in float64)."""
    return ssim_map(x, y, data_range, backend).mean(dim=(1, 2, 3), dtype=torch.float64)
