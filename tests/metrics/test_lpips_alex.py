"""LPIPS backbone lookup, key layouts and the missing-weights message."""

from __future__ import annotations

import pytest
import torch

from nesbench.errors import AssetError
from nesbench.metrics.lpips_alex import ALEXNET_FILE, LpipsAlex, backbone_candidates, find_backbone


def test_lookup_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NESBENCH_LPIPS_BACKBONE", str(tmp_path / "env.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    c = backbone_candidates(tmp_path / "x.pth")
    assert c[0] == tmp_path / "x.pth" and c[1] == tmp_path / "env.pth"
    assert c[2] == tmp_path / "th" / "hub" / "checkpoints" / ALEXNET_FILE
    assert c[3].parts[-2:] == ("weights", ALEXNET_FILE)


def test_missing_weights_message_says_what_to_fetch(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NESBENCH_LPIPS_BACKBONE", raising=False)
    with pytest.raises(AssetError, match=r"alexnet-owt-7be5be79.pth.*nesbench fetch-weights"):
        find_backbone()


def test_torchvision_and_features_block_keys_give_the_same_network(tmp_path, mx) -> None:
    sd = torch.load(mx.STUB, map_location="cpu", weights_only=True)
    full = {f"features.{k}": v for k, v in sd.items()}
    full["classifier.1.weight"] = torch.zeros(2, 2)  # a torchvision file has the classifier too
    torch.save(full, tmp_path / "full.pth")
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        a = LpipsAlex(mx.STUB)(x, y)
        b = LpipsAlex(tmp_path / "full.pth")(x, y)
    assert torch.equal(a, b) and a.shape == (2,) and (a > 0).all()


def test_wrong_file_is_rejected_naming_the_key(tmp_path) -> None:
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(AssetError, match=r"no AlexNet key features.0.weight"):
        LpipsAlex(tmp_path / "bad.pth")


def test_tf32_split_is_exact_and_the_split_convolution_is_float32_accurate() -> None:
    import torch.nn.functional as F  # noqa: PLC0415

    from nesbench.metrics.precision import conv2d_split_tf32, tf32_split  # noqa: PLC0415

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 64, 33, 33, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(192, 64, 5, 5, generator=g) * 0.05
    hi, lo = tf32_split(x)
    assert torch.equal(hi + lo, x) and not (hi.view(torch.int32) & 8191).any()
    assert lo.abs().max() <= x.abs().max() * 2**-10 and lo.abs().max() > 0
    b = torch.randn(192, generator=g)
    want = F.conv2d(x.double(), w.double(), b.double(), 1, 2)
    got = conv2d_split_tf32(x, tf32_split(w), b, 1, 2)  # on the CPU each part is exact float32 arithmetic
    plain = F.conv2d(x, w, b, 1, 2)
    assert (got.double() - want).abs().max() <= 4 * (plain.double() - want).abs().max() + 1e-6


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_split_tf32_lpips_matches_float32(mx) -> None:
    net = LpipsAlex(mx.STUB, "cuda")
    assert net.split_tf32
    g = torch.Generator().manual_seed(1)
    x, y = (torch.rand(8, 3, 256, 256, generator=g).cuda() * 2 - 1 for _ in range(2))
    with torch.inference_mode():
        split = net(x, y)
        net.split_tf32 = False
        fp32 = net(x, y)
        cpu = LpipsAlex(mx.STUB, "cpu")(x.cpu(), y.cpu())
    assert (split.cpu() - cpu).abs().max() < 1e-6 and (fp32.cpu() - cpu).abs().max() < 1e-6
