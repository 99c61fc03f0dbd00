"""Decoded ground truth kept between runs: each GT sequence's images, masks and semantic maps as raw uint8 arrays.

Every method, epoch and re-run is scored against the same GT frames, and decoding their three PNGs costs more CPU
time than all the metrics together on a GPU (docs/PERFORMANCE.md). With a cache folder (``--gt-cache DIR`` or
``$NESBENCH_GT_CACHE``), the first run that scores a sequence writes what :func:`read_gt_frame` decoded into
``DIR/<key>/{image,mask,semantic}.npy``; later runs read frames from those arrays instead of decoding PNGs, so only
the prediction is decoded. The values are the decoded pixels themselves: scores are bit-identical with and without
the cache (tests/metrics/test_gt_cache.py).

- The key hashes the sequence folder (resolved path), whether semantic maps are read, and the name, size, mtime
  and ctime of flame_params.json and of every frame's image/mask/semantic PNG: changing, adding or removing a GT
  file gives a new entry, also when it is rewritten with the same size and mtime (a write always sets the ctime,
  which no tool sets back). Old entries stay until the folder is deleted; it is only a cache, delete it at any time.
- Each entry's index.json holds a BLAKE2b checksum of every .npy and its size/mtime/ctime right after writing. When
  a process first opens an entry, an array whose stat differs from the recorded one is hashed and compared; one that
  does not match (a corrupt or edited file) makes the entry rebuilt from the PNGs with a note.
- Entries are written in a temporary folder and renamed into place; concurrent writers race harmlessly.
- A sequence with an unreadable or mis-sized frame is not cached: it is decoded from PNGs on every run, so its
  failures are reported exactly as without the cache. A cache that cannot be written (full disk) is likewise
  skipped with a note; an unreadable entry is rebuilt with a note.
- Size: 5 bytes per pixel per frame when the mask's channels are equal and the labels are integers (as in
  RenderMe-360), 1.3 MB per 512x512 frame; at most 10 (a colour mask and fractional label values).

Plain .npy files are used rather than a container format (zarr, HDF5): the reads are whole uncompressed frames at
a known offset (``os.preadv``, which lets decode threads read in parallel), the page cache does the caching, and it
adds no dependency.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nesbench.errors import DataError
from nesbench.fsutil import (
    TEMP_PREFIX,
    file_digest,
    make_temp_dir,
    read_json_strict,
    write_json_atomic,
)
from nesbench.log import get_logger
from nesbench.metrics.frames import GtSequence, RawGt, gt_keypoints, gt_paths, read_gt_frame
from nesbench.metrics.images import FrameError

log = get_logger(__name__)

FORMAT = 2  # 2: keys by content, per-file checksums in index.json
ENV = "NESBENCH_GT_CACHE"
COMPONENTS = ("image", "mask", "semantic")


def gt_cache_from(option: str | os.PathLike[str] | None) -> GtCache | None:
    """The cache named by a ``--gt-cache`` value, else by ``$NESBENCH_GT_CACHE``; None when neither is set.
    DataError naming the folder when it cannot be created or written (checked before any scoring starts)."""
    value = option if option not in (None, "") else os.environ.get(ENV)
    if not value:
        return None
    cache = GtCache(Path(value).expanduser())
    try:
        cache.root.mkdir(parents=True, exist_ok=True)
        make_temp_dir(cache.root, TEMP_PREFIX).rmdir()
    except OSError as exc:
        raise DataError(
            f"{cache.root}: cannot write the GT cache there ({exc.strerror}); pass another --gt-cache folder"
        ) from None
    return cache


def _stat(path: Path) -> list | None:
    """[size, mtime_ns, ctime_ns] of a file, None when it cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


@dataclass(frozen=True)
class _Frames:
    """Where frame i of one component lies in its .npy file (C order, frames along the first axis)."""

    path: Path
    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def of(cls, path: Path) -> _Frames:
        with open(path, "rb") as f:
            readers = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            version = np.lib.format.read_magic(f)
            if version not in readers:
                raise ValueError(f"{path.name}: .npy format {version} (this cache writes 1.0/2.0)")
            shape, fortran, dtype = readers[version](f)
            if fortran or dtype.hasobject:
                raise ValueError(f"{path.name} is not a plain C-order array")
            offset = f.tell()
        if path.stat().st_size != offset + int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"{path.name} is truncated")
        return cls(path, offset, tuple(shape), dtype)

    def read(self, i: int) -> np.ndarray:
        """Frame i, read with os.preadv (it releases the GIL during the copy, so threads read in parallel)."""
        return self.read_into(i, np.empty(self.shape[1:], self.dtype))

    def read_into(self, i: int, out: np.ndarray) -> np.ndarray:
        """Frames i, i+1, ... into ``out`` (C-contiguous, of this dtype; one frame or a run of frames), e.g. a
        slot of a pinned batch buffer; returns ``out``."""
        view = memoryview(out).cast("B")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            pos, start = 0, self.offset + i * int(np.prod(self.shape[1:])) * self.dtype.itemsize
            while pos < out.nbytes:
                n = os.preadv(fd, [view[pos:]], start + pos)
                if n <= 0:
                    raise OSError(f"{self.path}: unexpected end of file")
                pos += n
        finally:
            os.close(fd)
        return out


