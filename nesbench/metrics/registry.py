"""Scorer registry: every scorer is named and versioned, and declares each metric's direction once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nesbench.errors import ConfigError
from nesbench.loading import load_object

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer

# Lazy `module:object` entries (as in lm-evaluation-harness): importing the registry imports no torch.
SCORERS: dict[str, str] = {
    "unified": "nesbench.metrics.scorers:UnifiedScorer",
    "renderme-imavatar": "nesbench.metrics.scorers:RenderMeIMavatarScorer",
    "renderme-pointavatar": "nesbench.metrics.scorers:RenderMePointAvatarScorer",
}


@dataclass(frozen=True)
class MetricSpec:
    """One metric column: its direction and how frames/sequences are aggregated (always 'mean' here)."""

    name: str
    higher_is_better: bool
    aggregation: str
    description: str


def list_scorers() -> list[str]:
    """Names of every registered scorer."""
    return list(SCORERS)


def get_scorer(name: str, **options: object) -> Scorer:
    """The scorer registered under ``name``; options (e.g. ``resolution=256``) go to its constructor."""
    try:
        target = SCORERS[name]
    except KeyError:
        raise ConfigError(f"unknown scorer {name!r}; available: {', '.join(SCORERS)}") from None
    return load_object(target)(**options)


def scorer_formulas_at(name: str, resolution: int, **options: object) -> Scorer:
    """Scorer ``name`` computing its formulas at ``resolution`` even when it has a fixed one (the legacy scorers:
    512, as the benchmark's code). Such an instance is no longer the benchmark's metric; tests use it to run the
    legacy formulas on small frames."""
    cls = type(get_scorer(name))
    if cls.fixed_resolution:
        cls = type(cls.__name__, (cls,), {"fixed_resolution": None})
    return cls(resolution=resolution, **options)
