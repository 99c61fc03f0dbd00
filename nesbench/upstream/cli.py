"""`nesbench upstream ...` (install, status, flame, train, eval) and `nesbench confs show`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nesbench import cli_args
from nesbench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser(
        "upstream", help="upstream methods (IMavatar, PointAvatar): install, status, train, eval"
    )
    ups = up.add_subparsers(dest="upstream_command", metavar="ACTION")

    p = ups.add_parser("install", help="clone at the pinned commits, apply patches and overlays, build")
    p.add_argument("--methods", required=True, help="comma list, e.g. imavatar,pointavatar (or all)")
    p.add_argument(
        "--mirror",
        type=Path,
        help="folder with one git repo per method (default $NESBENCH_MIRROR, else GitHub)",
    )
    p.add_argument("--force", action="store_true", help="re-create the checkouts")
    p.set_defaults(func=_install)

    p = ups.add_parser(
        "status",
        help="checkout commit, patches, overlays, builds, FLAME and torchvision/PyTorch3D per method",
    )
    p.add_argument("--methods", default="all")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)

    p = ups.add_parser("flame", help="install FLAME into the checkouts (converted, chumpy-free)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--from", dest="source", type=Path, help="your licensed FLAME2020 generic_model.pkl")
    g.add_argument("--synthetic", action="store_true", help="the synthetic stand-in (smoke tests)")
    p.add_argument("--methods", default="installed", help="comma list (default: every installed checkout)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_flame)

    for action, helptext in (
        ("train", "train jobs (method x subject x protocol)"),
        ("eval", "render test sequences and map them into the prediction layout"),
    ):
        p = ups.add_parser(action, help=helptext)
        p.add_argument("--method", required=True)
        p.add_argument("--protocol", required=True, help="expression | speech (or a comma list)")
        p.add_argument(
            "--subjects",
            default="all",
            help="ids and/or test-set names, comma separated (default: all subjects of the benchmark, 21 on "
            "RenderMe-360, run one after the other)",
        )
        p.add_argument("--benchmark", default="renderme360_nes")
        p.add_argument("--runs", type=Path, help="runs folder (default $NESBENCH_RUNS or <repo>/runs)")
        p.add_argument("--data", type=Path, help="dataset root override (folder holding testsetK/)")
        p.add_argument("--force", action="store_true", help="redo finished jobs")
        if action == "train":
            p.add_argument(
                "--epochs",
                type=cli_args.epochs,
                help="positive integer (default: configs/methods/<method>.conf epochs.<protocol>)",
            )
            p.add_argument(
                "--set",
                dest="overrides",
                action="append",
                metavar="KEY=VALUE",
                help="override a conf key for these jobs (repeatable)",
            )
        else:
            p.add_argument(
                "--test-time-fitting",
                choices=["on", "off"],
                help="PointAvatar only: fit expression/pose/camera to the GT test images (default from "
                "configs/methods/pointavatar.conf); recorded in method_info.json",
            )
            p.add_argument(
                "--fitting-scope",
                choices=["split", "sequence"],
                help="PointAvatar only: split = one fitting run with one shared SparseAdam over the whole test "
                "split, as the benchmark's scripts/test.py (default, configs/methods/pointavatar.conf); sequence "
                "= a fresh run per test sequence; recorded in method_info.json",
            )
            p.add_argument(
                "--checkpoint",
                type=cli_args.checkpoint,
                help="render the saved epoch N instead of the final one (e.g. 0 = untrained IMavatar); "
                "mapped as method <method>-epoch<N> for side-by-side scoring",
            )
        p.set_defaults(func=_jobs, action=action)

    c = sub.add_parser("confs", help="upstream confs generated per subject x protocol")
    cs = c.add_subparsers(dest="confs_command", metavar="ACTION")
    p = cs.add_parser("show", help="print the conf of one job")
    p.add_argument("method")
    p.add_argument("subject")
    p.add_argument("protocol")
    p.add_argument("--benchmark", default="renderme360_nes")
    p.add_argument("--data", type=Path)
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE")
    p.set_defaults(func=_confs_show)


def _install(args: argparse.Namespace) -> int:
    from nesbench.upstream.install import install
    from nesbench.upstream.pins import parse_methods

    for pin in parse_methods(args.methods):
        install(pin, mirror=args.mirror, force=args.force, say=lambda m: print(f"[upstream] {m}"))
    return 0


def _status(args: argparse.Namespace) -> int:
    from nesbench.upstream.install import status
    from nesbench.upstream.pins import parse_methods

    rows = [status(pin) for pin in parse_methods(args.methods)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        ok = r["commit"] == r["pinned"]
        print(
            f"{r['method']}: {r['checkout']} commit {str(r['commit'])[:12]}"
            f"{'' if ok else ' (pinned ' + str(r['pinned'])[:12] + ')'}"
        )
        for kind in ("patches", "builds"):
            for name, state in dict(r.get(kind, {})).items():  # type: ignore[arg-type]
                print(f"  {kind[:-2] if kind == 'patches' else 'build'} {name:28s} {state}")
        if "overlays" in r:
            print(f"  overlays {'':28s}   {r['overlays']}")
            print(f"  flame    {'':28s}   {r['flame']}")
        for name, state in dict(r.get("modules", {})).items():  # type: ignore[arg-type]
            shown = state if state in ("ok", "missing") or name == "torch" else f"missing ({state})"
            print(f"  python   {name:28s} {shown or 'missing'}")
    return 0


def _code_dirs(methods: str):
    from nesbench.errors import AssetError
    from nesbench.paths import upstream_dir
    from nesbench.upstream.pins import parse_methods

    if methods == "installed":
        pins = [p for p in parse_methods("all") if p.code_dir(upstream_dir()).is_dir()]
        if not pins:
            raise AssetError(
                f"{upstream_dir()}: no upstream checkout; run `bash setup.sh --methods imavatar,pointavatar`"
            )
    else:
        pins = parse_methods(methods)
    dirs = {}
    for pin in pins:
        code = pin.code_dir(upstream_dir())
        if not code.is_dir():
            raise AssetError(f"{code}: no checkout; run `bash setup.sh --methods {pin.key}` first")
        dirs[pin.key] = code
    return pins, dirs


def _flame(args: argparse.Namespace) -> int:
    from nesbench.upstream import flame

    pins, dirs = _code_dirs(args.methods)
    if args.synthetic:
        flame.install_synthetic_flame(pins, dirs, seed=args.seed)
    else:
        flame.install_user_flame(pins, dirs, args.source)
    for pin in pins:
        print(f"[upstream] {pin.name}: FLAME {flame.flame_state(pin, dirs[pin.key])}")
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from nesbench.config import load_benchmark
    from nesbench.upstream import confs, jobs

    bench = load_benchmark(args.benchmark)
    protocols = [p for p in args.protocol.split(",") if p]
    if not protocols:
        raise ConfigError("--protocol is empty; choose from: " + ", ".join(bench.protocols))
    subjects = bench.resolve_subjects(args.subjects)
    epochs = overrides = fit = scope = None
    if args.action == "train":
        epochs = args.epochs
        overrides = confs.parse_overrides(args.overrides)
    elif args.test_time_fitting is not None:
        if confs.load_template(args.method.lower()).test_time_fitting is None:
            raise ConfigError(
                f"--test-time-fitting: only PointAvatar has test-time fitting, not {args.method}"
            )
        fit = args.test_time_fitting == "on"
    if args.action == "eval" and args.fitting_scope is not None:
        if confs.load_template(args.method.lower()).fitting_scope is None:
            raise ConfigError(f"--fitting-scope: only PointAvatar has test-time fitting, not {args.method}")
        scope = args.fitting_scope
    results = []
    for protocol in protocols:
        for subject in subjects:
            job = jobs.make_job(args.method, bench, subject, protocol, runs=args.runs, data_root=args.data)
            print(f"[{args.action}] {job.pin.key}/{protocol}/{subject} ...", flush=True)
            if args.action == "train":
                res = jobs.train_job(job, epochs=epochs, overrides=overrides, force=args.force)
            else:
                res = jobs.eval_job(
                    job,
                    test_time_fitting=fit,
                    force=args.force,
                    checkpoint=args.checkpoint,
                    fitting_scope=scope,
                )
            print(
                f"[{args.action}] {res.job}: {res.status} - {res.detail}"
                + (f" (log: {res.log})" if res.log else ""),
                flush=True,
            )
            results.append(res)
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    print(
        f"[{args.action}] summary: {len(results)} jobs, " + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    for r in results:
        if r.status == "failed":
            print(f"  failed: {r.job}: {r.detail}", file=sys.stderr)
    return 1 if counts["failed"] else 0


def _confs_show(args: argparse.Namespace) -> int:
    from nesbench.config import load_benchmark
    from nesbench.paths import upstream_dir
    from nesbench.upstream import confs
    from nesbench.upstream.pins import get_pin

    bench = load_benchmark(args.benchmark)
    pin = get_pin(args.method)
    conf = confs.build_conf(
        pin,
        pin.checkout_dir(upstream_dir()),
        bench,
        args.subject,
        args.protocol,
        confs.parse_overrides(args.overrides),
        args.data,
    )
    sys.stdout.write(confs.render_conf(conf))
    return 0
