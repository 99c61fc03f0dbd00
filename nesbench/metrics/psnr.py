"""The PSNR of an exact match, defined once for every scorer and every output (JSON, CSV, tables, charts).

An exact match has MSE 0 and PSNR 10*log10(1/0) = +infinity: not a JSON number, and one such frame would make every
mean it enters infinite. NES-Bench caps PSNR at ``PSNR_CAP_DB`` = 160 dB, the value PointAvatar's own formula
``20*log10(1/(sqrt(mse) + 1e-8))`` gives at MSE 0. No finite value of the legacy scorers changes: with 8-bit images
(renderme-imavatar) the largest finite PSNR is 10*log10(255^2 * 3HW) (about 108 dB at 512x512) and
renderme-pointavatar never exceeds the cap; ``unified`` only reaches it below an MSE of 1e-16.
"""

from __future__ import annotations

PSNR_CAP_DB = 160.0


def cap_psnr(value: float) -> float:
    """``value`` limited to :data:`PSNR_CAP_DB` (+inf, an exact match, becomes the cap; NaN stays NaN)."""
    return PSNR_CAP_DB if value > PSNR_CAP_DB else value
