"""Decoding of frames for scoring: predictions, GT images, masks and semantic maps as float32 arrays.

PNGs are decoded with OpenCV (lossless, releases the GIL, so a thread pool decodes in parallel); values equal
``skimage.io.imread``'s for 8-bit RGB/RGBA/grey PNGs, which is what the legacy metric scripts use.
"""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np

from nesbench.errors import DataError

cv2.setNumThreads(1)  # parallelism comes from the decode thread pool; avoid oversubscribing the cores


class FrameError(DataError):
    """A single frame cannot be scored (missing, corrupt, wrong size/channels); recorded as a failure."""


def _decode(path: Path) -> np.ndarray:
    """uint8 array HxW or HxWxC in OpenCV's BGR(A) order; FrameError naming the file otherwise."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise FrameError(f"{path}: missing") from None
    if not stat.S_ISREG(mode):  # a FIFO would block the read forever, a device never end
        raise FrameError(f"{path}: not a regular file (a folder, FIFO or device); replace it with the PNG")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise FrameError(f"{path}: cannot read ({exc.strerror or exc}); check its permissions") from None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise FrameError(f"{path}: cannot decode (corrupt or not an image); re-render or re-extract it")
    if img.dtype != np.uint8:
        raise FrameError(f"{path}: {img.dtype} image; expected 8-bit PNG (save it as uint8)")
    return img


def read_png(path: Path) -> np.ndarray:
    """uint8 array HxW (grey) or HxWxC in RGB(A) order; FrameError naming the file otherwise."""
    img = _decode(path)
    if img.ndim == 3:
        if img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        elif img.shape[2] == 1:
            img = img[:, :, 0]
    return img


def read_rgb(path: Path, out: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 HxWx3: RGBA loses alpha (as the legacy `[:, :, :3]`); grey or 2-channel images are rejected.
    ``out`` (uint8 HxWx3, C-contiguous, e.g. a slot of a pinned batch buffer) receives the image when it has the
    image's size, and is then what is returned (no other copy is made); otherwise a new array is returned."""
    img = _decode(path)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        ch = 1 if img.ndim == 2 else img.shape[2]
        raise FrameError(f"{path}: {ch}-channel image; expected RGB (3 channels) - save the render as RGB")
    code = cv2.COLOR_BGR2RGB if img.shape[2] == 3 else cv2.COLOR_BGRA2RGB
    fits = out is not None and out.shape == (*img.shape[:2], 3) and out.flags.c_contiguous
    if fits and cv2.cvtColor(img, code, dst=out) is out:
        return out
    return cv2.cvtColor(img, code)


def read_semantic(path: Path) -> np.ndarray:
    """Face-parsing labels HxW with the values of ``imageio.imread(as_gray=True)`` (PIL 'F'): the label itself for
    1-channel label maps (kept as uint8: the same values, 4x less to move), ITU-R 601-2 luma as float32 for colour
    images."""
    img = read_png(path)
    if img.ndim == 2:
        return img
    rgb = img[:, :, :3].astype(np.float32)
    return rgb[..., 0] * (299 / 1000) + rgb[..., 1] * (587 / 1000) + rgb[..., 2] * (114 / 1000)


def legacy_resize(img: np.ndarray, res: int, path: Path) -> np.ndarray:
    """The legacy ``_load_img`` rule: cv2 bilinear resize to res x res only when ``shape[-2]`` differs from res
    (the width for HxWxC, the height for HxW). A frame that is still not res x res afterwards is rejected."""
    if img.shape[-2] != res:
        img = cv2.resize(img, (res, res))
    if img.shape[0] != res or img.shape[1] != res:
        raise FrameError(f"{path}: {img.shape[1]}x{img.shape[0]} image; expected {res}x{res} (or square)")
    return img


def resize_to(img: np.ndarray, res: int, path: Path) -> np.ndarray:
    """Resize a square image to res x res (bilinear, or area when shrinking); non-square images are rejected."""
    h, w = img.shape[:2]
    if h != w:
        raise FrameError(f"{path}: {w}x{h} image is not square; render at {res}x{res}")
    if h == res:
        return img
    return cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA if h > res else cv2.INTER_LINEAR)


def legacy_resize_255(img: np.ndarray, res: int, path: Path) -> np.ndarray:
    """:func:`legacy_resize` on the 0..255 scale, as the legacy code (float32 before resizing): a frame already at
    the resolution stays uint8 (4x less to copy; scorers divide by 255 in float32 on the device, the same value)."""
    return legacy_resize(img if img.shape[-2] == res else img.astype(np.float32), res, path)


def resize_to_255(img: np.ndarray, res: int, path: Path) -> np.ndarray:
    """:func:`resize_to` on the 0..255 scale: uint8 when no resize is needed, float32 after a resize."""
    return resize_to(img if img.shape[0] == res else img.astype(np.float32), res, path)
