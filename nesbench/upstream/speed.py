"""Run-time switches of the upstream runners (issue 18): speed-ups that keep every number identical, and the TF32
opt-in that may change them. Imported by the patched upstream code and the overlay runners (no upstream imports).

Speed-ups (``$NESBENCH_SPEEDUPS``: unset or ``all`` = every one on, ``none`` = upstream's behaviour, or a comma list
of the names to turn on). Each skips output no scorer reads and keeps the random draws of what it skips, so renders
and checkpoints stay byte for byte the same:

- ``eval-mesh``: IMavatar eval writes no per-frame MISE mesh (``surface_<k>.ply``), upstream utils/plots.py's
  ``if is_eval:`` block;
- ``eval-plots``: IMavatar eval writes only the scored ``rgb/<k>.png``, not the ``rendering/`` grid or ``normal/``;
- ``train-plots``: IMavatar and PointAvatar render no test-frame plots between training epochs (the only random
  draw of that loop, the DataLoader's base seed, plus PointAvatar's eikonal ``torch.rand`` per plotted batch, is
  still drawn, so the training that follows sees the same random numbers).

``$NESBENCH_TF32`` (``1``/``0``; unset = torch's default): TF32 for float32 matmuls and cuDNN convolutions on
Ampere and newer GPUs. The benchmark's torch 1.7 had both on by default; torch >= 1.12 keeps cuDNN's on but turns
matmul TF32 off. Changes numbers slightly, so it is an opt-in (``--imavatar.tf32 on``), recorded per run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

SPEEDUPS_ENV = "NESBENCH_SPEEDUPS"
TF32_ENV = "NESBENCH_TF32"
SPEEDUPS = ("eval-mesh", "eval-plots", "train-plots")


def enabled_speedups(value: str | None = None) -> list[str]:
    """The speed-ups turned on by ``value`` (default: $NESBENCH_SPEEDUPS); ValueError naming an unknown one."""
    text = (os.environ.get(SPEEDUPS_ENV) if value is None else value) or "all"
    text = text.strip().lower()
    if text in ("all", "on"):
        return list(SPEEDUPS)
    if text in ("none", "off"):
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPEEDUPS]
    if unknown:
        raise ValueError(
            f"${SPEEDUPS_ENV}={text!r}: unknown speed-up {unknown[0]!r}; give all, none or a comma list of "
            + ", ".join(SPEEDUPS)
        )
    return [n for n in SPEEDUPS if n in names]


def enabled(name: str) -> bool:
    """Whether the speed-up ``name`` is on for this process."""
    if name not in SPEEDUPS:
        raise ValueError(f"unknown speed-up {name!r}")
    return name in enabled_speedups()


def skip_plot_loop(loader: Any, rand_shape: Sequence[int] | None = None) -> None:
    """Draw the random numbers a skipped plot loop over ``loader`` would have drawn on the CPU generator: the base
    seed ``iter(loader)`` takes (torch.utils.data.dataloader._BaseDataLoaderIter) and, with ``rand_shape``, one
    ``torch.rand(rand_shape)`` per batch (PointAvatar's eikonal points in every forward)."""
    import torch

    torch.empty((), dtype=torch.int64).random_(generator=loader.generator)
    if rand_shape is not None:
        for _ in range(len(loader)):
            torch.rand(tuple(rand_shape))


def tf32_choice(value: str | None = None) -> bool | None:
    """True/False from ``value`` (default: $NESBENCH_TF32), None when unset (torch's default)."""
    text = os.environ.get(TF32_ENV) if value is None else value
    if text is None or text == "":
        return None
    if text not in ("0", "1"):
        raise ValueError(f"${TF32_ENV}={text!r}: give 1 (on) or 0 (off), or leave it unset")
    return text == "1"


def configure() -> dict[str, Any]:
    """Apply $NESBENCH_TF32 to torch and return this process's settings for the done-markers: the speed-ups on,
    the TF32 choice and what torch then uses for matmuls and cuDNN."""
    import torch

    choice = tf32_choice()
    if choice is not None:
        torch.backends.cuda.matmul.allow_tf32 = choice
        torch.backends.cudnn.allow_tf32 = choice
    return {
        "speedups": enabled_speedups(),
        "tf32": "torch default" if choice is None else ("on" if choice else "off"),
        "matmul_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32),
    }
