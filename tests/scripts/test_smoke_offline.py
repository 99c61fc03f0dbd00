"""scripts/smoke_upstream.sh --wheels on a machine whose python3 is itself a virtual environment with torch (as the
H200 image's /opt/torch/.venv): the carried wheels go into the offline env's site folder, its bin/python runs that
python3 with the harness from the checkout, and the steps use it (docs/VALIDATION.md "Lessons")."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel (module nes_offline_probe), built here so the test needs no index."""
    folder.mkdir()
    path = folder / "nes_offline_probe-1.0-py3-none-any.whl"
    info = "nes_offline_probe-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("nes_offline_probe.py", "VALUE = 42\n")
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: nes-offline-probe\nVersion: 1.0\n")
        z.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        z.writestr(f"{info}/RECORD", "")
    return folder


@pytest.mark.skipif(
    sys.prefix == sys.base_prefix, reason="needs the test interpreter to be a virtual environment"
)
def test_offline_smoke_runs_the_image_python_with_the_carried_wheels(tmp_path):
    image = tmp_path / "image-bin"
    image.mkdir()
    # "the image's python3": a venv that holds torch (a script, as a symlink would not keep the venv's prefix)
    (image / "python3").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (image / "python3").chmod(0o755)
    env_dir = tmp_path / "offline-env"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(
        PATH=f"{image}{os.pathsep}{env['PATH']}",
        NESBENCH_OFFLINE_ENV=str(env_dir),
        NESBENCH_CACHE=str(tmp_path / "cache"),
    )
    env.pop("NESBENCH_DATA", None)
    cmd = ["bash", str(ROOT / "scripts" / "smoke_upstream.sh"), "--mirror", str(tmp_path / "none")]
    cmd += ["--wheels", str(_wheel(tmp_path / "wheels")), "--steps", "data", "--benchmark", "synthetic_tiny"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (env_dir / "site" / "nes_offline_probe.py").is_file()
    assert "synthetic_tiny" in r.stdout  # the data step ran with the offline env's python
    probe = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import sys, nes_offline_probe; print(sys.prefix)"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(env_dir / "site")},
    )
    assert (
        probe.returncode == 0 and probe.stdout.strip() == sys.prefix
    )  # the image's environment, with the wheels
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert again.returncode == 0 and "installing the carried wheels" not in again.stdout  # installed once


def test_offline_smoke_names_a_missing_wheels_folder(tmp_path):
    r = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "smoke_upstream.sh"),
            "--mirror",
            "x",
            "--wheels",
            str(tmp_path / "no"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--wheels" in r.stderr and "no such folder" in r.stderr


@pytest.mark.parametrize("has_venv, active", [(False, ""), (True, ""), (False, "/some/venv")])
def test_gpu_scripts_pick_up_the_offline_env(tmp_path, has_venv, active):
    """bench_upstream.sh and profile_upstream.sh call offline_env_default (scripts/lib/offline_env.sh): the offline
    env is used only when no virtual environment is active and the checkout has no .venv."""
    root = tmp_path / "root"
    (root / ".offline-env" / "bin").mkdir(parents=True)
    (root / ".offline-env" / "bin" / "python").write_text("#!/bin/sh\n")
    (root / ".offline-env" / "bin" / "python").chmod(0o755)
    if has_venv:
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
        (root / ".venv" / "bin" / "python").chmod(0o755)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "NESBENCH_OFFLINE_ENV", "PYTHONPATH")
    }
    if active:
        env["VIRTUAL_ENV"] = active
    lib = ROOT / "scripts" / "lib" / "offline_env.sh"
    out = subprocess.run(
        ["bash", "-c", f'ROOT={root}; source {lib}; offline_env_default; echo "$VIRTUAL_ENV|$PYTHONPATH"'],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if has_venv or active:
        assert out == f"{active}|"
    else:
        assert out == f"{root}/.offline-env|{root}/.offline-env/site:{root}"
    for script in ("bench_upstream.sh", "profile_upstream.sh"):
        assert (
            'source "$ROOT/scripts/lib/offline_env.sh"\noffline_env_default\n'
            in (ROOT / "scripts" / script).read_text()
        )
