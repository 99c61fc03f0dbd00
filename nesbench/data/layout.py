"""Paths of the RenderMe-360 NES dataset layout and of the canonical prediction layout.

Dataset (what IMavatar/PointAvatar loaders read)::

    ROOT/testsetK/<id>/<id>/<seq>/{image,mask,semantic}/<k>.png + flame_params.json   (k = 1, 2, ... unpadded)

Predictions (what every method writes and the scorers read)::

    RUNS/<method>/<protocol>/<subject>/<seq>/rgb/<k>.png
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nesbench.errors import DataError
from nesbench.fsutil import require_regular_file

FLAME_JSON = "flame_params.json"
FRAME_RE = re.compile(r"^([1-9][0-9]*)\.png$")
TESTSET_RE = re.compile(r"^testset\d+$")


def sequence_dir(root: Path, testset: str, subject: str, sequence: str) -> Path:
    """Folder of one sequence (the subject id is repeated, as upstream loaders expect)."""
    return Path(root) / testset / subject / subject / sequence


EPOCH_RE = re.compile(r"^epoch_(\d+)$")


def numbered(parent: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    """{N: entry} of the entries of ``parent`` whose name matches ``pattern`` (group 1 = N), in numeric order (so
    epoch_100 comes after epoch_11); empty when ``parent`` is not a folder. The one rule for numbered outputs:
    ``epoch_<N>`` render folders here, NeRFace's ``checkpoint<N>.ckpt`` files."""
    parent = Path(parent)
    if not parent.is_dir():
        return {}
    return dict(sorted((int(m.group(1)), p) for p in parent.iterdir() if (m := pattern.match(p.name))))


def epoch_dir(parent: Path, epoch: int) -> Path:
    """``<parent>/epoch_<N>``: where the upstream runners put what checkpoint N rendered (one naming rule for the
    runners' output, eval's mapping and the prediction resolver)."""
    return Path(parent) / f"epoch_{int(epoch)}"


def epoch_of(folder: Path) -> int | None:
    """N of an ``epoch_<N>`` folder, else None."""
    m = EPOCH_RE.match(Path(folder).name)
    return int(m.group(1)) if m else None


def newest_epoch_dir(parent: Path) -> Path | None:
    """The ``epoch_<N>`` folder of ``parent`` with the largest N (numerically), or None."""
    found = numbered(parent, EPOCH_RE)
    return found[max(found)] if found else None


def prediction_dir(runs: Path, method: str, protocol: str, subject: str, sequence: str) -> Path:
    """Canonical folder of a method's renders of one test sequence (holds <k>.png)."""
    return Path(runs) / method / protocol / subject / sequence / "rgb"


def frame_files(folder: Path) -> dict[int, Path]:
    """Map frame number -> file for every `<k>.png` in folder (k unpadded, 1-based). Other files are ignored."""
    out: dict[int, Path] = {}
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        m = FRAME_RE.match(p.name)
        if m:
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def read_flame_json(path: Path) -> dict[str, Any]:
    """Read flame_params.json; raises DataError naming the file on unreadable or invalid JSON (NaN included)."""

    def reject(const: str) -> float:
        raise ValueError(f"non-finite number {const}")

    try:
        require_regular_file(path)
        with open(path, encoding="utf-8") as f:
            data = json.load(f, parse_constant=reject)
    except FileNotFoundError:
        raise DataError(f"{path}: missing; every sequence folder needs its {FLAME_JSON}") from None
    except OSError as exc:  # a folder, FIFO, device or unreadable file in its place
        raise DataError(
            f"{path}: unreadable ({exc.strerror or exc}); replace it with the sequence's {FLAME_JSON}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); regenerate it from the preprocessing") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise DataError(
            f"{path}: expected an object with a 'frames' list (IMavatar flame_params.json format)"
        )
    return data


def frame_number_of(file_path: str) -> int | None:
    """The frame number in a json ``file_path`` like './image/12' (None if it does not parse)."""
    name = Path(str(file_path)).name
    name = name[:-4] if name.endswith(".png") else name
    return int(name) if name.isdigit() and not name.startswith("0") else None


def find_dataset_root(path: Path) -> tuple[Path, str | None]:
    """Accept a dataset root (holding testsetK/) or the extracted benchmark tarball; return (root, note).

    The tarball `data_NES_imavatar_pointavatar.tar` extracts to ``data/datasets/testsetK/...`` (and ``data/conf``);
    pointing at the extraction folder or at ``data/`` works too, with a note saying where the root is.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"{path}: no such folder; pass the dataset root (the folder that holds testset1/, ...)"
        )
    if not path.is_dir():
        raise DataError(
            f"{path}: is a file; extract it first (tar -xf {path.name} -C benchmark_data/) and pass the folder"
        )
    if any(TESTSET_RE.match(p.name) for p in path.iterdir() if p.is_dir()):
        return path, None
    for rel in ("datasets", "data/datasets"):
        cand = path / rel
        if cand.is_dir() and any(TESTSET_RE.match(p.name) for p in cand.iterdir() if p.is_dir()):
            return cand, f"using {cand} (the tarball's dataset folder); pass it directly next time"
    raise DataError(
        f"{path}: no testsetK/ folders found here, in datasets/ or in data/datasets/; pass the folder that holds "
        f"testset1/, testset2/, ... (after extracting data_NES_imavatar_pointavatar.tar it is data/datasets)"
    )
