"""Scorer registry: every scorer class registers itself under its ``name`` with :func:`register_scorer`.

The registry imports the scorer modules (:data:`SCORER_MODULES`, and with them torch) only when a scorer is listed
or asked for, so that importing it, or building the command line, stays cheap. Metric columns are declared in
:mod:`nesbench.metrics.spec`, which imports nothing of the scorers (no import cycle).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TypeVar

from nesbench.errors import ConfigError

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer

# The modules whose classes register scorers (a new scorer module is added here once).
SCORER_MODULES: tuple[str, ...] = ("nesbench.metrics.scorers",)
_REGISTRY: dict[str, type[Scorer]] = {}

S = TypeVar("S", bound="type[Scorer]")


def register_scorer(cls: S) -> S:
    """Class decorator: register ``cls`` under ``cls.name`` (a second class with the same name is an error)."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(
            f"scorer {name!r} is registered twice ({_REGISTRY[name].__qualname__}, {cls.__qualname__})"
        )
    _REGISTRY[name] = cls
    return cls


def _scorers() -> dict[str, type[Scorer]]:
    for module in SCORER_MODULES:
        importlib.import_module(module)
    return _REGISTRY


def list_scorers() -> list[str]:
    """Names of every registered scorer."""
    return list(_scorers())


def get_scorer(name: str, **options: object) -> Scorer:
    """The scorer registered under ``name``; options (e.g. ``resolution=256``) go to its constructor."""
    registry = _scorers()
    try:
        cls = registry[name]
    except KeyError:
        raise ConfigError(f"unknown scorer {name!r}; available: {', '.join(registry)}") from None
    return cls(**options)


def scorer_formulas_at(name: str, resolution: int, **options: object) -> Scorer:
    """Scorer ``name`` computing its formulas at ``resolution`` even when it has a fixed one (the legacy scorers:
    512, as the benchmark's code). Such an instance is no longer the benchmark's metric; tests use it to run the
    legacy formulas on small frames."""
    cls = type(get_scorer(name))
    if cls.fixed_resolution:
        cls = type(cls.__name__, (cls,), {"fixed_resolution": None})
    return cls(resolution=resolution, **options)
