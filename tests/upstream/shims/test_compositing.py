import torch

from nesbench.upstream.shims.compositing import composite_with_weights, point_weights


def fork_kernel(idx, alphas, features):
    """Loop transcription of the fork's alphaCompositeCpuForward (csrc/compositing/alpha_composite_cpu.cpp)."""
    B, K, H, W = idx.shape
    C = features.shape[0]
    result = torch.zeros(B, C, H, W, dtype=alphas.dtype)
    weight = torch.zeros(B, K, H, W, dtype=alphas.dtype)
    for b in range(B):
        for j in range(H):
            for i in range(W):
                cum_alpha = 1.0
                for k in range(K):
                    n = int(idx[b, k, j, i])
                    if n < 0:
                        continue
                    alpha = float(alphas[b, k, j, i])
                    result[b, :, j, i] += cum_alpha * alpha * features[:, n]
                    weight[b, k, j, i] = cum_alpha * alpha
                    cum_alpha = cum_alpha * (1 - alpha)
    return result, weight


def random_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    B, K, H, W, P, C = 2, 6, 5, 4, 30, 3
    idx = torch.randint(0, P, (B, K, H, W), generator=g)
    idx[torch.rand(B, K, H, W, generator=g) < 0.35] = -1  # invalid slots anywhere, also between valid ones
    alphas = torch.rand(B, K, H, W, generator=g, dtype=torch.float64)
    features = torch.rand(C, P, generator=g, dtype=torch.float64)
    return idx, alphas, features


def test_python_weights_equal_fork_kernel_on_random_inputs():
    for seed in range(5):
        idx, alphas, features = random_inputs(seed)
        _res, ref = fork_kernel(idx, alphas, features)
        torch.testing.assert_close(point_weights(idx, alphas), ref, rtol=1e-12, atol=1e-12)


def test_composite_with_weights_stock_and_fork_compositors():
    idx, alphas, features = random_inputs(7)
    ref_images, ref_weights = fork_kernel(idx, alphas, features)

    def stock(i, a, f):  # stock PyTorch3D returns the images only
        return fork_kernel(i, a, f)[0]

    images, weights = composite_with_weights(stock, idx, alphas, features)
    torch.testing.assert_close(images, ref_images)
    torch.testing.assert_close(weights, ref_weights)
    images2, weights2 = composite_with_weights(fork_kernel, idx, alphas, features)  # fork: passed through
    assert images2 is not None and torch.equal(weights2, ref_weights)
    assert not point_weights(idx, alphas.requires_grad_()).requires_grad
