"""Build steps of upstream checkouts: IMavatar's libmise Cython extension (spec 5.2, 5.4 item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import write_text_atomic

LIBMISE = Path("utils/libmise")


def libmise_state(code_dir: Path) -> str:
    """'built' when an extension module for this interpreter's ABI is present, else 'pending'."""
    import sysconfig

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return "built" if (code_dir / LIBMISE / f"mise{suffix}").is_file() else "pending"


def build_libmise(code_dir: Path, force: bool = False) -> str:
    """Build libmise in place with Cython 3 (the shipped mise.cpp is from old Cython and is deleted first).

    Returns the state before. The build log goes to code/utils/libmise/build.log.
    """
    before = libmise_state(code_dir)
    if before == "built" and not force:
        return before
    try:
        import Cython  # noqa: F401
    except ImportError:
        raise AssetError(
            "Cython is not installed; IMavatar's libmise needs it: pip install 'Cython>=3' and re-run setup"
        ) from None
    if not (code_dir / "setup.py").is_file() or not (code_dir / LIBMISE / "mise.pyx").is_file():
        raise AssetError(
            f"{code_dir}: no setup.py or utils/libmise/mise.pyx; is this IMavatar's code/ folder?"
        )
    stale = code_dir / LIBMISE / "mise.cpp"
    if stale.exists():
        stale.unlink()
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=code_dir,
        capture_output=True,
        text=True,
    )
    log = code_dir / LIBMISE / "build.log"
    write_text_atomic(log, proc.stdout + proc.stderr)
    if proc.returncode != 0 or libmise_state(code_dir) != "built":
        raise AssetError(
            f"{log}: building libmise failed (needs a C++ compiler and Python headers); see the log"
        )
    return before
