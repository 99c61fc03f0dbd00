"""Rewrite 1-channel mask PNGs as 3-channel ones (the legacy metric scripts index mask[:, [0]] on RGB masks)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from nesbench.data.images import inspect_png
from nesbench.data.layout import TESTSET_RE, find_dataset_root, frame_files
from nesbench.errors import DataError
from nesbench.fsutil import atomic_path


def mask_folders(root: Path) -> list[Path]:
    """Every <testsetK>/<id>/<id>/<seq>/mask folder under a dataset root."""
    return sorted(
        p
        for ts in root.iterdir()
        if ts.is_dir() and TESTSET_RE.match(ts.name)
        for p in ts.glob("*/*/*/mask")
        if p.is_dir()
    )


def _to_rgb(path: Path) -> bool:
    """Rewrite one 8-bit grayscale PNG as RGB (atomically); False if it was not a 1-channel 8-bit mask."""
    info = inspect_png(path, decode=False)
    if info.error or info.color_type != 0 or info.bit_depth != 8:
        return False
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
    except Exception as exc:  # corrupt file: leave it alone, say which
        raise DataError(f"{path}: cannot decode ({exc}); restore it from the original data") from None
    with atomic_path(path, suffix=".png") as tmp:
        rgb.save(tmp, format="PNG")
    return True


def fix_masks(root: Path, workers: int | None = None) -> tuple[int, int]:
    """Convert every 1-channel mask under ``root`` to 3 channels; returns (converted, masks seen)."""
    root, _ = find_dataset_root(Path(root))
    files = [p for folder in mask_folders(root) for p in frame_files(folder).values()]
    converted = 0
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(files), desc="fixing masks", unit="img", disable=None) as bar,
    ):
        for changed in pool.map(_to_rgb, files, chunksize=64):
            converted += changed
            bar.update()
    return converted, len(files)
