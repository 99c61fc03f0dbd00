"""Checks the upstream loaders skip (they `assert` or silently misread); used by the NES dataset overlays and by the
jobs before they launch a runner.

Where the benchmark's loaders have a rule, the checks are no stricter than it (issue 15 item 6): frames not numbered
1..N, and shape_params/intrinsics differing across the sequences of one dataset, are *warnings* (the run goes on with
the benchmark's behaviour and the warning is recorded in method_info.json); ``strict=True`` (`--strict`) refuses them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nesbench.data.layout import frame_number_of, read_flame_json
from nesbench.errors import DataError

# The runners' dataset overlays refuse the warnings below when this is "1" (set by the jobs for --strict).
STRICT_ENV = "NESBENCH_STRICT_DATA"


def strict_from_env() -> bool:
    return os.environ.get(STRICT_ENV) == "1"


def _numbering_problem(numbers: list[int]) -> str | None:
    """What is wrong with the json's frame numbers, or None when they are 1..N in order."""
    if numbers == list(range(1, len(numbers) + 1)):
        return None
    if len(set(numbers)) != len(numbers):
        return "some frame numbers are listed twice"
    if numbers != sorted(numbers):
        return "frames are not in increasing order"
    if numbers and numbers[0] != 1:
        return f"frames start at {numbers[0]}, not 1"
    return "frame numbers have gaps"


def check_subject_sequences(
    data_folder: str, subject: str, json_name: str, sub_dirs: list[str], strict: bool = False
) -> list[str]:
    """Check the sequences of one dataset instance (a train or a test split); returns the warnings, one line each.

    Always an error (DataError, one line naming the file): a missing sequence folder or json (upstream: bare
    AssertionError); 'image' in another path component (upstream derives mask/semantic paths by replacing 'image' in
    the whole path); a frame ``file_path`` without a number (upstream: ValueError).

    A warning, an error with ``strict``: frames not numbered 1..N in json order (the benchmark's loaders accept them:
    each frame keeps its own number); shape_params / intrinsics differing across the sequences (the loaders keep the
    last sequence's values, as the benchmark's did).
    """
    warnings: list[str] = []
    arrays: list[tuple[str, Path, np.ndarray, np.ndarray]] = []
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
        if None in numbers:
            raise DataError(
                f"{inst / json_name}: a frame's file_path has no frame number (expected ./image/<k>); "
                "the upstream loaders need int(<k>)"
            )
        if problem := _numbering_problem(numbers):  # type: ignore[arg-type]
            warnings.append(
                f"{inst / json_name}: {problem} (not 1..N in order); the benchmark's loaders accept this "
                "(every frame keeps its own number)"
            )
        shape = np.asarray(js.get("shape_params", []), dtype=float)
        intr = np.asarray(js.get("intrinsics", []), dtype=float)
        arrays.append((str(seq), inst / json_name, shape, intr))
    if arrays:
        last, _, last_shape, last_intr = arrays[-1]
        for _seq, path, shape, intr in arrays[:-1]:
            differ = [
                name
                for name, a, b in (("shape_params", shape, last_shape), ("intrinsics", intr, last_intr))
                if a.shape != b.shape or not np.allclose(a, b)
            ]
            if differ:
                warnings.append(
                    f"{path}: {'/'.join(differ)} differ from sequence {last}'s; the loaders keep the last "
                    f"sequence's ({last}) values for the whole split, as the benchmark's did"
                )
    if strict and warnings:
        raise DataError(f"{warnings[0]}; refused because of --strict: fix the data or run without --strict")
    return [f"{w}; the run goes on (--strict refuses it)" for w in warnings]
