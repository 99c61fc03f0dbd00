"""Schema of flame_params.json (upstream spec 1.2) and the checks of one file's content."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nesbench.data.layout import frame_number_of

REGEN = "regenerate flame_params.json with the preprocessing (IMavatar DECA/optimize.py format)"
# key -> allowed shapes, per frame
FRAME_SHAPES: dict[str, tuple[tuple[int, ...], ...]] = {
    "expression": ((50,),),
    "pose": ((15,),),
    "world_mat": ((3, 4),),
    "bbox": ((4,),),
    "flame_keypoints": ((68, 2), (70, 2)),
}
TOP_SHAPES: dict[str, tuple[int, ...]] = {"intrinsics": (4,), "shape_params": (100,)}
ROTATION_ATOL = 1e-5


@dataclass(frozen=True)
class Problem:
    severity: str
    code: str
    message: str
    fix: str


def _not_numbers(value: Any) -> str | None:
    """Why a parsed JSON value is not a number or (nested) list of JSON numbers, or None when it is: null, booleans
    and numeric strings are named (NumPy would silently turn true into 1.0 and "0.5" into 0.5)."""
    if value is None:
        return "is null"
    if isinstance(value, bool):
        return f"holds a boolean ({str(value).lower()}), not a number"
    if isinstance(value, str):
        return f"holds a string ({value[:20]!r}), not a JSON number"
    if isinstance(value, dict):
        return "holds an object, not a number"
    if isinstance(value, list):
        for item in value:
            why = "holds null" if item is None else _not_numbers(item)
            if why:
                return why
    return None


def _array(value: Any) -> tuple[np.ndarray | None, str | None]:
    """A float array of a nested list of JSON numbers, or (None, why not)."""
    why = _not_numbers(value)
    if why:
        return None, why
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, "is not a (nested) list of numbers"
    if arr.dtype == object:
        return None, "is a ragged list"
    return arr, None


def _shape_text(shapes: tuple[tuple[int, ...], ...]) -> str:
    return " or ".join("x".join(map(str, s)) if len(s) > 1 else f"{s[0]} values" for s in shapes)


def _got(arr: np.ndarray) -> str:
    return f"{arr.shape[0]} values" if arr.ndim == 1 else "shape " + "x".join(map(str, arr.shape))


def _frames_text(indices: list[int]) -> str:
    first = f"frames[{indices[0]}]"
    return first if len(indices) == 1 else f"{first} (and {len(indices) - 1} more frame(s))"


def check_flame_params(data: dict[str, Any]) -> tuple[list[Problem], dict[str, np.ndarray]]:
    """Check one parsed flame_params.json; returns the problems and the per-subject arrays (intrinsics, shape).

    Problems with the same key are merged over frames (one line per key and kind, naming the first frame)."""
    problems: list[Problem] = []
    subject_arrays: dict[str, np.ndarray] = {}
    for key, shape in TOP_SHAPES.items():
        if key not in data:
            problems.append(Problem("error", "json-missing-key", f"no top-level '{key}'", REGEN))
            continue
        arr, why = _array(data[key])
        if arr is None or arr.shape != shape:
            got = why or f"has {_got(arr)}"
            problems.append(
                Problem("error", f"json-{key}", f"'{key}' {got}, expected {shape[0]} values", REGEN)
            )
        elif not np.isfinite(arr).all():
            problems.append(Problem("error", "json-nonfinite", f"'{key}' contains NaN or infinity", REGEN))
        else:
            subject_arrays[key] = arr
    intr = subject_arrays.get("intrinsics")
    if intr is not None and intr[3] > 1:
        problems.append(
            Problem(
                "warning",
                "json-intrinsics-pixels",
                f"intrinsics {intr.tolist()} look like pixels (cy > 1); PointAvatar reads them as normalised",
                "store [-fx/W, fy/H, cx/W, cy/H] (spec 1.2)",
            )
        )

    frames = data["frames"]
    if not frames:
        problems.append(Problem("error", "json-no-frames", "'frames' is empty", REGEN))
    # (code, message) -> frame indices having that problem
    grouped: dict[tuple[str, str, str], list[int]] = {}

    def note(idx: int, code: str, msg: str, fix: str = REGEN) -> None:
        grouped.setdefault((code, msg, fix), []).append(idx)

    for idx, frame in enumerate(frames):
        if not isinstance(frame, dict):
            note(idx, "json-frame", "is not an object")
            continue
        fp = frame.get("file_path")
        if isinstance(fp, str) and not inside_sequence(fp):
            note(
                idx,
                "json-file-path-outside",
                f"file_path {fp!r} points outside its sequence folder",
                "write file_path relative to the sequence folder, as './image/<k>'",
            )
        elif not isinstance(fp, str) or frame_number_of(fp) is None:
            note(
                idx,
                "json-file-path",
                f"file_path {fp!r} does not end in an unpadded frame number (like './image/12')",
                "write file_path as './image/<k>' with k = 1, 2, ... (no padding, no extension needed)",
            )
        for key, shapes in FRAME_SHAPES.items():
            if key not in frame:
                note(idx, "json-missing-key", f"has no '{key}'")
                continue
            arr, why = _array(frame[key])
            if arr is None or arr.shape not in shapes:
                note(
                    idx, f"json-{key}", f"'{key}' {why or 'has ' + _got(arr)}, expected {_shape_text(shapes)}"
                )
                continue
            if not np.isfinite(arr).all():
                note(idx, "json-nonfinite", f"'{key}' contains NaN or infinity")
                continue
            if key == "world_mat" and not np.allclose(arr[:, :3], np.eye(3), atol=ROTATION_ATOL, rtol=0):
                note(
                    idx,
                    "json-world-mat-rotation",
                    "world_mat rotation is not the identity (the two methods read R differently)",
                    "put head rotation into the FLAME pose and keep world_mat = [I | t] (spec 1.2)",
                )
    for (code, msg, fix), indices in grouped.items():
        problems.append(Problem("error", code, f"{_frames_text(indices)}: {msg}", fix))
    return problems, subject_arrays


def inside_sequence(file_path: str) -> bool:
    """Whether a json ``file_path`` stays inside its sequence folder: relative, with no '..' climbing out (upstream
    loaders join it to the sequence folder; './image/12' is inside, '../e_1/image/12' and '/data/x/12' are not)."""
    if not file_path or file_path.startswith(("/", "\\", "~")) or "\x00" in file_path:
        return False
    depth = 0
    for part in file_path.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


def frame_numbers(data: dict[str, Any]) -> list[int | None]:
    """Frame number of each json frame (None where file_path does not parse)."""
    return [
        frame_number_of(f["file_path"])
        if isinstance(f, dict) and isinstance(f.get("file_path"), str)
        else None
        for f in data["frames"]
    ]


def find_nonfinite(value: Any, where: str = "") -> str | None:
    """Path like 'frames[3].expression[7]' of the first NaN/infinity in a parsed JSON value (None if none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "<top>"
    if isinstance(value, dict):
        for k, v in value.items():
            hit = find_nonfinite(v, f"{where}.{k}" if where else str(k))
            if hit:
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            hit = find_nonfinite(v, f"{where}[{i}]")
            if hit:
                return hit
    return None
