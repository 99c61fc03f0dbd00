"""`nesbench data check|link|fix-masks`: validate a dataset, put the benchmark data in place, convert masks."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from nesbench import cli_args
from nesbench.config import Benchmark, load_benchmark
from nesbench.data.findings import ValidationResult
from nesbench.errors import DataError
from nesbench.fsutil import dumps_strict
from nesbench.paths import REPO_ROOT

LINK_BENCHMARK = "renderme360_nes"


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn file-system errors (permissions, vanished files) into one-line DataErrors."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except OSError as exc:
            where = exc.filename or "dataset"
            raise DataError(f"{where}: {exc.strerror or exc}; check that it exists and is readable") from None

    return run


def _benchmark(name: str | None) -> Benchmark | None:
    return load_benchmark(name) if name else None


def _root(args: argparse.Namespace, bench: Benchmark | None) -> Path:
    if args.root:
        return Path(args.root).expanduser()
    if bench is None:
        raise DataError("no dataset given; pass ROOT (the folder holding testset1/, ...) or --benchmark NAME")
    return bench.data_root()


def _validate(args: argparse.Namespace, root: Path, bench: Benchmark | None) -> ValidationResult:
    from nesbench.data.validate import validate_dataset

    return validate_dataset(
        root,
        bench,
        subjects=args.subjects,
        check_images=not args.skip_images,
        decode=not args.no_decode,
        strict=args.strict,
        workers=args.workers,
    )


def _emit(result: ValidationResult, as_json: bool) -> int:
    print(dumps_strict(result.to_dict()) if as_json else result.render_text())
    return 0 if result.ok else 1


@_guard
def _check(args: argparse.Namespace) -> int:
    bench = _benchmark(args.benchmark)
    return _emit(_validate(args, _root(args, bench), bench), args.json)


@_guard
def _link(args: argparse.Namespace) -> int:
    from nesbench.data.link import link_data

    bench = load_benchmark(args.benchmark)
    into = Path(args.into).expanduser() if args.into else REPO_ROOT / "benchmark_data"
    root = link_data(Path(args.path), into, force=args.force)
    result = _validate(args, root, bench)
    expected = bench.data_root()
    if expected.absolute() != root.absolute():
        result.notes.append(
            f"benchmark {bench.name} reads its data from {expected}; set NESBENCH_DATA={root} to use this copy"
        )
    return _emit(result, args.json)


@_guard
def _fix_masks(args: argparse.Namespace) -> int:
    from nesbench.data.fix_masks import fix_masks

    bench = _benchmark(args.benchmark)
    converted, seen = fix_masks(_root(args, bench), workers=args.workers)
    print(f"converted {converted} of {seen} mask(s) to 3-channel PNGs")
    return 0


def _add_check_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subjects", help="comma list of subject ids and/or test sets (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.add_argument(
        "--strict",
        action="store_true",
        help="errors, not warnings: 1-channel masks, frames not numbered 1..N in order, shape_params/intrinsics "
        "differing across a subject's sequences (the benchmark's loaders accept the last two)",
    )
    p.add_argument("--skip-images", action="store_true", help="only check that image files exist (fast)")
    p.add_argument("--no-decode", action="store_true", help="read PNG headers only, do not decode the pixels")
    p.add_argument(
        "--workers",
        type=cli_args.workers,
        default=None,
        help="threads for reading images (default: automatic)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="check, link and repair datasets in the RenderMe-360 NES layout")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    check = dsub.add_parser(
        "check",
        help="validate a dataset (ROOT/testsetK/<id>/<id>/<seq>/...) or the extracted benchmark tarball",
        description="Exit code 0 when no errors were found (warnings allowed), 1 otherwise.",
    )
    check.add_argument(
        "root", nargs="?", help="dataset root, the tarball's extraction folder, or its data/ folder"
    )
    check.add_argument("--benchmark", help="also require each subject/sequence this benchmark needs")
    _add_check_options(check)
    check.set_defaults(func=_check)

    link = dsub.add_parser(
        "link",
        help="extract the benchmark tarball (or symlink an extracted folder) into benchmark_data/ and check it",
    )
    link.add_argument("path", help="data_NES_imavatar_pointavatar.tar, or the folder it was extracted to")
    link.add_argument(
        "--benchmark", default=LINK_BENCHMARK, help=f"benchmark to check against ({LINK_BENCHMARK})"
    )
    link.add_argument("--into", help="where data/ goes (default: benchmark_data/ of this repository)")
    link.add_argument(
        "--force", action="store_true", help="replace an existing different data/ link or folder"
    )
    _add_check_options(link)
    link.set_defaults(func=_link)

    fix = dsub.add_parser(
        "fix-masks", help="rewrite 1-channel mask PNGs as 3-channel PNGs (atomically, in place)"
    )
    fix.add_argument("root", nargs="?", help="dataset root (default: the --benchmark's data root)")
    fix.add_argument("--benchmark", help="benchmark whose data root to use when ROOT is not given")
    fix.add_argument("--workers", type=cli_args.workers, default=None, help="threads (default: automatic)")
    fix.set_defaults(func=_fix_masks)
