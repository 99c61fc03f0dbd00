"""A no-op stand-in for ``torch.utils.tensorboard.SummaryWriter`` (NeRFace logs scalars and images to TensorBoard,
which the harness does not install; its printed losses go to the job log)."""

from __future__ import annotations

from typing import Any


class SummaryWriter:
    """Accepts every ``add_*`` call and drops it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str):
        if name.startswith("add_") or name in ("flush", "close"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
