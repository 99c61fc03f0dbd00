"""Where a method's renders of one sequence are: `<seq>/rgb/`, the folder itself, or `<seq>/epoch_<N>/rgb/`."""

from __future__ import annotations

import re
from pathlib import Path

from nesbench.data.layout import frame_files
from nesbench.metrics.engine import PredSource

EPOCH_RE = re.compile(r"^epoch_(\d+)$")


def resolve_prediction_folder(pred_dir: Path) -> tuple[Path, int | None]:
    """The folder holding `<k>.png`, and the epoch chosen (largest N of `epoch_<N>/`, numerically) or None.

    `pred_dir` may be the sequence folder (holding `rgb/` or `epoch_<N>/rgb/`) or the `rgb/` folder itself.
    """
    pred_dir = Path(pred_dir)
    if pred_dir.name == "rgb" and not (pred_dir / "rgb").is_dir():
        seq_dir = pred_dir.parent
        if not pred_dir.is_dir() and seq_dir.is_dir():
            pred_dir = seq_dir  # canonical rgb/ absent: look for epoch folders next to it
        else:
            return pred_dir, None
    if (pred_dir / "rgb").is_dir():
        return pred_dir / "rgb", None
    epochs = sorted(
        (int(m.group(1)), p)
        for p in (pred_dir.iterdir() if pred_dir.is_dir() else [])
        if (m := EPOCH_RE.match(p.name))
    )
    if epochs:
        n, folder = epochs[-1]
        return folder / "rgb", n
    return pred_dir, None


def prediction_source(pred_dir: Path, expected: list[int]) -> tuple[PredSource, Path, int | None]:
    """The frames a method rendered for one sequence, checked against the expected frame numbers.

    A missing folder makes every frame a failure with that reason; frames with no ground truth (extra frames)
    make the whole sequence fail, naming them (a renumbered or wrong sequence would otherwise be scored).
    """
    folder, epoch = resolve_prediction_folder(pred_dir)
    if not folder.is_dir():
        return PredSource({}, f"missing prediction folder {folder}"), folder, epoch
    files = frame_files(folder)
    extra = sorted(set(files) - set(expected))
    if extra:
        shown = ", ".join(f"{k}.png" for k in extra[:5]) + (" ..." if len(extra) > 5 else "")
        return (
            PredSource(
                files,
                f"{folder}: {len(extra)} frame(s) without ground truth ({shown}); frames must be numbered like "
                f"the GT sequence (1..{max(expected)}) - remove them or render the right sequence",
            ),
            folder,
            epoch,
        )
    return PredSource(files), folder, epoch
