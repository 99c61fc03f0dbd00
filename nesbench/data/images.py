"""Cheap PNG inspection (header) plus a full decode to catch corrupt files, run in a thread pool."""

from __future__ import annotations

import io
import os
import stat
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types (IHDR byte 25) -> channels and a readable name.
COLOR_TYPES = {
    0: (1, "grayscale"),
    2: (3, "RGB"),
    3: (1, "palette"),
    4: (2, "grayscale+alpha"),
    6: (4, "RGBA"),
}


NOT_REGULAR = "not a regular file (a folder, FIFO, socket or device)"


@dataclass(frozen=True)
class PngInfo:
    """Header facts of one PNG, plus what a full decode found (error text, or the max value for label maps)."""

    path: Path
    width: int = 0
    height: int = 0
    bit_depth: int = 0
    color_type: int = -1
    error: str | None = None  # unreadable / not a PNG / corrupt
    max_value: int | None = None  # largest pixel value (decoded images only)

    @property
    def kind(self) -> str:
        """e.g. 'RGB 8-bit', 'grayscale 16-bit'."""
        return f"{COLOR_TYPES.get(self.color_type, (0, f'colour type {self.color_type}'))[1]} {self.bit_depth}-bit"


def read_png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit_depth, color_type) from the IHDR chunk.

    Parsed by hand because PIL hides the bit depth of 16-bit RGB PNGs (it opens them as 8-bit 'RGB')."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (bad signature or no IHDR header)")
    width, height, bit_depth, color_type = struct.unpack(">IIBB", data[16:26])
    return width, height, bit_depth, color_type


def inspect_png(path: Path, decode: bool = True) -> PngInfo:
    """Header of ``path`` and, with ``decode``, a full decode (corruption check and max pixel value). Never raises."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # never open a FIFO (blocks) or a device (endless)
            return PngInfo(path, error=NOT_REGULAR)
        with open(path, "rb") as f:
            data = f.read() if decode else f.read(33)
    except OSError as exc:
        return PngInfo(path, error=f"unreadable ({exc.strerror or exc})")
    try:
        width, height, bit_depth, color_type = read_png_header(data)
    except ValueError as exc:
        return PngInfo(path, error=str(exc))
    info = PngInfo(path, width, height, bit_depth, color_type)
    if not decode:
        return info
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            arr = np.asarray(im)
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, zlib errors... on corrupt data
        return PngInfo(path, width, height, bit_depth, color_type, error=f"corrupt PNG ({exc})")
    if arr.shape[:2] != (height, width):
        return PngInfo(path, width, height, bit_depth, color_type, error="corrupt PNG (decoded size differs)")
    return PngInfo(path, width, height, bit_depth, color_type, max_value=int(arr.max()) if arr.size else 0)


def inspect_many(
    paths: Iterable[Path], decode: bool = True, workers: int | None = None
) -> dict[Path, PngInfo]:
    """inspect_png over many files in threads (PIL and file reads release the GIL), with a progress bar on stderr."""
    paths = list(paths)
    out: dict[Path, PngInfo] = {}
    if not paths:
        return out
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(
            total=len(paths), desc="reading images" if decode else "reading headers", unit="img", disable=None
        ) as bar,
    ):
        for info in pool.map(lambda p: inspect_png(p, decode), paths, chunksize=64):
            out[info.path] = info
            bar.update()
    return out
