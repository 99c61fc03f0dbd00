"""Module checks before an upstream job: a missing dependency is one line naming it and the fix."""

from __future__ import annotations

import sys
from pathlib import Path

from nesbench.upstream import preflight
from nesbench.upstream.pins import get_pin


def test_flashavatar_checks_pytorch3d_io_whose_iopath_the_no_deps_wheel_does_not_bring(
    tmp_path: Path, monkeypatch
) -> None:
    # found on the H200: `import pytorch3d` worked, FlashAvatar's `from pytorch3d.io import load_obj` did not (no iopath)
    assert "pytorch3d.io" in preflight.REQUIRED_MODULES["flashavatar"]
    fake = tmp_path / "site" / "pytorch3d"
    (fake / "io").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "io" / "__init__.py").write_text("import iopath_that_is_not_installed\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    states = preflight.module_states(sys.executable, ("pytorch3d", "pytorch3d.io"))
    assert states["pytorch3d"] == preflight.OK
    assert states["pytorch3d.io"].startswith("ModuleNotFoundError")
    monkeypatch.setattr(preflight, "module_states", lambda python, modules: {"torch": "2.x", **states})
    (line,) = preflight.module_problems(get_pin("flashavatar"), sys.executable)
    assert "cannot import pytorch3d.io" in line and "pip install iopath" in line and "FlashAvatar" in line
