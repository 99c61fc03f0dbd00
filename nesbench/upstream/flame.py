"""Put a chumpy-free FLAME model into upstream checkouts (code/flame/FLAME2020/).

`--flame PATH` converts the user's licensed generic_model.pkl once with nesbench.assets.flame.convert_flame_pickle;
`--synthetic-flame` writes the synthetic stand-in (smoke tests). A small json next to the model records which.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import tempfile
from pathlib import Path

from nesbench.errors import AssetError
from nesbench.fsutil import write_bytes_atomic, write_json_atomic
from nesbench.upstream.pins import Upstream

FLAME_DIR = Path("flame/FLAME2020")
MODEL = "generic_model.pkl"
LANDMARKS = "landmark_embedding.npy"
MARKER = "nesbench_flame.json"
MASKS = "FLAME_masks.pkl"
# PointAvatar and MonoGaussianAvatar (same FLAME.py) read landmark_embedding.npy (both ship the real one); IMavatar
# does not.
NEEDS_LANDMARKS = {"pointavatar", "monogaussianavatar"}
# Where a method reads the model, relative to its code folder (FlashAvatar: flame/generic_model.pkl; it ships its own
# landmark embedding and needs FLAME_masks.pkl besides: nesbench.upstream.flashavatar.assets).
FLAME_DIRS = {"flashavatar": Path("flame")}


def flame_dir(method: str) -> Path:
    """The folder holding generic_model.pkl, relative to the method's code folder."""
    return FLAME_DIRS.get(method, FLAME_DIR)


class _NoChumpy(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # type: ignore[override]
        if module.split(".")[0] == "chumpy":
            raise AssetError("chumpy")
        return super().find_class(module, name)


def flame_state(pin: Upstream, code_dir: Path) -> str:
    """'missing', 'synthetic', 'converted', or 'chumpy' (a pkl that still needs chumpy: run --flame on it)."""
    folder = code_dir / flame_dir(pin.key)
    model = folder / MODEL
    if not model.is_file():
        return "missing"
    if pin.key == "flashavatar":
        from nesbench.upstream.flashavatar.assets import masks_state

        if (masks := masks_state(code_dir)) != "ok":
            return f"masks {masks}"
    try:
        info = json.loads((folder / MARKER).read_text())
        if info.get("sha256") == _sha256(model):
            return str(info["kind"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(model, "rb") as f:
            _NoChumpy(f, encoding="latin1").load()
    except AssetError:
        return "chumpy"
    except Exception:  # noqa: BLE001 - any unreadable pickle means the model must be re-installed
        return "missing"
    return "converted"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _install(pins: list[Upstream], code_dirs: dict[str, Path], src_dir: Path, kind: str, source: str) -> None:
    for pin in pins:
        folder = code_dirs[pin.key] / flame_dir(pin.key)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(folder / MODEL, (src_dir / MODEL).read_bytes())
        if pin.key in NEEDS_LANDMARKS:
            if kind == "synthetic":
                write_bytes_atomic(folder / LANDMARKS, (src_dir / LANDMARKS).read_bytes())
            else:  # the real model goes with the landmark embedding shipped in the repository
                _restore_tracked(code_dirs[pin.key].parent, (Path("code") / FLAME_DIR / LANDMARKS).as_posix())
        write_json_atomic(
            folder / MARKER, {"kind": kind, "source": source, "sha256": _sha256(folder / MODEL)}
        )


def _restore_tracked(checkout: Path, rel: str) -> None:
    import git

    try:
        git.Repo(checkout).git.checkout("--", rel)
    except git.GitCommandError as exc:
        raise AssetError(
            f"{checkout / rel}: cannot restore the upstream file ({exc.stderr.strip()[:120]})"
        ) from None


def install_synthetic_flame(pins: list[Upstream], code_dirs: dict[str, Path], seed: int = 0) -> None:
    """Write the synthetic FLAME stand-in (same keys and shapes as FLAME 2020) into every checkout."""
    from nesbench.synth.flame_model import write_synthetic_flame

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(write_synthetic_flame(Path(tmp), seed=seed))
        src = out if out.is_dir() else out.parent
        for name in (MODEL, LANDMARKS, MASKS):
            if not (src / name).is_file():
                raise AssetError(f"{src / name}: the synthetic FLAME writer did not produce it")
        for pin in pins:
            if pin.key == "flashavatar":
                from nesbench.upstream.flashavatar import assets

                assets.install_synthetic(code_dirs[pin.key], src / MODEL, src / MASKS)
        _install(pins, code_dirs, src, "synthetic", f"nesbench.synth.flame_model seed={seed}")


def install_user_flame(
    pins: list[Upstream], code_dirs: dict[str, Path], source: Path, masks: Path | None = None
) -> None:
    """Convert the user's licensed FLAME 2020 generic_model.pkl to plain NumPy and install it (FlashAvatar also
    gets FLAME_masks.pkl: ``masks``, else the one next to the model)."""
    from nesbench.assets.flame import convert_flame_pickle

    source = Path(source).expanduser()
    if not source.is_file():
        raise AssetError(f"{source}: FLAME model not found; pass the path of FLAME2020/generic_model.pkl")
    for pin in pins:
        if pin.key == "flashavatar":
            from nesbench.upstream.flashavatar import assets

            code = code_dirs[pin.key]
            assets.install_user(
                code, assets.find_masks(source, masks), lambda rel, code=code: _restore_tracked(code, rel)
            )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(convert_flame_pickle(source, Path(tmp)))
        src_dir = Path(tmp) / "model"
        src_dir.mkdir()
        shutil.copyfile(out if out.is_file() else out / MODEL, src_dir / MODEL)
        _install(pins, code_dirs, src_dir, "converted", str(source))
