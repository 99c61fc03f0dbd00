"""`nesbench fetch-weights`: put the ImageNet AlexNet backbone of LPIPS into the cache (copy or download)."""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import atomic_path
from nesbench.metrics.lpips_alex import ALEXNET_FILE, ALEXNET_SHA256_PREFIX, ALEXNET_URL, sha256_of
from nesbench.paths import cache_dir


def weights_target() -> Path:
    return cache_dir() / "weights" / ALEXNET_FILE


def install_backbone(source: Path | None = None, *, verify: bool = True, url: str = ALEXNET_URL) -> Path:
    """Copy ``source`` (or download ``url``) to the cache, checking the official sha256 prefix unless told not to."""
    target = weights_target()
    with tempfile.TemporaryDirectory() as tmp:
        if source is not None:
            source = Path(source).expanduser()
            if not source.is_file():
                raise AssetError(f"{source}: no such file; pass the downloaded {ALEXNET_FILE}")
            staged = source
        else:
            staged = Path(tmp) / ALEXNET_FILE
            try:
                with urllib.request.urlopen(url, timeout=30) as r, open(staged, "wb") as f:
                    shutil.copyfileobj(r, f)
            except OSError as exc:
                raise AssetError(
                    f"cannot download {url} ({getattr(exc, 'reason', exc)}); on a machine with internet run "
                    f"`curl -LO {url}`, copy the file here and run `nesbench fetch-weights --from {ALEXNET_FILE}`"
                ) from None
        digest = sha256_of(staged)
        if verify and not digest.startswith(ALEXNET_SHA256_PREFIX):
            raise AssetError(
                f"{source or url}: sha256 {digest[:16]}... does not start with {ALEXNET_SHA256_PREFIX} (not the official "
                f"{ALEXNET_FILE}); download it again, or pass --no-verify to install a different AlexNet on purpose"
            )
        with atomic_path(target) as tmp_target:
            shutil.copyfile(staged, tmp_target)
    return target
