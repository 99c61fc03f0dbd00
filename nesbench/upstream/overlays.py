"""Install this project's overlays (novel_expression_synthesis/<method>/) into an upstream checkout's code/.

The benchmark README says to move them to the repository root; the runners start from code/, so they go to
code/scripts and code/datasets (spec 3.1).
"""

from __future__ import annotations

from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import write_bytes_atomic
from nesbench.paths import OVERLAYS_DIR


def overlay_files(method: str, overlays: Path | None = None) -> dict[str, Path]:
    """{path relative to code/: source file} for ``method``."""
    root = (overlays or OVERLAYS_DIR) / method
    if not root.is_dir():
        raise AssetError(f"{root}: overlay folder missing; restore it from git")
    return {
        p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts
    }


def overlay_state(method: str, code_dir: Path, overlays: Path | None = None) -> str:
    """'installed' when every overlay file is in place with the same content, else 'pending'."""
    for rel, src in overlay_files(method, overlays).items():
        dst = code_dir / rel
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            return "pending"
    return "installed"


def install_overlays(method: str, code_dir: Path, overlays: Path | None = None) -> list[str]:
    """Copy changed overlay files into ``code_dir``; returns the relative paths written. Idempotent."""
    written = []
    for rel, src in overlay_files(method, overlays).items():
        dst = code_dir / rel
        if not dst.parent.is_dir():
            raise AssetError(f"{dst.parent}: not in the checkout; is {code_dir} an upstream code/ folder?")
        data = src.read_bytes()
        if not dst.is_file() or dst.read_bytes() != data:
            write_bytes_atomic(dst, data)
            written.append(rel)
    return written
