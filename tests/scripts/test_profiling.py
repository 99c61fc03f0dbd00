"""scripts/profiling/sitecustomize.py + scripts/profile_report.py: a real subprocess profiled and reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_subprocess_is_profiled_and_reported(tmp_path: Path) -> None:
    runner = tmp_path / "nes_runner.py"
    runner.write_text(
        "def busy_loop_for_profile():\n    return sum(i * i for i in range(300000))\n\nbusy_loop_for_profile()\n"
    )
    prof = tmp_path / "prof"
    env = {**os.environ, "NESBENCH_PROFILE_DIR": str(prof), "PYTHONPATH": str(ROOT / "scripts" / "profiling")}
    subprocess.run([sys.executable, str(runner), "--flag"], check=True, env=env)
    subprocess.run([sys.executable, "-c", "pass"], check=True, env={**env, "NESBENCH_PROFILE_DIR": ""})
    assert len(list(prof.glob("*.prof"))) == 1  # an empty NESBENCH_PROFILE_DIR profiles nothing
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "profile_report.py"), str(prof), "--top", "5"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "nes_runner.py --flag" in out and "busy_loop_for_profile" in out
    assert "top 5 by cumulative time" in out and "top 5 by own time" in out


def test_report_names_a_missing_folder(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "profile_report.py"), str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "run scripts/profile_upstream.sh first" in r.stderr


def test_profile_script_refuses_bad_arguments(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "profile_upstream.sh"
    r = subprocess.run(["bash", str(script), "--methods", "nerf"], capture_output=True, text=True)
    assert r.returncode == 2 and "one method per profile" in r.stderr
    r = subprocess.run(
        ["bash", str(script), "--methods", "imavatar"],
        capture_output=True,
        text=True,
        env={**os.environ, "NESBENCH_UPSTREAM": str(tmp_path)},
    )
    assert r.returncode == 1 and "not installed" in r.stderr
