"""Scoring full batches on CUDA by replaying a captured CUDA graph of a scorer's ``score``.

A scorer's ``score`` launches ~250 small kernels per batch. From Python each launch takes the GIL, which the
engine's decode threads also want, so with one method per GT frame the scoring thread, not the GPU or the decoding,
was the limit on an H100 (docs/PERFORMANCE.md). A CUDA graph replays all of them with one call: the inputs are
copied into the graph's static buffers, the graph is replayed, and its output tensors hold the values.

Only batches of the engine's batch size are replayed (one graph per scorer and input layout; a sequence's shorter
last batch runs eagerly rather than capturing a graph for every size). A replay runs the kernels the eager call
runs, so values do not change (a GPU test checks it). If capturing fails, scoring continues eagerly with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nesbench.log import get_logger
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.scorers import ScoreContext, Scorer

log = get_logger(__name__)

Tensors = dict[str, torch.Tensor]


def _layout(t: torch.Tensor) -> tuple:
    return (t.dtype, tuple(t.shape), t.stride())


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    gt: Tensors
    pred: Tensors
    out: Tensors


class GraphedScoring:
    """Captured graphs of ``score`` by (scorer, input layouts) on one CUDA device."""

    def __init__(self, device: torch.device, batch_size: int, enabled: bool = True):
        """``enabled``: replay at all (only ever on CUDA; turned off for good when a capture fails)."""
        self.device, self.batch_size = device, batch_size
        self.enabled = enabled and device.type == "cuda"
        self._graphs: dict[tuple, _Captured] = {}

    def score(self, scorer: Scorer, gt: Tensors, pred: Tensors, lpips: LpipsAlex | None) -> Tensors | None:
        """The values of ``scorer.score`` for host (pinned) batches ``gt``/``pred``, from a replayed graph; None when
        this batch is not replayed (graphs off, another batch size, or capturing failed): score it eagerly then.
        The returned tensors are the graph's own: copy them before the next replay of the same graph."""
        if not self.enabled or not scorer.graphable or next(iter(pred.values())).shape[0] != self.batch_size:
            return None
        key = (scorer.name, id(lpips), *((n, _layout(t)) for n, t in sorted(gt.items())),
               *((n, _layout(t)) for n, t in sorted(pred.items())))  # fmt: skip
        captured = self._graphs.get(key)
        if captured is None:
            try:
                captured = self._graphs[key] = self._capture(scorer, gt, pred, lpips)
            except RuntimeError as exc:  # e.g. an operation that cannot be captured: stay eager
                self.enabled = False
                torch.cuda.synchronize(self.device)
                log.info(f"CUDA graphs off, scoring eagerly ({str(exc).splitlines()[0]})")
                return None
        for name, t in gt.items():
            captured.gt[name].copy_(t, non_blocking=True)
        for name, t in pred.items():
            captured.pred[name].copy_(t, non_blocking=True)
        captured.graph.replay()
        return captured.out

    def _capture(self, scorer: Scorer, gt: Tensors, pred: Tensors, lpips: LpipsAlex | None) -> _Captured:
        def static(t: torch.Tensor) -> torch.Tensor:
            out = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=self.device)
            return out.copy_(t, non_blocking=True)

        sgt, spred = {n: static(t) for n, t in gt.items()}, {n: static(t) for n, t in pred.items()}
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up outside the capture (cuDNN set-up, lazily made constants)
            for _ in range(2):
                scorer.score(sgt, spred, ScoreContext(lpips))
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the engine's read-ahead thread may allocate pinned host memory meanwhile (not captured;
        # the default 'global' mode would make that allocation fail)
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = scorer.score(sgt, spred, ScoreContext(lpips))
        return _Captured(graph, sgt, spred, out)
