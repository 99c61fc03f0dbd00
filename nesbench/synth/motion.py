"""Per-sequence FLAME parameter trajectories of a synthetic subject.

Every expression is a combination of a shared set of expression *atoms* (smile, mouth open, brows up, ...), each a
fixed 50-d expression vector plus a jaw opening. Training sequences (e_0..e_5) together use every atom; test
sequences (e_6..e_11) use new combinations of the same atoms, so they are novel but inside the span of the
training data. Expression sequences go from neutral to a large peak; speech sequences (s_k) are small, fast mouth
movements. The head turns mildly (neck slot, like the benchmark preprocessing); global and eye poses stay zero.
"""

from __future__ import annotations

import zlib

import numpy as np

N_ATOMS = 8
# Designed expression components (see flame_model): 0 open, 1 smile, 2 brows up, 3 furrow, 4 pucker, 5 cheeks,
# 6 stretch, 7/8 smirks, 9 sneer, 10 chin forward, 11 lips pressed.
_ATOM_COMPONENTS = [
    {0: 1.0},
    {1: 1.0},
    {2: 1.0},
    {3: 1.0, 9: 0.5},
    {4: 1.0, 11: 0.5},
    {5: 1.0},
    {6: 1.0, 10: 0.6},
    {7: 1.0, 8: -0.3},
]
_ATOM_JAW = [0.11, 0.02, 0.0, 0.0, 0.0, 0.0, 0.04, 0.0]
# (atom, weight range) per expression sequence.
EXPRESSION_MIX = {
    "e_0": [(0, (2.0, 2.6))],
    "e_1": [(1, (2.2, 2.8)), (7, (0.4, 0.8))],
    "e_2": [(2, (2.2, 2.8)), (5, (0.8, 1.4))],
    "e_3": [(3, (2.2, 2.8)), (6, (0.8, 1.4))],
    "e_4": [(4, (2.2, 2.8))],
    "e_5": [(5, (1.8, 2.4)), (7, (1.2, 1.8))],
    "e_6": [(0, (1.2, 1.8)), (1, (1.6, 2.2))],
    "e_7": [(2, (1.8, 2.4)), (0, (1.0, 1.6))],
    "e_8": [(3, (1.4, 2.0)), (4, (1.2, 1.8))],
    "e_9": [(6, (1.2, 1.8)), (1, (1.0, 1.6)), (5, (0.6, 1.0))],
    "e_10": [(7, (1.6, 2.2)), (2, (1.0, 1.6))],
    "e_11": [(4, (1.2, 1.8)), (3, (1.0, 1.6)), (0, (0.6, 1.0))],
}
SPEECH_ATOMS = (0, 4, 6)


def atom_matrix(seed: int) -> np.ndarray:
    """(50, N_ATOMS) expression vectors of the atoms: designed components plus small loadings on the others."""
    rng = np.random.default_rng([seed, 777])
    A = np.zeros((50, N_ATOMS))
    for k, comps in enumerate(_ATOM_COMPONENTS):
        for c, w in comps.items():
            A[c, k] = w
        A[12:, k] = 0.25 * rng.normal(size=38) / (1 + np.arange(38) / 10)
    return A


def _seq_rng(seed: int, subject: str, sequence: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(subject.encode()), zlib.crc32(sequence.encode())])


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def sequence_parameters(
    sequence: str, n_frames: int, *, subject: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Expression (N,50) and pose (N,15) of every frame of a sequence (names e_<k> or s_<k>)."""
    rng = _seq_rng(seed, subject, sequence)
    A = atom_matrix(seed)
    t = np.linspace(0.0, 1.0, n_frames)
    codes = np.zeros((n_frames, N_ATOMS))
    if sequence in EXPRESSION_MIX:
        # Staggered onsets: within a sequence the atoms vary independently, so the frames of the training
        # sequences span every atom they use (and test mixtures stay inside that span).
        decay = 1.0 - 0.25 * _smoothstep(0.85, 1.0, t)
        for j, (atom, (lo, hi)) in enumerate(EXPRESSION_MIX[sequence]):
            codes[:, atom] = rng.uniform(lo, hi) * _smoothstep(0.2 * j, 0.45 + 0.2 * j, t) * decay
    elif sequence.startswith("s_"):
        for atom, amp in zip(SPEECH_ATOMS, (0.9, 0.6, 0.5), strict=True):
            cycles = rng.uniform(0.22, 0.33) * n_frames  # about one syllable every 3-4 frames
            phase = rng.uniform(0, 2 * np.pi)
            codes[:, atom] = amp * rng.uniform(0.7, 1.0) * 0.5 * (1 - np.cos(2 * np.pi * cycles * t + phase))
        codes[:, 1] = rng.uniform(0.0, 0.4)  # a slight, steady smile while talking
    else:
        raise ValueError(f"unknown synthetic sequence {sequence!r}; use e_0..e_11 or s_<k>")
    expression = codes @ A.T
    pose = np.zeros((n_frames, 15))
    pose[:, 6] = np.clip(codes @ np.array(_ATOM_JAW), 0.0, None)  # jaw opening (rad)
    offset = rng.normal(0.0, 0.04, 3)
    sway = rng.normal(0.0, 0.03, 3)
    pose[:, 3:6] = offset + np.sin(np.pi * t)[:, None] * sway
    return expression, pose
