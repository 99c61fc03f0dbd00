"""Stand-in (tests only) for simple_knn's distCUDA2: mean squared distance to the 3 nearest other points."""

import torch


def distCUDA2(points):
    out = []
    for chunk in torch.split(points, 2048):
        d2 = torch.cdist(chunk, points).pow(2)
        out.append(d2.topk(4, dim=1, largest=False).values[:, 1:].mean(dim=1))
    return torch.cat(out)
