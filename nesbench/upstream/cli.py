"""`nesbench upstream ...` (install, status, flame, train, eval, confs show).

Old spellings kept for one release: `nesbench confs show` (now `nesbench upstream confs show`), `--method` and
`--protocol` of train/eval (now `--methods`, `--protocols`), eval's `--test-time-fitting` and `--fitting-scope`
(now PointAvatar's own `--pointavatar.test-time-fitting`, `--pointavatar.fitting-scope`).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from nesbench import cli_args
from nesbench.errors import ConfigError
from nesbench.methods.options import add_option_flags, chosen_options
from nesbench.upstream.tarball_confs import CONF_CHOICES


def register(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser(
        "upstream",
        help="upstream methods (IMavatar, PointAvatar, MonoGaussianAvatar, NeRFace, FlashAvatar): install, status, "
        "train, eval",
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
    p.add_argument(
        "--masks",
        type=Path,
        help="with --from: FLAME's licensed FLAME_masks.pkl for FlashAvatar (default: next to the model)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_flame)

    for action, helptext in (
        ("train", "train jobs (method x subject x protocol)"),
        ("eval", "render test sequences and map them into the prediction layout"),
    ):
        p = ups.add_parser(action, help=helptext)
        p.add_argument(
            "--methods",
            "--method",
            dest="methods",
            required=True,
            help="comma list, e.g. imavatar,pointavatar",
        )
        p.add_argument(
            "--protocols",
            "--protocol",
            dest="protocols",
            required=True,
            help="comma list: expression, speech",
        )
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
        p.add_argument(
            "--strict",
            action="store_true",
            help="refuse data the benchmark's loaders accept (frames not numbered 1..N, shape_params/intrinsics "
            "differing across a split's sequences) instead of warning; warnings are recorded in method_info.json",
        )
        if action == "train":
            p.add_argument(
                "--confs",
                choices=CONF_CHOICES,
                default="auto",
                help="the conf's base: auto (default) = the benchmark tarball's conf of the subject when the data "
                "has one (data/conf/audio_audio_multiflame/ next to datasets/), else generated from the upstream "
                "example; tarball = require it; generated = ignore it (departs from the benchmark)",
            )
            p.add_argument(
                "--iterations",
                type=cli_args.bounded_int(1, 10_000_000, "a number of iterations"),
                help="NeRFace and FlashAvatar: training iterations (default: configs/methods/<method>.conf "
                "iterations.<protocol>)",
            )
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
                help="old spelling of --pointavatar.test-time-fitting (kept for one release)",
            )
            p.add_argument(
                "--fitting-scope",
                choices=["split", "sequence"],
                help="old spelling of --pointavatar.fitting-scope (kept for one release)",
            )
            p.add_argument(
                "--checkpoint",
                type=cli_args.checkpoint,
                help="render the saved epoch N instead of the final one (e.g. 0 = untrained IMavatar); "
                "mapped as method <method>-epoch<N> for side-by-side scoring",
            )
            add_option_flags(p, _upstream_specs())
        p.set_defaults(func=_jobs, action=action)

    _add_confs(
        ups.add_parser("confs", help="upstream confs per subject x protocol (benchmark tarball or generated)")
    )
    _add_confs(
        sub.add_parser("confs", help="old spelling of `nesbench upstream confs` (kept for one release)")
    )


def _add_confs(c: argparse.ArgumentParser) -> None:
    cs = c.add_subparsers(dest="confs_command", metavar="ACTION")
    p = cs.add_parser(
        "show",
        help="print the conf of one job; a benchmark tarball conf is followed by its diff against the generated one",
    )
    p.add_argument("method")
    p.add_argument("subject")
    p.add_argument("protocol")
    p.add_argument("--benchmark", default="renderme360_nes")
    p.add_argument("--data", type=Path)
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE")
    p.add_argument("--confs", choices=CONF_CHOICES, default="auto", help="as for `upstream train --confs`")
    p.set_defaults(func=_confs_show)


def _upstream_specs() -> list:
    """The registered methods that wrap an upstream method (their declared options are eval flags)."""
    from nesbench.methods.registry import BUILTIN

    return [s for s in BUILTIN if s.upstream]


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
        flame.install_user_flame(pins, dirs, args.source, masks=args.masks)
    for pin in pins:
        print(f"[upstream] {pin.name}: FLAME {flame.flame_state(pin, dirs[pin.key])}")
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from nesbench.config import load_benchmark
    from nesbench.upstream import confs, jobs

    bench = load_benchmark(args.benchmark)
    protocols = [p for p in args.protocols.split(",") if p]
    if not protocols:
        raise ConfigError("--protocols is empty; choose from: " + ", ".join(bench.protocols))
    methods = [m for m in args.methods.split(",") if m]
    if not methods:
        raise ConfigError(
            "--methods is empty; choose from: imavatar, pointavatar, monogaussianavatar, nerface, flashavatar"
        )
    subjects = bench.resolve_subjects(args.subjects)
    results = []
    own = [
        m for m in methods if m.lower() in OWN_JOBS
    ]  # their own jobs (nesbench.upstream.<method>): iterations
    if not own and getattr(args, "iterations", None) is not None:
        raise ConfigError(
            f"--iterations: only NeRFace and FlashAvatar count iterations; {args.methods} take --epochs"
        )
    methods = [m for m in methods if m.lower() not in OWN_JOBS]
    for m in own:
        results += _own_run_jobs(m.lower())(args, bench, protocols, subjects, alone=not methods)
    epochs = overrides = None
    own: dict[str, dict] = {}
    if args.action == "train":
        epochs = args.epochs
        overrides = confs.parse_overrides(args.overrides)
    else:
        own = _eval_options(args, methods) if methods else {}
    for method in methods:
        for protocol in protocols:
            for subject in subjects:
                job = jobs.make_job(method, bench, subject, protocol, runs=args.runs, data_root=args.data)
                print(f"[{args.action}] {job.pin.key}/{protocol}/{subject} ...", flush=True)
                if args.action == "train":
                    res = jobs.train_job(
                        job,
                        epochs=epochs,
                        overrides=overrides,
                        force=args.force,
                        strict=args.strict,
                        confs=args.confs,
                    )
                else:
                    mine = own.get(job.pin.key, {})
                    res = jobs.eval_job(
                        job,
                        test_time_fitting=mine.get("test_time_fitting"),
                        force=args.force,
                        checkpoint=args.checkpoint,
                        fitting_scope=mine.get("fitting_scope"),
                        strict=args.strict,
                        tf32=mine.get("tf32"),
                    )
                for warning in res.warnings:
                    print(f"[{args.action}] warning: {warning}", file=sys.stderr, flush=True)
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


OWN_JOBS = ("nerface", "flashavatar")  # the keys of iteration_jobs.JOB_MODULES (imported only when used)


def _own_run_jobs(method: str):
    """run_jobs of a method with its own job module (not the IMavatar-format runner)."""
    from nesbench.upstream import iteration_jobs

    return functools.partial(iteration_jobs.run_jobs, method)


def _eval_options(args: argparse.Namespace, methods: list[str]) -> dict[str, dict]:
    """{upstream key: {option: value}} of the methods' own eval options (``--pointavatar.fitting-scope``), plus
    the old global spellings ``--test-time-fitting``/``--fitting-scope`` for every chosen method that has them."""
    from nesbench.methods.options import option_fields
    from nesbench.upstream.pins import get_pin

    keys = [get_pin(m).key for m in methods]
    specs = {s.upstream: s for s in _upstream_specs()}
    own = chosen_options(args, specs.values())
    for name in own:
        if specs[name].upstream not in keys:
            raise ConfigError(f"--{name}.* options given, but {name} is not among --methods ({args.methods})")
    own = {specs[name].upstream: values for name, values in own.items()}
    old = {"test_time_fitting": args.test_time_fitting, "fitting_scope": args.fitting_scope}
    for option, text in old.items():
        if text is None:
            continue
        flag = "--" + option.replace("_", "-")
        takers = [
            k for k in keys if k in specs and option in {f.name for f in option_fields(k, specs[k].config)}
        ]
        if not takers:
            raise ConfigError(
                f"{flag}: only PointAvatar and MonoGaussianAvatar have test-time fitting, not {args.methods}"
            )
        for k in takers:
            field = next(f for f in option_fields(k, specs[k].config) if f.name == option)
            own.setdefault(k, {}).setdefault(option, field.parse(text))
    return own


def _confs_show(args: argparse.Namespace) -> int:
    from nesbench.config import load_benchmark
    from nesbench.paths import upstream_dir
    from nesbench.upstream import confs
    from nesbench.upstream.pins import get_pin

    bench = load_benchmark(args.benchmark)
    pin = get_pin(args.method)
    job_conf = confs.build_job_conf(
        pin,
        pin.checkout_dir(upstream_dir()),
        bench,
        args.subject,
        args.protocol,
        confs.parse_overrides(args.overrides),
        args.data,
        args.confs,
    )
    sys.stdout.write(confs.render_conf(job_conf.conf))
    sys.stdout.write(confs.describe(job_conf))
    return 0
