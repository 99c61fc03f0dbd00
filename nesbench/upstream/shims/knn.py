"""Exact nearest-neighbour search with PyTorch3D's ``knn_points`` interface, in plain torch.

IMavatar only calls ``ops.knn_points(p1, p2, K=1, return_nn=True)`` (surface point -> nearest FLAME vertex); this
module replaces ``pytorch3d.ops`` there so IMavatar needs no PyTorch3D build. Written by hand because the result must
match PyTorch3D exactly (squared distances, differentiable in both point sets, same return fields) without its
compiled kernel. The search runs in chunks without autograd; distances are then recomputed from the gathered
neighbours, so gradients flow exactly as through PyTorch3D's op.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

CHUNK = 4096


class KNN(NamedTuple):
    dists: torch.Tensor  # (N, P1, K) squared distances, ascending
    idx: torch.Tensor  # (N, P1, K) int64 indices into p2
    knn: torch.Tensor | None  # (N, P1, K, D) neighbours when return_nn


def knn_points(
    p1: torch.Tensor,
    p2: torch.Tensor,
    lengths1: torch.Tensor | None = None,
    lengths2: torch.Tensor | None = None,
    K: int = 1,
    return_nn: bool = False,
    return_sorted: bool = True,
    **_: object,
) -> KNN:
    """K nearest points of ``p2`` (N,P2,D) for each point of ``p1`` (N,P1,D); heterogeneous lengths supported."""
    if p1.dim() != 3 or p2.dim() != 3 or p1.shape[0] != p2.shape[0] or p1.shape[2] != p2.shape[2]:
        raise ValueError(
            f"knn_points: expected (N,P1,D) and (N,P2,D), got {tuple(p1.shape)} and {tuple(p2.shape)}"
        )
    n, p1n, _d = p1.shape
    p2n = p2.shape[1]
    if p2n < K:
        raise ValueError(f"knn_points: K={K} > P2={p2n}")
    idx = torch.empty(n, p1n, K, dtype=torch.int64, device=p1.device)
    with torch.no_grad():
        valid2 = None
        if lengths2 is not None:
            valid2 = torch.arange(p2n, device=p2.device)[None, :] < lengths2[:, None]
        for s in range(0, p1n, CHUNK):
            a = p1[:, s : s + CHUNK].detach()
            d2 = ((a[:, :, None, :] - p2.detach()[:, None, :, :]) ** 2).sum(-1)
            if valid2 is not None:
                d2 = d2.masked_fill(~valid2[:, None, :], float("inf"))
            idx[:, s : s + CHUNK] = torch.topk(d2, K, dim=-1, largest=False, sorted=True).indices
    nn = torch.stack([p2[b][idx[b]] for b in range(n)])  # (N, P1, K, D), differentiable in p2
    dists = ((p1[:, :, None, :] - nn) ** 2).sum(-1)
    if lengths1 is not None:
        invalid1 = torch.arange(p1n, device=p1.device)[None, :] >= lengths1[:, None]
        dists = dists.masked_fill(invalid1[..., None], 0.0)
        idx = idx.masked_fill(invalid1[..., None], -1)
    return KNN(dists=dists, idx=idx, knn=nn if return_nn else None)
