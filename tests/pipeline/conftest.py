"""A scored run of the tiny synthetic benchmark, shared by the pipeline tests (generated once per session)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nesbench.pipeline.run import RunOptions, run_pipeline


def _metric_values(summary: dict) -> dict[tuple, tuple]:
    """The result entries keyed by everything but provenance: what must not change when a run is resumed."""
    return {
        (e["method"], e["protocol"], e["scorer"], e["level"], e["split"], e["subject"], e["sequence"]): (
            e["metrics"],
            e["n_expected"],
            e["n_scored"],
        )
        for e in summary["entries"]
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("NESBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "nesbench-cache"))
    try:
        run_pipeline(RunOptions(benchmark="synthetic_tiny", out=out))
    finally:
        mp.undo()
    return out


@pytest.fixture(scope="session")
def tiny_summary(tiny_run: Path) -> dict:
    return json.loads((tiny_run / "summary.json").read_text())


@pytest.fixture(scope="session")
def metric_values():
    """summary -> its result entries keyed without provenance (what must survive a resume unchanged)."""
    return _metric_values


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Closed network: keep Chromium from phoning home (see the machine notes); a fresh profile every time.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


@pytest.fixture
def chromium_dom(tmp_path: Path) -> Callable[[str], str]:
    """Open an HTML text in headless Chromium and return the DOM after load (skips when Chromium is absent)."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (test.sh installs it as root: apt-get install chromium)")

    def dump(html: str) -> str:
        page = tmp_path / "report_probe.html"
        page.write_text(html)
        proc = subprocess.run(
            [
                CHROMIUM,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    return dump
