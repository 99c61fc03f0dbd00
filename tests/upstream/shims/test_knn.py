import torch

from nesbench.upstream.shims.knn import knn_points


def brute(p1, p2, K):
    d = ((p1[:, :, None] - p2[:, None]) ** 2).sum(-1)
    return torch.sort(d, dim=-1)


def test_knn_matches_brute_force_values_indices_and_gradients():
    g = torch.Generator().manual_seed(0)
    p1 = torch.randn(2, 300, 3, generator=g, dtype=torch.float64, requires_grad=True)
    p2 = torch.randn(2, 200, 3, generator=g, dtype=torch.float64, requires_grad=True)
    for K in (1, 3):
        dists, idx, nn = knn_points(p1, p2, K=K, return_nn=True)
        ref_d, ref_i = brute(p1, p2, K)
        assert torch.equal(idx, ref_i[..., :K])
        torch.testing.assert_close(dists, ref_d[..., :K])
        torch.testing.assert_close(nn, torch.stack([p2[b][ref_i[b, :, :K]] for b in range(2)]))
    dists, _idx, _ = knn_points(p1, p2, K=1, return_nn=True)
    ga = torch.autograd.grad(dists.sum(), (p1, p2))
    ref = brute(p1, p2, 1)[0][..., :1]
    gb = torch.autograd.grad(ref.sum(), (p1, p2))
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b)


def test_knn_respects_lengths2():
    p1 = torch.zeros(1, 1, 3)
    p2 = torch.tensor([[[1.0, 0, 0], [0.1, 0, 0]]])
    assert knn_points(p1, p2, lengths2=torch.tensor([1]), K=1).idx.item() == 0
    assert knn_points(p1, p2, K=1).idx.item() == 1
