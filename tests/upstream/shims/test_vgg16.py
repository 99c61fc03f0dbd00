"""The VGG16 `features` that the vgg16-from-cache patch gives PointAvatar's VGG loss, and the job preflight check."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from pyhocon import ConfigFactory

from nesbench.errors import AssetError
from nesbench.metrics import pypi_weights as pw
from nesbench.upstream.pins import load_pins
from nesbench.upstream.preflight import weights_problems
from nesbench.upstream.shims import vgg16

CHANNELS = [4, 4, "M", 5, 5, "M", 6, 6, 6, "M", 7, 7, 7, "M", 8, 8, 8, "M"]


def torchvision_like_features() -> torch.nn.Sequential:
    """torchvision's VGG16 `features` layout (conv, relu, ..., max-pool) with small channel counts."""
    layers, c = [], 3
    for v in CHANNELS:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(c, v, 3, padding=1), torch.nn.ReLU(inplace=True)]
            c = v
    return torch.nn.Sequential(*layers)


def torchvision_like_vgg16(weights=None, pretrained=False, **kwargs) -> torch.nn.Module:
    """torchvision's ``vgg16``/``_vgg``/``VGG.__init__`` flow (models/vgg.py): loading weights sets
    ``init_weights=False``; otherwise ``_initialize_weights`` re-draws every conv and linear weight."""
    if weights is not None or pretrained:
        kwargs["init_weights"] = False
    model = torch.nn.Module()
    model.features = torchvision_like_features()
    model.classifier = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(True), torch.nn.Linear(6, 5))
    if kwargs.pop("init_weights", True):
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, 0, 0.01)
    assert not kwargs, kwargs
    return model


@pytest.fixture
def installed(tmp_path, monkeypatch) -> dict[str, torch.Tensor]:
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    vgg16._state.cache_clear()
    state = {f"features.{k}": v.detach().clone() for k, v in torchvision_like_features().state_dict().items()}
    monkeypatch.setitem(pw.FINGERPRINTS, "vgg16", pw.fingerprint(state))
    pw.installed_path("vgg16").parent.mkdir(parents=True)
    torch.save(state, pw.installed_path("vgg16"))
    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(vgg16=torchvision_like_vgg16)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    yield state
    vgg16._state.cache_clear()


def test_features_carry_the_cached_weights_and_slice_like_upstream(installed) -> None:
    feats = vgg16.vgg16_features()
    for k, v in feats.state_dict().items():
        assert torch.equal(v, installed[f"features.{k}"]), k
    assert vgg16.vgg16_features() is not feats  # a new module per call, as vgg16(pretrained=True) gave
    assert isinstance(feats[:4][2], torch.nn.Conv2d) and isinstance(feats[4:9][0], torch.nn.MaxPool2d)


def test_building_the_features_draws_the_random_numbers_pretrained_true_drew(installed) -> None:
    """The global CPU generator after the shim is where it is after upstream's ``vgg16(pretrained=True)``, so the
    training that follows (DataLoader seeds, eikonal samples) sees upstream's random numbers for a given seed."""
    torch.manual_seed(7)
    torchvision_like_vgg16(pretrained=True)
    upstream = torch.rand(4)
    torch.manual_seed(7)
    vgg16.vgg16_features()
    assert torch.equal(torch.rand(4), upstream)
    torch.manual_seed(7)
    torchvision_like_vgg16(weights=None)  # what the shim did before: VGG's own init draws more
    assert not torch.equal(torch.rand(4), upstream)


def test_altered_or_missing_weights_fail_with_the_fix(installed) -> None:
    bad = dict(installed)
    bad["features.0.bias"] = bad["features.0.bias"] + 1
    torch.save(bad, pw.installed_path("vgg16"))
    with pytest.raises(AssetError, match="pinned fingerprint.*nesbench fetch-weights"):
        vgg16.vgg16_features()
    pw.installed_path("vgg16").unlink()
    with pytest.raises(AssetError, match="not installed.*nesbench fetch-weights"):
        vgg16.vgg16_features()


def test_a_pointavatar_job_with_the_vgg_loss_needs_the_weights(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path / "cache"))
    pins = load_pins()
    on = ConfigFactory.parse_string("loss { vgg_feature_weight = 0.1 }")
    off = ConfigFactory.parse_string("loss { vgg_feature_weight = 0 }")
    (problem,) = weights_problems(pins["pointavatar"], on)
    assert "vgg_feature_weight > 0" in problem and "nesbench fetch-weights" in problem
    assert weights_problems(pins["pointavatar"], off) == [] and weights_problems(pins["imavatar"], on) == []
