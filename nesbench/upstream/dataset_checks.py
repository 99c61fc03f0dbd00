"""Checks the upstream loaders skip (they `assert` or silently misread); used by the NES dataset overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nesbench.data.layout import frame_number_of, read_flame_json
from nesbench.errors import DataError


def check_subject_sequences(data_folder: str, subject: str, json_name: str, sub_dirs: list[str]) -> None:
    """Raise DataError (one line, naming the file) for what would make IMavatar/PointAvatar fail or misread.

    - a missing sequence folder or json (upstream: bare AssertionError);
    - 'image' in another path component (upstream derives mask/semantic paths by replacing 'image' in the whole path);
    - frames not numbered 1..N in order (metrics pair k.png with frames[k-1]);
    - shape_params / intrinsics differing across sequences (the loaders keep only the last sequence's values).
    """
    ref: tuple[str, np.ndarray, np.ndarray] | None = None
    for seq in sub_dirs:
        inst = Path(data_folder) / subject / subject / str(seq)
        if not inst.is_dir():
            raise DataError(
                f"{inst}: sequence folder missing; the data root (the folder holding testsetK/) lacks this "
                "subject's data: put the benchmark there (`bash setup.sh --data PATH`, benchmark_data/README.md) "
                "or pass --data DIR, and check it with `nesbench data check`"
            )
        if "image" in str(inst):
            raise DataError(
                f"{inst}: the word 'image' appears in the path; upstream loaders replace it to find masks, "
                "so move the data to a path without it"
            )
        js = read_flame_json(inst / json_name)
        numbers = [frame_number_of(f.get("file_path", "")) for f in js["frames"]]
        if numbers != list(range(1, len(numbers) + 1)):
            raise DataError(
                f"{inst / json_name}: frames must be ./image/1, ./image/2, ... in order (1-based)"
            )
        shape = np.asarray(js.get("shape_params", []), dtype=float)
        intr = np.asarray(js.get("intrinsics", []), dtype=float)
        if ref is None:
            ref = (seq, shape, intr)
        elif (
            shape.shape != ref[1].shape
            or intr.shape != ref[2].shape
            or not (np.allclose(shape, ref[1]) and np.allclose(intr, ref[2]))
        ):
            raise DataError(
                f"{inst / json_name}: shape_params/intrinsics differ from sequence {ref[0]}; upstream methods keep "
                "one per subject, so make them identical across the subject's sequences"
            )
