"""Alpha-compositing weights of PointAvatar's PyTorch3D fork, on top of stock PyTorch3D >= 0.7.

The fork (zhengyuf/pytorch3d, branch point-avatar) makes ``AlphaCompositor`` return ``(images, weights)`` with
``weight[b,k,y,x] = alpha_k * prod_{j<k, idx_j>=0} (1 - alpha_j)`` for valid slots (idx>=0) and 0 elsewhere
(invalid slots are skipped by the kernel, i.e. they contribute a factor 1). Stock PyTorch3D returns only images,
so the weights are computed here from the same inputs; no compiled fork is needed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def point_weights(idx: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Fork kernel's per-slot weights for ``idx``/``alphas`` of shape (N, K, H, W); non-differentiable like the fork."""
    with torch.no_grad():
        a = torch.where(idx >= 0, alphas, torch.zeros_like(alphas))
        transmittance = torch.cumprod(1.0 - a, dim=1)
        exclusive = torch.cat([torch.ones_like(transmittance[:, :1]), transmittance[:, :-1]], dim=1)
        return a * exclusive


def composite_with_weights(
    compositor: Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]],
    idx: torch.Tensor,
    alphas: torch.Tensor,
    features: torch.Tensor,
    **kwargs: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Call a stock or forked ``AlphaCompositor`` and return ``(images, weights)`` as the fork does."""
    out = compositor(idx, alphas, features, **kwargs)
    if isinstance(out, tuple):  # the fork already returns weights
        return out
    return out, point_weights(idx, alphas)
