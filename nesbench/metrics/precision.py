"""The float formulas that must give the same bits on every device: [0, 255] -> [0, 1], uint8 truncation,
float64 sums, and full-float32 convolutions on CUDA.

The legacy scripts compute in float32 on the CPU (``imread(...).astype(float32) / 255.``, the white composite in
float32 torch, ``np.clip(255 * x, 0, 255).astype(uint8)``). Truncation makes one ulp matter: a composite of
254.99998 instead of 255.0 becomes 254. So every step before the truncation must round exactly as IEEE float32 does
on the CPU, whatever the device's kernels do (CUDA divides by a CPU scalar as ``x * (1/255)``, one ulp off).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

CPU_IEEE_DIVISION = True  # tests turn it off to run the GPU formula of unit() on the CPU


def unit(x: torch.Tensor) -> torch.Tensor:
    """0..255 (uint8, or float32 after a resize) -> float32 [0, 1], bit-identical to numpy's float32
    ``x.astype(float32) / 255`` on every device.

    Computed as ``float32(float64(x) / 255)``. With IEEE float64 division this is the correctly rounded float32
    quotient (double rounding is harmless when the wide format has >= 2*24+2 bits). CUDA instead multiplies by the
    float64 reciprocal of a CPU scalar divisor (<= 2^-52 relative error); that too rounds to the same float32,
    because x/255 of a float32 x is never within 2^-34 (relative) of a float32 rounding midpoint (255*midpoint
    needs 33 significant bits, x has 24). A float32 division, as before, was one ulp off on CUDA for 126 of the
    256 uint8 values and flipped ~300 truncated pixels per 512x512 frame.

    On the CPU, torch's float32 division is IEEE division (what numpy does), so it is used there directly: the
    same bits, 7x faster than going through float64 (tests/metrics/test_precision.py checks both paths).
    """
    if x.device.type == "cpu" and CPU_IEEE_DIVISION:
        return x.to(torch.float32, copy=True).div_(255)
    return (x.double() / 255).float()


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Float32 [0, 1] -> uint8 by truncation, as the legacy ``np.clip(255 * x, 0, 255).astype(np.uint8)``:
    a float32 product (exactly rounded on every device), clamped, truncated."""
    return torch.clamp(255 * x, 0, 255).to(torch.uint8)


def batch_sum(x: torch.Tensor) -> torch.Tensor:
    """Per-image sum over C x H x W, accumulated in float64: the same value (to ~1e-15) whatever the device's
    reduction order; float32 accumulation differs between devices and batch layouts in the 7th digit."""
    return x.sum(dim=(1, 2, 3), dtype=torch.float64)


@contextmanager
def full_float32(device: torch.device | str) -> Iterator[None]:
    """Within the block, CUDA convolutions and matmuls run in full float32 (cuDNN defaults to TF32, a 10-bit
    mantissa, which moves SSIM on the 0..255 scale and LPIPS in the 4th-5th digit; the references compute in
    float32). The process's own settings are restored on exit: scoring never changes them for other code (the
    flags are process-wide, so they hold for the engine's threads during the block). No-op on the CPU."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def tf32_split(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(hi, lo) with ``hi + lo == t`` exactly: ``hi`` keeps the 10 mantissa bits a TF32 tensor core reads
    exactly, ``lo`` the remaining 13 (of which a tensor core reads the top 11)."""
    hi = (t.view(torch.int32) & -8192).view(torch.float32)
    return hi, t - hi


def conv2d_split_tf32(
    x: torch.Tensor,
    w: tuple[torch.Tensor, torch.Tensor],
    bias: torch.Tensor | None,
    stride: int,
    padding: int,
) -> torch.Tensor:
    """A float32 convolution computed on TF32 tensor cores with float32 accuracy ("3xTF32", as CUTLASS does):
    ``conv(x, w) = conv(x_hi, w_hi) + conv(x_lo, w_hi) + conv(x_hi, w_lo)`` up to the dropped ``x_lo * w_lo``
    and the rounding of the lo parts, both ~2^-21 relative: the size of float32's own accumulation error over
    these sums, so LPIPS moves ~1e-7 (a plain TF32 convolution moves it in the 4th digit). ``w`` is
    :func:`tf32_split` of the weights. On an H100 the three TF32 convolutions take less time than one in
    float32 on the CUDA cores (docs/PERFORMANCE.md)."""
    x_hi, x_lo = tf32_split(x)
    w_hi, w_lo = w
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        small = F.conv2d(x_lo, w_hi, None, stride, padding) + F.conv2d(x_hi, w_lo, None, stride, padding)
        return F.conv2d(x_hi, w_hi, bias, stride, padding) + small
    finally:
        torch.backends.cudnn.allow_tf32 = saved
