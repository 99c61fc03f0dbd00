"""Shared pytest setup: keep every test away from the user's cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NESBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "nesbench-cache"))
    monkeypatch.delenv("NESBENCH_DATA", raising=False)
