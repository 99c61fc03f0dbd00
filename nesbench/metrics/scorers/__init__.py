"""The metric definitions: the scorer contract (:mod:`.base`) and the registered scorers, in listing order.

- ``unified`` (:mod:`.unified`): one documented definition for every method (docs/METRICS.md).
- ``renderme-imavatar``, ``renderme-pointavatar`` (:mod:`.renderme`): the benchmark's two published code paths.
"""

# The import order is the registration order (`nesbench metrics list` shows unified first):
# isort: split
from nesbench.metrics.scorers.base import RESIZES, SEMANTIC_RESIZES, ScoreContext, Scorer, cloth_free
from nesbench.metrics.scorers.unified import UnifiedScorer

# isort: split
from nesbench.metrics.scorers.renderme import RenderMeIMavatarScorer, RenderMePointAvatarScorer

__all__ = [
    "RESIZES",
    "SEMANTIC_RESIZES",
    "RenderMeIMavatarScorer",
    "RenderMePointAvatarScorer",
    "ScoreContext",
    "Scorer",
    "UnifiedScorer",
    "cloth_free",
]
