"""FlashAvatar's FLAME files besides the model: the region masks, the UV mesh and the eyelid blendshapes.

FlashAvatar reads ``flame/generic_model.pkl`` (FLAME 2020), ``flame/FLAME_masks/FLAME_masks.pkl`` (licensed, from
the FLAME site; only ``boundary`` is used), ``flame/FlameMesh.obj`` (FLAME's faces and UV layout; shipped) and
``flame/blendshapes/{l,r}_eyelid.npy`` (shipped). The real files fit FLAME 2020's 5,023 vertices; the synthetic
stand-in (nesbench.synth.flame_model) has its own topology, so ``--synthetic`` also writes a UV mesh of that
topology and zero eyelid blendshapes of its size (the converter's eyelids are 0, so the blendshapes add nothing
either way). Installing the real model restores the shipped files from git.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from nesbench.errors import AssetError
from nesbench.fsutil import write_bytes_atomic, write_text_atomic

MASKS = Path("flame/FLAME_masks/FLAME_masks.pkl")
MESH = Path("flame/FlameMesh.obj")
EYELIDS = (Path("flame/blendshapes/l_eyelid.npy"), Path("flame/blendshapes/r_eyelid.npy"))
SHIPPED = (MESH, *EYELIDS)


def masks_state(code_dir: Path) -> str:
    """'ok' when FLAME_masks.pkl holds a ``boundary`` vertex list, else what is wrong."""
    path = code_dir / MASKS
    if not path.is_file():
        return "missing"
    try:
        with open(path, "rb") as f:
            masks = pickle.load(f, encoding="latin1")
        np.asarray(masks["boundary"], dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 - any unreadable file must be replaced
        return f"unreadable ({type(exc).__name__})"
    return "ok"


def uv_mesh_obj(vertices: np.ndarray, faces: np.ndarray) -> str:
    """An OBJ with a UV layout for any closed head mesh: u = azimuth around the vertical axis, v = height; faces
    across the azimuth seam get their own UVs shifted by one turn (so no triangle spans the whole map)."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    d = v - v.mean(axis=0)
    u = np.arctan2(d[:, 0], d[:, 2]) / (2 * np.pi) + 0.5
    h = (d[:, 1] - d[:, 1].min()) / max(float(np.ptp(d[:, 1])), 1e-12)
    uvs = [(float(a), float(b)) for a, b in zip(u, h, strict=True)]
    face_uv = f.copy()
    for i, tri in enumerate(f):
        us = u[tri]
        if us.max() - us.min() > 0.5:  # crosses the seam: move the small-u corners one turn right
            for j, vid in enumerate(tri):
                if us[j] < 0.5:
                    uvs.append((float(u[vid] + 1.0), float(h[vid])))
                    face_uv[i, j] = len(uvs) - 1
    # squeeze the shifted copies back into [0, 1]
    lines = ["# nesbench: UV mesh of the synthetic FLAME stand-in (not FLAME's)"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
    lines += [f"vt {a / 1.5:.6f} {b:.6f}" for a, b in uvs]
    lines += [
        f"f {a + 1}/{ta + 1} {b + 1}/{tb + 1} {c + 1}/{tc + 1}"
        for (a, b, c), (ta, tb, tc) in zip(f, face_uv, strict=True)
    ]
    return "\n".join(lines) + "\n"


def install_synthetic(code_dir: Path, model_file: Path, masks_file: Path) -> None:
    """The synthetic FLAME's masks, UV mesh and zero eyelid blendshapes into FlashAvatar's flame/ folder."""
    with open(model_file, "rb") as f:
        model = pickle.load(f)
    (code_dir / MASKS).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(code_dir / MASKS, Path(masks_file).read_bytes())
    write_text_atomic(code_dir / MESH, uv_mesh_obj(model["v_template"], model["f"]))
    zeros = np.zeros((len(model["v_template"]), 3), np.float32)
    for rel in EYELIDS:
        (code_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        tmp = code_dir / rel.with_name(f".{rel.name}.tmp.npy")
        np.save(tmp, zeros)
        tmp.replace(code_dir / rel)


def find_masks(model: Path, masks: Path | None) -> Path:
    """The licensed FLAME_masks.pkl: ``masks`` when given, else next to the model (or in FLAME_masks/ there)."""
    cands = (
        [Path(masks).expanduser()]
        if masks
        else [model.parent / MASKS.name, model.parent / MASKS.parent.name / MASKS.name]
    )
    for c in cands:
        if c.is_file():
            return c
    raise AssetError(
        f"{cands[0]}: FLAME_masks.pkl not found; FlashAvatar needs FLAME's region masks (FLAME site, "
        "'FLAME Vertex Masks'): pass --masks PATH"
    )


def install_user(code_dir: Path, masks_file: Path, restore) -> None:
    """The user's FLAME_masks.pkl; the shipped UV mesh and eyelid blendshapes restored (``restore(rel)``)."""
    (code_dir / MASKS).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(code_dir / MASKS, Path(masks_file).read_bytes())
    for rel in SHIPPED:
        restore(rel.as_posix())
