"""Well-known locations: the repository (configs, overlays) and the user cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
CONFIGS_DIR = Path(os.environ.get("NESBENCH_CONFIGS", REPO_ROOT / "configs"))
OVERLAYS_DIR = REPO_ROOT / "novel_expression_synthesis"


def user_cache_dir() -> Path:
    """The user cache, for generated data and installed weights: $NESBENCH_CACHE, else $XDG_CACHE_HOME/nesbench.
    Not the GT cache (``--gt-cache``, decoded GT) nor a scoring run's results cache (``<out>/cache/``)."""
    env = os.environ.get("NESBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "nesbench"


def upstream_dir() -> Path:
    """Where upstream method checkouts live: $NESBENCH_UPSTREAM, else <repo>/upstream."""
    return Path(os.environ.get("NESBENCH_UPSTREAM", REPO_ROOT / "upstream")).expanduser()
