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
