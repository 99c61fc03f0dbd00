"""CI runs the full suite; the developer's default is the fast subset."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_full_suite():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if not ln.startswith("#")]
    assert "bash test.sh --all" in lines


def _pytest_args(tmp_path: Path, *args: str) -> str:
    """What test.sh hands pytest for ``args``: setup, lint and pytest replaced by echo, python by a no-op."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text("#!/bin/sh\nexit 0\n")
    (fake / "python").chmod(0o755)
    script = (ROOT / "test.sh").read_text()
    script = script.replace("bash setup.sh --quiet", ":").replace('"$PY" -m ruff', ": ruff")
    script = script.replace('"$PY" -m pytest', "echo PYTEST")
    env = {
        "PATH": f"{fake}:/usr/bin:/bin",
        "NESBENCH_SYSTEM_DEPS": "0",
        "NESBENCH_TEST_SLURM": "0",
        "VIRTUAL_ENV": "/x",
    }
    out = subprocess.run(
        ["bash", "-c", script, "test.sh", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(ln for ln in out.splitlines() if ln.startswith("PYTEST"))


def test_test_sh_defaults_to_the_fast_subset_and_all_runs_everything(tmp_path):
    assert _pytest_args(tmp_path) == "PYTEST -m not slow"
    assert _pytest_args(tmp_path, "-x", "tests/data") == "PYTEST -m not slow -x tests/data"
    assert _pytest_args(tmp_path, "--all") == "PYTEST"
    assert _pytest_args(tmp_path, "--all", "-q") == "PYTEST -q"


def test_ruff_lints_the_harness_upstream_packages_but_not_the_checkouts(tmp_path):
    """test.sh's ruff covers nesbench/upstream and tests/upstream; only the cloned methods in ./upstream are left out
    (an unanchored "upstream" exclude once skipped both packages)."""
    import sys

    checkout = tmp_path / "upstream" / "IMavatar"
    checkout.mkdir(parents=True)
    (checkout / "bad.py").write_text("import os\n")
    for sub in ("nesbench/upstream", "tests/upstream"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "mod.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", ".", "--no-respect-gitignore", "--show-files"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "nesbench/upstream/mod.py" in out and "tests/upstream/mod.py" in out
    assert "bad.py" not in out
