"""FLAME forward pass in NumPy, mirroring upstream ``flame/FLAME.py`` + ``flame/lbs.py`` (IMavatar/PointAvatar).

Same maths, same conventions, so the same json parameters mean the same geometry here and upstream:
v_template, shapedirs and posedirs are scaled x4 at load; the 100 shape coefficients are baked into the template
(``shapedirs[..., :100]``); expressions use ``shapedirs[..., 300:350]``; the pose is 5 axis-angle joints
(global, neck, jaw, eye L, eye R) through Rodrigues (with upstream's +1e-8 in the angle), pose correctives from
``(R - I)`` of joints 1-4, and linear blend skinning with joints regressed from the shaped, expressive mesh.
Landmarks are barycentric points on faces (``full_lmk_*`` from landmark_embedding.npy, plus two iris points when
the embedding has ``iris_lmk_*``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nesbench.errors import AssetError

FACTOR = 4.0
N_SHAPE = 100
N_EXP = 50
REQUIRED_KEYS = ("f", "v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights")


@dataclass(frozen=True)
class FlameNumpy:
    """A loaded FLAME model (already x4-scaled, like upstream's buffers)."""

    faces: np.ndarray  # (F,3) int64
    v_template: np.ndarray  # (V,3) x4
    shapedirs: np.ndarray  # (V,3,150) x4: 100 shape + 50 expression
    posedirs: np.ndarray  # (36, V*3) x4
    J_regressor: np.ndarray  # (5,V)
    parents: np.ndarray  # (5,) with parents[0] = -1
    weights: np.ndarray  # (V,5)
    lmk_faces_idx: np.ndarray | None = None  # (L,) landmark faces (68, or 70 with the iris)
    lmk_bary: np.ndarray | None = None  # (L,3)

    @classmethod
    def from_dict(cls, model: dict, embedding: dict | None = None) -> FlameNumpy:
        missing = [k for k in REQUIRED_KEYS if k not in model]
        if missing:
            raise AssetError(
                f"FLAME model lacks {', '.join(missing)}; convert it with `nesbench assets flame`"
            )
        sd = np.asarray(model["shapedirs"], dtype=np.float64)
        shapedirs = np.concatenate([sd[:, :, :N_SHAPE], sd[:, :, 300 : 300 + N_EXP]], axis=2) * FACTOR
        posedirs = np.asarray(model["posedirs"], dtype=np.float64)
        posedirs = posedirs.reshape(-1, posedirs.shape[-1]).T * FACTOR
        parents = np.asarray(model["kintree_table"])[0].astype(np.int64)
        parents[0] = -1
        lmk_idx = lmk_bary = None
        if embedding is not None:
            lmk_idx = np.asarray(embedding["full_lmk_faces_idx"]).reshape(-1).astype(np.int64)
            lmk_bary = np.asarray(embedding["full_lmk_bary_coords"], dtype=np.float64).reshape(-1, 3)
            if "iris_lmk_faces_idx" in embedding:
                lmk_idx = np.concatenate(
                    [lmk_idx, np.asarray(embedding["iris_lmk_faces_idx"]).astype(np.int64)]
                )
                lmk_bary = np.concatenate(
                    [lmk_bary, np.asarray(embedding["iris_lmk_bary_coords"]).reshape(-1, 3)]
                )
        return cls(
            faces=np.asarray(model["f"]).astype(np.int64),
            v_template=np.asarray(model["v_template"], dtype=np.float64) * FACTOR,
            shapedirs=shapedirs,
            posedirs=posedirs,
            J_regressor=np.asarray(model["J_regressor"], dtype=np.float64),
            parents=parents,
            weights=np.asarray(model["weights"], dtype=np.float64),
            lmk_faces_idx=lmk_idx,
            lmk_bary=lmk_bary,
        )

    def forward(
        self, shape: np.ndarray, expression: np.ndarray, pose: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Vertices (V,3) in FLAME's x4 space and landmarks (L,3) (None without an embedding)."""
        pose = np.asarray(pose, dtype=np.float64).reshape(15)
        return self.forward_rotations(shape, expression, batch_rodrigues(pose.reshape(-1, 3)))

    def forward_rotations(
        self, shape: np.ndarray, expression: np.ndarray, rots: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`forward` with the 5 joint rotations given as matrices (5,3,3) instead of axis-angle."""
        shape = np.asarray(shape, dtype=np.float64).reshape(N_SHAPE)
        expression = np.asarray(expression, dtype=np.float64).reshape(N_EXP)
        rots = np.asarray(rots, dtype=np.float64).reshape(5, 3, 3)
        template = self.v_template + self.shapedirs[:, :, :N_SHAPE] @ shape
        v_shaped = template + self.shapedirs[:, :, N_SHAPE:] @ expression
        joints = self.J_regressor @ v_shaped
        pose_feature = (rots[1:] - np.eye(3)).reshape(-1)
        v_posed = v_shaped + (pose_feature @ self.posedirs).reshape(-1, 3)
        A = rigid_transforms(rots, joints, self.parents)
        T = np.einsum("vj,jab->vab", self.weights, A)
        verts = np.einsum("vab,vb->va", T[:, :3, :3], v_posed) + T[:, :3, 3]
        lmks = None
        if self.lmk_faces_idx is not None:
            tri = verts[self.faces[self.lmk_faces_idx]]  # (L,3,3)
            lmks = np.einsum("lfi,lf->li", tri, self.lmk_bary)
        return verts, lmks


def batch_rodrigues(rot_vecs: np.ndarray) -> np.ndarray:
    """Axis-angle (N,3) -> rotation matrices (N,3,3), exactly as upstream lbs.batch_rodrigues."""
    angle = np.linalg.norm(rot_vecs + 1e-8, axis=1, keepdims=True)
    rx, ry, rz = np.split(rot_vecs / angle, 3, axis=1)
    zeros = np.zeros_like(rx)
    K = np.concatenate([zeros, -rz, ry, rz, zeros, -rx, -ry, rx, zeros], axis=1).reshape(-1, 3, 3)
    cos, sin = np.cos(angle)[:, :, None], np.sin(angle)[:, :, None]
    return np.eye(3)[None] + sin * K + (1 - cos) * (K @ K)


def rigid_transforms(rots: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Per-joint 4x4 transforms relative to the rest pose (upstream lbs.batch_rigid_transform's second output)."""
    rel = joints.copy()
    rel[1:] -= joints[parents[1:]]
    local = np.zeros((len(joints), 4, 4))
    local[:, :3, :3] = rots
    local[:, :3, 3] = rel
    local[:, 3, 3] = 1.0
    chain = [local[0]]
    for i in range(1, len(parents)):
        chain.append(chain[parents[i]] @ local[i])
    world = np.stack(chain)
    out = world.copy()
    out[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
    return out


def load_flame(model_path: Path, embedding_path: Path | None = None) -> FlameNumpy:
    """Load a plain-NumPy ``generic_model.pkl`` (and optionally ``landmark_embedding.npy``)."""
    model_path = Path(model_path)
    try:
        with open(model_path, "rb") as f:
            model = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise AssetError(
            f"{model_path}: missing; run `nesbench synth flame DIR` or `nesbench assets flame`"
        ) from None
    except (pickle.UnpicklingError, ModuleNotFoundError, EOFError) as exc:
        raise AssetError(
            f"{model_path}: not a plain-NumPy FLAME pickle ({exc}); convert it with `nesbench assets flame`"
        ) from None
    if not isinstance(model, dict):
        raise AssetError(f"{model_path}: expected a dict of arrays; convert it with `nesbench assets flame`")
    embedding = None
    if embedding_path is not None:
        embedding = np.load(embedding_path, allow_pickle=True, encoding="latin1")[()]
    return FlameNumpy.from_dict(model, embedding)