@dataclass
class CachedSequence:
    """Decoded frames of one GT sequence, read frame by frame from the entry's .npy files."""

    dir: Path
    rows: dict[int, int]
    image: _Frames
    mask: _Frames
    semantic: _Frames | None

    @property
    def components(self) -> dict[str, _Frames]:
        """The stored arrays by name (image, mask, semantic when read)."""
        parts = {"image": self.image, "mask": self.mask, "semantic": self.semantic}
        return {name: frames for name, frames in parts.items() if frames is not None}

    def raw(self, seq: GtSequence, k: int) -> RawGt:
        """Frame k as :func:`read_gt_frame` returns it."""
        i = self.rows[k]
        mask = self.mask.read(i)
        if (
            mask.shape[2] == 1
        ):  # a read-only 3-channel view; np.repeat held the GIL: 16 threads read as fast as 1
            mask = np.broadcast_to(mask, (*mask.shape[:2], 3))
        semantic = (
            None if self.semantic is None else self.semantic.read(i)
        )  # uint8 when the labels are integers
        return RawGt(k, self.image.read(i), mask, semantic, None, gt_keypoints(seq, k), gt_paths(seq, k))


class GtCache:
    """A folder of decoded GT sequences (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._verified: set[Path] = set()  # entries whose checksums were verified by this process
        self.notes: list[str] = []  # why a sequence was not cached, or an entry rebuilt (shown to the user)

    def key(self, seq: GtSequence, want_semantic: bool) -> str:
        """Hash of the sequence folder, the semantic flag and the name, size, mtime and ctime of flame_params.json
        and of every frame's image/mask/semantic PNG. Writing a file always sets its ctime (which no tool can set
        back), so a GT file rewritten even with the same size and mtime gives a new key."""
        d = seq.dir.resolve()
        files = {
            c: [[k, _stat(d / c / f"{k}.png")] for k in seq.expected]
            for c in COMPONENTS
            if c != "semantic" or want_semantic
        }
        parts = {
            "format": FORMAT,
            "dir": str(d),
            "semantic": want_semantic,
            "json": _stat(d / "flame_params.json"),
            "files": files,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def load(self, seq: GtSequence, want_semantic: bool, mapper: Callable = map) -> CachedSequence | None:
        """The cached sequence, building it first (decoding with ``mapper``, e.g. a thread pool's ``map``) when
        absent; None when the sequence cannot be cached (a frame fails to decode; the reason is in ``notes``)."""
        entry = self.root / self.key(seq, want_semantic)
        if entry.is_dir():
            cached = self._open(entry, seq, want_semantic)
            if cached is not None:
                return cached
        return self._build(entry, seq, want_semantic, mapper)

    def _open(self, entry: Path, seq: GtSequence, want_semantic: bool) -> CachedSequence | None:
        try:
            index = read_json_strict(entry / "index.json")
            arrays = {c: _Frames.of(entry / f"{c}.npy") for c in index["components"]}
            if entry not in self._verified:
                self._verify(entry, index)
                self._verified.add(entry)
            rows = {int(k): i for i, k in enumerate(index["frames"])}
            if sorted(rows) != seq.expected or any(a.shape[0] != len(rows) for a in arrays.values()):
                raise ValueError("its frames are not those of flame_params.json")
            if want_semantic != ("semantic" in arrays):
                raise ValueError("semantic maps missing")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.notes.append(f"{entry}: unreadable entry ({exc}); rebuilt from the PNGs")
            shutil.rmtree(entry, ignore_errors=True)
            return None
        return CachedSequence(entry, rows, arrays["image"], arrays["mask"], arrays.get("semantic"))

    @staticmethod
    def _verify(entry: Path, index: dict) -> None:
        """ValueError unless every array of the entry matches the checksum written with it. An array whose size,
        mtime and ctime are those recorded right after it was written has not been written since (any write sets
        the ctime) and is not re-read; any other is hashed in full and compared."""
        for c in index["components"]:
            path = entry / f"{c}.npy"
            if _stat(path) == index["stats"][c]:
                continue
            if file_digest(path) != index["digests"][c]:
                raise ValueError(f"{c}.npy does not match its checksum (corrupt or modified)")

    def _build(
        self, entry: Path, seq: GtSequence, want_semantic: bool, mapper: Callable
    ) -> CachedSequence | None:
        expected = seq.expected

        def decode(k: int) -> RawGt | str:
            try:
                raw = read_gt_frame(seq, k, want_semantic)
            except FrameError as exc:
                return str(exc)
            return raw.semantic_error or raw

        first = decode(expected[0])
        if isinstance(first, str):
            return self._skip(seq, first)
        n, (h, w) = len(expected), first.image.shape[:2]
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(self.root, TEMP_PREFIX)
        out: dict[str, _NpyWriter] = {}
        try:
            out["image"] = _NpyWriter(tmp / "image.npy", n, (h, w, 3), np.uint8)
            out["mask"] = _NpyWriter(tmp / "mask.npy", n, (h, w, 3), np.uint8)
            if want_semantic:
                out["semantic"] = _NpyWriter(tmp / "semantic.npy", n, (h, w), np.float32)
            reason, grey, labels = self._fill(expected, first, decode, mapper, out)
            for writer in out.values():
                writer.close()
            if reason:
                return self._skip(seq, reason)
            if grey:  # equal channels: one is enough (read back as a broadcast view, exact)
                _narrow(tmp / "mask.npy", lambda a: a[..., :1])
            if want_semantic and labels:  # integer labels 0..255: uint8 is exact
                _narrow(tmp / "semantic.npy", lambda a: a.astype(np.uint8))
            components = [c for c in COMPONENTS if (tmp / f"{c}.npy").is_file()]
            index = {"format": FORMAT, "source": str(seq.dir.resolve()), "frames": expected}
            digests = {c: file_digest(tmp / f"{c}.npy") for c in components}
            stats = {c: _stat(tmp / f"{c}.npy") for c in components}
            index = {**index, "components": components, "digests": digests, "stats": stats}
            write_json_atomic(tmp / "index.json", index)
            with contextlib.suppress(OSError):  # another process wrote the same entry meanwhile: use theirs
                os.rename(tmp, entry)
        except OSError as exc:  # e.g. a full disk: score from the PNGs, as without a cache
            return self._skip(seq, f"cannot write the cache in {self.root}: {exc.strerror or exc}")
        finally:
            for writer in out.values():
                writer.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return self._open(entry, seq, want_semantic)

    @staticmethod
    def _fill(
        expected: list[int],
        first: RawGt,
        decode: Callable[[int], RawGt | str],
        mapper: Callable,
        out: dict[str, _NpyWriter],
    ) -> tuple[str | None, bool, bool]:
        """Decode every frame into ``out``: (first failure or size mismatch as text, masks grey, integer labels)."""
        shape, grey, labels = first.image.shape, True, True
        chunk = 64
        for start in range(0, len(expected), chunk):
            ks = expected[start : start + chunk]
            raws: Iterable[RawGt | str] = (
                [first, *mapper(decode, ks[1:])] if start == 0 else mapper(decode, ks)
            )
            for raw in raws:
                if isinstance(raw, str):
                    return raw, grey, labels
                if raw.image.shape != shape:
                    w, h = raw.image.shape[1], raw.image.shape[0]
                    return f"{raw.paths['image']}: {w}x{h}, unlike the first frame", grey, labels
                m = raw.mask
                out["image"].append(raw.image)
                out["mask"].append(m)
                grey = grey and np.array_equal(m[..., 0], m[..., 1]) and np.array_equal(m[..., 0], m[..., 2])
                if "semantic" in out:
                    if raw.semantic.shape != shape[:2]:
                        return f"semantic map of frame {raw.k} is not the image size", grey, labels
                    out["semantic"].append(raw.semantic)
                    labels = labels and np.array_equal(raw.semantic, raw.semantic.astype(np.uint8))
        return None, grey, labels

    def _skip(self, seq: GtSequence, reason: str) -> None:
        self.notes.append(f"{seq.dir}: not cached, decoded from PNGs on every run ({reason})")
        return None

    def flush_notes(self) -> None:
        """Log and forget the notes (``note: gt cache: ...``, one line each on stderr)."""
        for line in self.notes:
            log.info(f"gt cache: {line}")
        self.notes.clear()


class _NpyWriter:
    """An (n, *frame_shape) .npy file written frame by frame with plain writes: a full disk raises OSError (writes
    through a memory map would kill the process with SIGBUS instead)."""

    def __init__(self, path: Path, n: int, frame_shape: tuple[int, ...], dtype: np.dtype | type):
        self.dtype = np.dtype(dtype)
        self.file = open(path, "wb")  # noqa: SIM115  (closed by close(), also on errors)
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (n, *frame_shape),
        }
        np.lib.format.write_array_header_1_0(self.file, header)

    def append(self, frame: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(frame, dtype=self.dtype).data)

    def close(self) -> None:
        self.file.close()


def _narrow(path: Path, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    """Rewrite the .npy at ``path`` as ``fn`` of each of its frames (one frame in memory at a time)."""
    src = _Frames.of(path)
    small = path.with_name(TEMP_PREFIX + path.name)
    probe = fn(src.read(0))
    writer = _NpyWriter(small, src.shape[0], probe.shape, probe.dtype)
    try:
        for i in range(src.shape[0]):
            writer.append(fn(src.read(i)))
    finally:
        writer.close()
    os.replace(small, path)
