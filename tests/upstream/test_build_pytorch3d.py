"""scripts/build_pytorch3d.sh: the PyTorch3D build is pinned and the script refuses sources at another commit.

The build itself needs nvcc and a CUDA torch (docs/VALIDATION.md records it on an H200); these checks run before it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nesbench.errors import ConfigError
from nesbench.upstream.pins import load_build_pin, load_pins

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_pytorch3d.sh"


def test_pytorch3d_is_pinned_to_a_cuda13_capable_commit():
    pin = load_build_pin("pytorch3d")
    assert pin.commit == "9381c4016376345bb795b97c45a6c2de66db354a"
    assert pin.version == "0.7.9" and pin.mirror == "pytorch3d"
    assert "pytorch3d" not in load_pins()  # a build, not a wrapped method


def test_build_pin_must_be_a_full_commit(tmp_path):
    conf = tmp_path / "upstream.conf"
    conf.write_text(
        'build { pytorch3d { url = "u", commit = "v0.7.9", version = "0.7.9", mirror = pytorch3d } }\n'
    )
    with pytest.raises(ConfigError, match="full 40-hex commit"):
        load_build_pin("pytorch3d", conf)
    with pytest.raises(ConfigError, match="no pinned build 'nope'"):
        load_build_pin("nope", conf)


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def test_tarball_of_another_commit_is_refused_before_building(tmp_path):
    repo = tmp_path / "p3d"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "setup.py").write_text("raise SystemExit('must never be built')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "x")
    commit = _git(repo, "rev-parse", "HEAD").strip()
    tarball = tmp_path / "pytorch3d.tar.gz"
    _git(repo, "archive", "--format=tar.gz", "-o", str(tarball), "HEAD")
    res = subprocess.run(
        ["bash", str(SCRIPT), "--src", str(tarball), "--python", sys.executable],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NESBENCH_BUILD_DIR": str(tmp_path / "build"), "HOME": str(tmp_path)},
    )
    assert res.returncode == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and f"a tarball of commit '{commit}'" in err[0]
    assert "9381c4016376345bb795b97c45a6c2de66db354a" in err[0] and "git -C pytorch3d archive" in err[0]
