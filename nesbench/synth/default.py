"""The embedded default dataset: synthetic subjects generated on demand into the benchmark's cache folder.

A stamp file inside the root holds a hash of the generation parameters and the generator version; a root whose
stamp matches is complete and reused. Otherwise the whole root is generated in a temporary sibling folder and
renamed into place, so an interrupted generation never leaves a half dataset behind. Generation holds a lock next
to the root (two runs wait for one another instead of generating twice) and removes temporary folders that a killed
generation left.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from nesbench.config import Benchmark
from nesbench.errors import ConfigError
from nesbench.fsutil import holder_lock, make_temp_dir, write_json_atomic
from nesbench.synth.subject import SEQUENCES, render_subject

GENERATOR_VERSION = "1"
STAMP = ".nesbench-synth.json"


def generation_params(bench: Benchmark) -> dict:
    """The parameters that determine the generated data (from the benchmark's ``synth`` block)."""
    synth = bench.extra.get("synth")
    if not isinstance(synth, dict):
        raise ConfigError(
            f"{bench.source}: benchmark {bench.name!r} has no 'synth {{res, frames, seed}}' block"
        )
    try:
        params = {k: int(synth[k]) for k in ("res", "frames", "seed")}
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"{bench.source}: 'synth' needs integer res, frames and seed; got {synth}"
        ) from None
    unknown = sorted(set(bench.sequences) - set(SEQUENCES))
    if unknown:
        raise ConfigError(
            f"{bench.source}: the synthetic generator cannot make sequence(s) {', '.join(unknown)}"
        )
    return {
        **params,
        "testsets": {k: list(v) for k, v in bench.testsets.items()},
        "sequences": list(bench.sequences),
        "version": GENERATOR_VERSION,
    }


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def is_complete(root: Path, params: dict) -> bool:
    try:
        stamp = json.loads((Path(root) / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("hash") == _digest(params)


def ensure_synthetic_data(
    bench: Benchmark, data_root: str | Path | None = None, progress: bool = True
) -> Path:
    """Generate every subject of a synthetic benchmark into its data root unless already complete; return the root."""
    params = generation_params(bench)
    root = bench.data_root(data_root)
    if is_complete(root, params):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with holder_lock(root.parent / f".{root.name}.lock"):
        if is_complete(root, params):  # another process finished it while we waited
            return root
        for stale in root.parent.glob(f".{root.name}.*"):
            if (
                stale.is_dir()
            ):  # left by a generation that was killed (we hold the lock: nobody else is writing)
                shutil.rmtree(stale, ignore_errors=True)
        _generate(bench, params, root, progress)
    return root


def _generate(bench: Benchmark, params: dict, root: Path, progress: bool) -> None:
    tmp = make_temp_dir(root.parent, f".{root.name}.")
    try:
        for testset, subjects in bench.testsets.items():
            for subject in subjects:
                render_subject(
                    tmp,
                    subject,
                    testset=testset,
                    res=params["res"],
                    frames=params["frames"],
                    seed=params["seed"],
                    sequences=params["sequences"],
                    progress=progress,
                )
        write_json_atomic(tmp / STAMP, {"hash": _digest(params), "params": params})
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old.", dir=root.parent))
            os.replace(root, old / "data")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
