"""How scoring runs (device, weights, batch size, GT cache, decode processes): one options object and one
argparse registration, shared by `nesbench run`, `nesbench metrics` (== `calculate_metric.py`) and `metrics score`.

These options change speed and where weights come from, never the values (docs/PERFORMANCE.md); the metric
definitions are the scorers' (:mod:`nesbench.metrics.scorers`). Importing this module imports no torch.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from nesbench import cli_args


@dataclass(frozen=True)
class ScoringOptions:
    """``device``: cpu, cuda, cuda:N or auto; ``lpips_backbone``: the AlexNet file (default: the installed one);
    ``fan_weights``: face-alignment's weight folder; ``batch_size``: frames per batch (None: 8 on CPU, 32 on GPU);
    ``gt_cache``: folder of decoded GT kept between runs (None: ``$NESBENCH_GT_CACHE``, else off);
    ``decode_processes``: prediction decode worker processes (None: the engine's default)."""

    device: str = "auto"
    lpips_backbone: str | os.PathLike[str] | None = None
    fan_weights: str | os.PathLike[str] | None = None
    batch_size: int | None = None
    gt_cache: str | os.PathLike[str] | None = None
    decode_processes: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ScoringOptions:
        """The options registered by :func:`add_scoring_arguments`, read back from parsed arguments."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


def add_scoring_arguments(p: argparse.ArgumentParser) -> None:
    """Register the :class:`ScoringOptions` flags on ``p`` (the same flags and defaults on every command)."""
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: GPU when present)")
    p.add_argument(
        "--lpips-backbone",
        type=Path,
        help="AlexNet weights file for LPIPS (default: the one `nesbench fetch-weights` installed)",
    )
    p.add_argument(
        "--fan-weights",
        metavar="DIR",
        help="folder with face-alignment's FAN weight files for the keypoint metric (default: "
        "$NESBENCH_FAN_WEIGHTS, else <cache>/weights/face-alignment/ when present, else face-alignment's download)",
    )
    p.add_argument(
        "--batch-size",
        type=cli_args.batch_size,
        default=None,
        help="frames per batch (default 8 on CPU, 32 on GPU)",
    )
    p.add_argument(
        "--gt-cache",
        metavar="DIR",
        help="keep decoded ground truth here and reuse it in later runs (~1.3 MB per 512px frame; "
        "default: $NESBENCH_GT_CACHE, else off; see docs/PERFORMANCE.md)",
    )
    p.add_argument(
        "--decode-processes",
        type=cli_args.processes,
        metavar="N",
        help="decode predictions in N worker processes (0: in threads; default: one per core for GT read from "
        "--gt-cache on a GPU host with 8+ cores, else threads; see docs/PERFORMANCE.md)",
    )
