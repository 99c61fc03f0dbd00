"""Atomic file writes (temp file in the same folder + rename) so that no reader ever sees a partial file."""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".nbtmp."


def default_mode(directory: bool = False) -> int:
    """The mode a plain open()/mkdir() would give under the current umask (mkstemp/mkdtemp use 0600/0700)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def make_temp_dir(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A temporary folder in ``parent`` with the permissions of a normal folder (renamed into place later)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, default_mode(directory=True))
    return tmp


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    # keep the mode of the file being replaced, else what a plain open() would give (mkstemp makes 0600)
    os.chmod(tmp_path, path.stat().st_mode & 0o7777 if path.exists() else default_mode())
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def strict_json_value(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, +-Infinity) replaced by None: strict JSON has no such numbers
    (browsers' JSON.parse, jq and most parsers reject them). Metric values are finite before they get here (the
    PSNR of an exact match is capped, NaN frames fail), so this only guards against what nobody foresaw."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json_value(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json_value(v) for v in obj]
    return obj


def dumps_strict(obj: Any, indent: int | None = 1) -> str:
    """Strict JSON text of ``obj`` (non-finite floats as null, see :func:`strict_json_value`)."""
    return json.dumps(strict_json_value(obj), indent=indent, sort_keys=False, allow_nan=False)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int | None = 1) -> None:
    """Write strict JSON (:func:`dumps_strict`) atomically: every JSON the harness writes goes through here."""
    write_text_atomic(path, dumps_strict(obj, indent) + "\n")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json_strict(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file strictly (NaN/Infinity refused). OSError/ValueError (incl. UnicodeDecodeError) propagate
    for the caller to name the file and the fix; FIFOs and devices are refused without being opened."""
    require_regular_file(path)
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=_reject_constant)


def require_regular_file(path: str | os.PathLike[str]) -> None:
    """OSError unless ``path`` is a regular file (checked with stat, so a FIFO or device is never opened: opening
    a FIFO would block forever). A missing file raises FileNotFoundError."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    if not stat.S_ISREG(mode):
        raise OSError(f"{path}: not a regular file (a FIFO, socket or device); replace it with a real file")


def file_digest(path: str | os.PathLike[str]) -> str:
    """A fast content hash (BLAKE2b, 128 bits) of a file's bytes: caches are keyed by content, not by mtime."""
    require_regular_file(path)
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def file_digests(paths: list[Path]) -> list[str]:
    """:func:`file_digest` of each path, hashed in threads (hashlib releases the GIL); a path that is missing, a
    folder, a FIFO/device or unreadable gets ``"unreadable: <why>"`` instead (never equal to a content hash)."""

    def one(p: Path) -> str:
        try:
            return file_digest(p)
        except OSError as exc:
            return f"unreadable: {exc.strerror or exc}"

    if len(paths) < 4:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(
        min(16, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 4)
    ) as pool:
        return list(pool.map(one, paths))


def sweep_temp_files(root: str | os.PathLike[str]) -> int:
    """Remove temp files left by writers that were killed (SIGKILL skips cleanup); returns how many.

    Only call it when no writer is active under ``root`` (e.g. when a run starts or resumes).
    """
    n = 0
    for p in Path(root).rglob(f"{TEMP_PREFIX}*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


@contextmanager
def holder_lock(path: str | os.PathLike[str], on_busy: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` and record the holder (host:pid) in it; released on exit or death.

    If another process holds it, ``on_busy(holder)`` is called first: it may raise (do not wait) or return (then
    this waits for the lock).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            if on_busy:
                on_busy(fh.read().strip() or "?")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.uname().nodename}:{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
