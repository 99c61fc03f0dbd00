"""Convert a user's FLAME 2020 ``generic_model.pkl`` (chumpy objects, scipy sparse) into a plain-NumPy pickle.

The official pickle was written by Python 2 with chumpy, which does not install on modern Python/NumPy. A
restricted unpickler maps every ``chumpy.*`` class to a small record of its pickled state and evaluates the few
chumpy node types a model file contains (a leaf ``Ch`` holding ``x``; ``transpose``/``reshape``/``ravel``/
``Select`` reorderings); scipy sparse matrices are rebuilt from their state and densified. Any other global in
the pickle is refused, so converting a file never runs its code. The result holds exactly the seven arrays
upstream FLAME.py reads (spec 6.2), after checking their shapes.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from nesbench.errors import AssetError
from nesbench.fsutil import atomic_path

REQUIRED = ("f", "v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights")


class ChumpyNode:
    """Stand-in for any chumpy class: keeps the class name and pickled state."""

    chumpy_class = "Ch"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def value(self) -> np.ndarray:
        s = self.state if isinstance(self.state, dict) else {}
        name = self.chumpy_class
        if "x" in s and name in ("Ch", "Parameter"):
            return np.asarray(_plain(s["x"]))
        if "a" in s:
            a = np.asarray(_plain(s["a"]))
            if name == "transpose":
                return np.transpose(a, s.get("axes"))
            if name == "reshape":
                return np.reshape(a, s["newshape"])
            if name == "ravel":
                return np.ravel(a)
            if name == "Select":
                out = a.ravel()[np.asarray(s["idxs"])]
                return out.reshape(s["preferred_shape"]) if s.get("preferred_shape") is not None else out
        raise AssetError(f"unsupported chumpy node {name!r} (keys {sorted(s)}) in the FLAME pickle")


class SparseStandIn:
    """Stand-in for scipy.sparse matrices: rebuilt with scipy from the pickled state."""

    fmt = "csc"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def value(self) -> np.ndarray:
        import scipy.sparse as sp

        s = self.state
        shape = tuple(s.get("_shape") or s.get("shape"))
        if self.fmt in ("csc", "csr"):
            cls = sp.csc_matrix if self.fmt == "csc" else sp.csr_matrix
            m = cls((np.asarray(s["data"]), np.asarray(s["indices"]), np.asarray(s["indptr"])), shape=shape)
        elif self.fmt == "coo":
            m = sp.coo_matrix(
                (np.asarray(s["data"]), (np.asarray(s["row"]), np.asarray(s["col"]))), shape=shape
            )
        else:
            raise AssetError(f"unsupported sparse format {self.fmt!r} in the FLAME pickle")
        return np.asarray(m.todense())


_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
}


class FlameUnpickler(pickle.Unpickler):
    """Resolves numpy, chumpy and scipy.sparse globals to safe stand-ins; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return type(name, (ChumpyNode,), {"chumpy_class": name})
        if module.startswith("scipy.sparse"):
            fmt = name.split("_")[0]
            return type(name, (SparseStandIn,), {"fmt": fmt})
        if (module, name) in _SAFE_GLOBALS:
            mod = {"numpy.core.multiarray": "numpy._core.multiarray", "copy_reg": "copyreg"}.get(
                module, module
            )
            mod = "builtins" if mod == "__builtin__" else mod
            return super().find_class(mod, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _plain(obj: Any) -> Any:
    if isinstance(obj, (ChumpyNode, SparseStandIn)):
        return obj.value()
    return obj


def read_flame_pickle(src: Path) -> dict[str, np.ndarray]:
    """Load a FLAME pickle (chumpy or plain) into plain NumPy arrays, checked; AssetError otherwise."""
    src = Path(src)
    hint = "pass the FLAME 2020 generic_model.pkl from https://flame.is.tue.mpg.de"
    try:
        with open(src, "rb") as f:
            raw = FlameUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise AssetError(f"{src}: no such file; {hint}") from None
    except IsADirectoryError:
        raise AssetError(f"{src}: is a folder; {hint}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
    ) as exc:
        raise AssetError(f"{src}: not a FLAME model pickle ({exc}); {hint}") from None
    if not isinstance(raw, dict):
        raise AssetError(f"{src}: holds a {type(raw).__name__}, not a FLAME model dict; {hint}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise AssetError(f"{src}: not a FLAME model (missing {', '.join(missing)}); {hint}")
    try:
        out = {k: np.asarray(_plain(raw[k])) for k in REQUIRED}
    except (KeyError, ValueError, TypeError) as exc:
        raise AssetError(f"{src}: cannot convert its arrays ({exc}); {hint}") from None
    _check_shapes(src, out)
    out["f"] = out["f"].astype(np.uint32)
    out["kintree_table"] = out["kintree_table"].astype(np.int64)
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[k] = out[k].astype(np.float64)
    return out


def _check_shapes(src: Path, a: dict[str, np.ndarray]) -> None:
    def bad(msg: str) -> AssetError:
        return AssetError(f"{src}: not a usable FLAME model: {msg}")

    v = a["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise bad(f"v_template has shape {v.shape}, expected (V,3) finite")
    V = v.shape[0]
    checks = {
        "f": a["f"].ndim == 2 and a["f"].shape[1] == 3,
        "shapedirs": a["shapedirs"].ndim == 3
        and a["shapedirs"].shape[:2] == (V, 3)
        and a["shapedirs"].shape[2] >= 350,
        "posedirs": a["posedirs"].shape == (V, 3, 36),
        "J_regressor": a["J_regressor"].shape == (5, V),
        "kintree_table": a["kintree_table"].shape == (2, 5),
        "weights": a["weights"].shape == (V, 5),
    }
    expected = {
        "f": "(F,3)",
        "shapedirs": f"({V},3,>=350)",
        "posedirs": f"({V},3,36)",
        "J_regressor": f"(5,{V})",
        "kintree_table": "(2,5)",
        "weights": f"({V},5)",
    }
    for key, ok in checks.items():
        if not ok:
            raise bad(f"{key} has shape {a[key].shape}, expected {expected[key]}")
    f = a["f"]
    if f.size and (f.min() < 0 or f.max() >= V):
        raise bad(f"face indices reach {int(f.max())} but there are {V} vertices")
    parents = a["kintree_table"][0].astype(np.int64)
    if list(parents[1:]) != [0, 1, 1, 1]:
        raise bad(f"kintree_table parents {parents.tolist()} are not FLAME's [root, 0, 1, 1, 1]")


def convert_flame_pickle(src: Path, dst_dir: Path) -> Path:
    """Write ``dst_dir/generic_model.pkl`` as a plain-NumPy dict (no chumpy needed to read it); return its path."""
    model = read_flame_pickle(src)
    dst = Path(dst_dir) / "generic_model.pkl"
    with atomic_path(dst) as tmp, open(tmp, "wb") as f:
        pickle.dump(model, f, protocol=4)
    return dst
