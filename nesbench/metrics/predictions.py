"""Where a method's renders of one sequence are: `<seq>/rgb/`, the folder itself, or `<seq>/epoch_<N>/rgb/`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nesbench.data.layout import FRAME_RE, epoch_of, frame_files, newest_epoch_dir


@dataclass
class PredSource:
    """A method's predictions for one sequence: frame number -> PNG, or the reason there are none."""

    files: dict[int, Path]
    error: str | None = None
    misnamed: dict[int, str] = field(
        default_factory=dict
    )  # frame -> a file that looks like it, wrongly named

    def missing_reason(self, k: int) -> str:
        """Why expected frame k has no prediction: missing, or present under a name the scorers do not read."""
        if k in self.misnamed:
            return (
                f"missing prediction {k}.png (found {self.misnamed[k]}: name predictions <k>.png, k unpadded)"
            )
        return f"missing prediction {k}.png"


LOOKS_LIKE_FRAME = re.compile(r"^(\d+)\.[A-Za-z0-9]{2,5}$")


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
    newest = newest_epoch_dir(pred_dir)
    if newest is not None:
        return newest / "rgb", epoch_of(newest)
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
    misnamed, zero = misnamed_frames(folder)
    if zero:
        return (
            PredSource(
                files,
                f"{folder}: {zero} is present, so the frames look 0-based; number predictions like the GT "
                f"sequence (1..{max(expected)}, unpadded) - frame k of the GT is <k>.png",
            ),
            folder,
            epoch,
        )
    misnamed = {k: name for k, name in misnamed.items() if k not in files}
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
    return PredSource(files, misnamed=misnamed), folder, epoch


def misnamed_frames(folder: Path) -> tuple[dict[int, str], str | None]:
    """Files that look like frames but are not named ``<k>.png`` (k unpadded, 1-based): frame -> file name (zero
    padding like 0001.png, another extension like 1.jpg or 1.PNG), and the name of a frame-0 file (0.png,
    0000.png: 0-based numbering) or None."""
    out: dict[int, str] = {}
    zero = None
    for p in sorted(folder.iterdir()):
        m = LOOKS_LIKE_FRAME.match(p.name)
        if not m or FRAME_RE.match(p.name):
            continue
        k = int(m.group(1))
        if k == 0:
            zero = zero or p.name
        else:
            out.setdefault(k, p.name)
    return out, zero
