"""Named, idempotent header patches for the pinned CUDA extensions of the Gaussian-splatting methods.

diff-gaussian-rasterization@59f5f77 and simple-knn@44f7642 (configs/upstream.conf ``build``) predate GCC 13 and
CUDA 12.5, which no longer pull ``uint32_t`` and ``FLT_MAX`` in through other headers. One include each fixes them
(graphdeco-inria/gaussian-splatting#788, camenduru/simple-knn#4). scripts/build_gaussian_splatting.sh applies them
to its source copy before building:

    python -m nesbench.upstream.extensions apply diff_gaussian_rasterization SRC
    python -m nesbench.upstream.extensions status simple_knn SRC
"""

from __future__ import annotations

import sys
from pathlib import Path

from nesbench.errors import AssetError, NesbenchError
from nesbench.upstream.patches import APPLIED, CONFLICT, PENDING, Edit, Patch

EXTENSION_PATCHES: tuple[Patch, ...] = (
    Patch(
        "cstdint-rasterizer-impl",
        "diff_gaussian_rasterization",
        "#include <cstdint> in cuda_rasterizer/rasterizer_impl.h (GCC 13 no longer includes it transitively)",
        (
            Edit(
                "cuda_rasterizer/rasterizer_impl.h",
                "#include <iostream>\n",
                "#include <iostream>\n#include <cstdint>  // nesbench: uint32_t with GCC >= 13\n",
            ),
        ),
    ),
    Patch(
        "cfloat-simple-knn",
        "simple_knn",
        "#include <cfloat> in simple_knn.cu (FLT_MAX with CUDA >= 12.5)",
        (
            Edit(
                "simple_knn.cu",
                '#include "cuda_runtime.h"\n',
                '#include <cfloat>  // nesbench: FLT_MAX with CUDA >= 12.5\n#include "cuda_runtime.h"\n',
            ),
        ),
    ),
)


def extension_patches(key: str) -> list[Patch]:
    """The patches of the build ``key`` (diff_gaussian_rasterization, simple_knn); none for other builds."""
    return [p for p in EXTENSION_PATCHES if p.method == key]


def extension_patch_states(key: str, src: Path) -> dict[str, str]:
    return {p.name: p.state(Path(src)) for p in extension_patches(key)}


def apply_extension_patches(key: str, src: Path) -> dict[str, str]:
    """Apply every patch of ``key`` to the source tree ``src``; returns {name: state before}. Idempotent.

    A tree that does not hold the expected lines (another commit) is refused with the file and the fix."""
    src = Path(src)
    for patch in extension_patches(key):
        if patch.state(src) == CONFLICT:
            bad = next(e.path for e in patch.edits if e.state(_read(src / e.path)) == CONFLICT)
            raise AssetError(
                f"{src / bad}: patch {patch.name!r} does not match this file; the source is not at the commit "
                f"configs/upstream.conf pins for build.{key} (delete the build folder and re-run "
                "scripts/build_gaussian_splatting.sh)"
            )
    return {p.name: p.apply(src) for p in extension_patches(key)}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ("apply", "status") or not extension_patches(args[1]):
        keys = sorted({p.method for p in EXTENSION_PATCHES})
        print(
            f"usage: python -m nesbench.upstream.extensions apply|status {'|'.join(keys)} SRC",
            file=sys.stderr,
        )
        return 2
    action, key, src = args
    if not Path(src).is_dir():
        print(f"error: {src}: source folder not found", file=sys.stderr)
        return 1
    try:
        states = (
            apply_extension_patches(key, Path(src)) if action == "apply" else extension_patch_states(key, src)
        )
    except NesbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, state in states.items():
        shown = {PENDING: "applied now", APPLIED: "already applied"}[state] if action == "apply" else state
        print(f"{key}: patch {name}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
