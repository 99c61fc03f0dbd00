"""The execution engine: everything that makes scoring fast and accounts for every frame, apart from what a metric
is (the definitions: :mod:`nesbench.metrics.spec`, :mod:`nesbench.metrics.scorers`).

- :mod:`.core`: :class:`Engine` (decode -> prepare -> stack -> score -> record, one sequence at a time).
- :mod:`.batch`: the typed units between the steps (:class:`Frame`, :class:`Failure`, :class:`ScorerBatch`).
- :mod:`.device`: device choice and description.
- :mod:`.gt_cache`: decoded ground truth kept between runs (``--gt-cache``).
- :mod:`.decode_procs`: predictions decoded in worker processes (``--decode-processes``).
- :mod:`.cuda_graphs`: full batches replayed as CUDA graphs.
- :mod:`.timing`: the per-stage timer of scripts/bench_metrics.py.

The names below are loaded on first use: the decode worker processes import :mod:`.decode_procs` only (numpy and
OpenCV, no torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Engine": "core",
    "SequenceResult": "core",
    "frame_means": "core",
    "Failure": "batch",
    "Frame": "batch",
    "ScorerBatch": "batch",
    "describe_device": "device",
    "resolve_device": "device",
    "usable_cores": "device",
}
__all__ = [
    "Engine",
    "Failure",
    "Frame",
    "PredSource",
    "ScorerBatch",
    "SequenceResult",
    "describe_device",
    "frame_means",
    "resolve_device",
    "usable_cores",
]

if TYPE_CHECKING:
    from nesbench.metrics.engine.batch import Failure, Frame, ScorerBatch
    from nesbench.metrics.engine.core import Engine, SequenceResult, frame_means
    from nesbench.metrics.engine.device import describe_device, resolve_device, usable_cores
    from nesbench.metrics.predictions import PredSource


def __getattr__(name: str) -> Any:
    if name == "PredSource":
        from nesbench.metrics.predictions import PredSource

        return PredSource
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
