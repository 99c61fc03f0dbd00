"""A scored run of the tiny synthetic benchmark, shared by the pipeline tests (generated once per session)."""

from __future__ import annotations

import json
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
