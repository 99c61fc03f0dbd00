"""The scoring device: 'auto' resolution, checks with one-line errors, and how it is described in the results."""

from __future__ import annotations

import os

import torch

from nesbench.errors import NesbenchError


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask: a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> the first CUDA device when there is one, else the CPU."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise NesbenchError(f"--device {device!r}: not a device; use cpu, cuda, cuda:N or auto") from None
    if dev.type not in ("cpu", "cuda"):
        raise NesbenchError(f"--device {device}: scoring runs on cpu or cuda; use cpu, cuda, cuda:N or auto")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NesbenchError(f"--device {device}: no CUDA device is visible here; use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise NesbenchError(
            f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) are visible (cuda:0..); "
            "use another index or auto"
        )
    return dev


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"
