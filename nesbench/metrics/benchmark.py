"""Old name of :mod:`nesbench.metrics.benchmark_mode` (the benchmark-mode scoring entry), kept for one release:
``from nesbench.metrics.benchmark import score_benchmark`` still works and warns (DeprecationWarning)."""

import warnings

from nesbench.metrics.benchmark_mode import *  # noqa: F403
from nesbench.metrics.benchmark_mode import __all__  # noqa: F401

warnings.warn(
    "nesbench.metrics.benchmark is now nesbench.metrics.benchmark_mode (the old name goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)
