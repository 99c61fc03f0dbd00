"""Put the benchmark data where the harness looks for it: extract the tarball safely, or symlink a folder.

The tarball ``data_NES_imavatar_pointavatar.tar`` holds ``data/datasets/testsetK/...`` (and ``data/conf``), so the
harness expects ``<into>/data`` (default ``benchmark_data/data``) with the dataset root at ``<into>/data/datasets``.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from nesbench.data.layout import find_dataset_root
from nesbench.errors import DataError
from nesbench.fsutil import make_temp_dir, write_json_atomic

MARKER = ".data-source.json"  # records which tarball <into>/data was extracted from (re-runs skip extraction)


def unsafe_member_reason(member: tarfile.TarInfo) -> str | None:
    """Why extracting ``member`` could write outside the target folder (None if it is safe)."""
    name = PurePosixPath(member.name)
    if member.name.startswith(("/", "\\")) or (len(member.name) > 1 and member.name[1] == ":"):
        return "has an absolute path"
    if ".." in name.parts:
        return "contains '..' (path traversal)"
    if member.issym() or member.islnk():
        # symlink targets are relative to the link's folder, hard-link targets to the archive root
        base = posixpath.dirname(member.name) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, member.linkname))
        if member.linkname.startswith("/") or resolved == ".." or resolved.startswith("../"):
            return f"is a link pointing outside the archive ({member.linkname})"
    if member.ischr() or member.isblk() or member.isfifo():
        return "is a device or FIFO"
    return None


def _check_members(tar_path: Path, members: list[tarfile.TarInfo]) -> None:
    for m in members:
        why = unsafe_member_reason(m)
        if why:
            raise DataError(
                f"{tar_path}: member {m.name!r} {why}; refusing to extract anything "
                f"(the file is corrupt or malicious: re-download it from OpenXDLab)"
            )


def _tar_identity(tar_path: Path) -> dict[str, object]:
    st = tar_path.stat()
    return {"tarball": str(tar_path.resolve()), "size": st.st_size, "mtime": int(st.st_mtime)}


def _clear(path: Path, force: bool, what: str) -> None:
    """Remove an existing ``path`` (only with force; a symlink is unlinked, never followed)."""
    if not (path.exists() or path.is_symlink()):
        return
    if not force:
        raise DataError(f"{path}: already exists ({what}); move it away or pass --force to replace it")
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)


def extract_tarball(tar_path: Path, into: Path, *, force: bool = False) -> Path:
    """Extract ``tar_path`` into ``into`` (atomically per top-level entry); return the extracted ``data`` folder.

    Every member is checked before anything is written: absolute paths, '..', links leaving the archive and devices
    are refused. Extraction goes to a temporary folder inside ``into`` and is moved into place when complete.
    """
    into.mkdir(parents=True, exist_ok=True)
    marker = into / MARKER
    ident = _tar_identity(tar_path)
    if (into / "data").is_dir() and not (into / "data").is_symlink() and marker.exists() and not force:
        try:
            if json.loads(marker.read_text()) == ident:
                print(f"{into / 'data'}: already extracted from {tar_path.name}; skipping extraction")
                return into / "data"
        except (OSError, ValueError):
            pass
    try:
        tar = tarfile.open(tar_path, "r:*")  # noqa: SIM115 (closed by the `with tar:` below)
    except (tarfile.TarError, OSError) as exc:
        raise DataError(
            f"{tar_path}: not a readable tar archive ({exc}); re-download data_NES_imavatar_pointavatar.tar"
        ) from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{tar_path}: truncated or corrupt archive ({exc}); re-download it") from None
        _check_members(tar_path, members)
        tops = sorted({PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts})
        if "data" not in tops:
            raise DataError(
                f"{tar_path}: has no top-level data/ folder (found: {', '.join(tops[:5]) or 'nothing'}); "
                "this is not data_NES_imavatar_pointavatar.tar"
            )
        existing = [t for t in tops if (into / t).exists() or (into / t).is_symlink()]
        others = [t for t in existing if t != "data"]
        if (
            others
        ):  # --force only ever replaces data/, never other files of the target folder (e.g. README.md)
            raise DataError(
                f"{tar_path}: its top-level {others[0]!r} would overwrite {into / others[0]}; "
                "extract somewhere else with --into DIR"
            )
        if existing and not force:
            _clear(into / "data", False, "an earlier extraction or link")
        staging = make_temp_dir(into, ".extract-")
        try:
            total = sum(m.size for m in members if m.isfile())
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"extracting {tar_path.name}", disable=None
            ) as bar:
                for m in members:
                    tar.extract(m, staging, filter="data")
                    bar.update(m.size if m.isfile() else 0)
            for top in tops:
                _clear(into / top, force, "an earlier extraction or link")
                os.replace(staging / top, into / top)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(
                f"{tar_path}: extraction failed ({exc}); free disk space or re-download it"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(marker, ident)
    return into / "data"


def link_folder(folder: Path, into: Path, *, force: bool = False) -> Path:
    """Symlink an extracted dataset so that ``<into>/data/datasets`` is its root; return ``<into>/data``.

    ``folder`` may be the extraction folder (holding data/), the data/ folder (holding datasets/) or the dataset
    root itself (holding testsetK/). An existing different link or folder is only replaced with ``force``.
    """
    folder = folder.expanduser().resolve()
    root, _ = find_dataset_root(folder)
    into.mkdir(parents=True, exist_ok=True)
    if root == folder / "data" / "datasets":
        link, target = into / "data", folder / "data"
    elif root == folder / "datasets":
        link, target = into / "data", folder
    else:  # the dataset root itself: <into>/data/datasets -> folder
        data = into / "data"
        if data.is_symlink() or (data.exists() and not data.is_dir()):
            _clear(data, force, f"a link to {os.readlink(data)}" if data.is_symlink() else "a file")
        data.mkdir(exist_ok=True)
        link, target = data / "datasets", folder
    if link.is_symlink() and Path(os.readlink(link)).expanduser().resolve() == target:
        print(f"{link}: already links to {target}")
        return into / "data"
    if link.is_symlink() or link.exists():
        what = f"a link to {os.readlink(link)}" if link.is_symlink() else "a folder, not a link"
        _clear(link, force, what)
    link.symlink_to(target, target_is_directory=True)
    (into / MARKER).unlink(missing_ok=True)
    print(f"{link} -> {target}")
    return into / "data"


def link_data(path: Path, into: Path, *, force: bool = False) -> Path:
    """Tarball -> extract; folder -> symlink. Returns the dataset root (``<into>/data/datasets``)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder; pass data_NES_imavatar_pointavatar.tar or the folder it was extracted to"
        )
    data = (
        extract_tarball(path, into, force=force) if path.is_file() else link_folder(path, into, force=force)
    )
    root, _ = find_dataset_root(data)
    return root
