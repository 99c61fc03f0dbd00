#!/usr/bin/env python
"""The adversarial pass of docs/RELIABILITY.md: hostile inputs to the real commands, each run as a subprocess.

Every case runs one command (``python -m nesbench ...``, ``calculate_metric.py`` or ``train.sh``/``eval.sh``) in a
sandbox and checks, besides its own expectation:

- no traceback in stdout/stderr; a failure is one ``error:`` line (argparse errors: exit 2 with its usage line);
- nothing written outside the case's output folder, the sandbox cache and the case's GT cache (the whole sandbox is
  snapshotted before and after, and /tmp is searched for the escape targets);
- every JSON file the command wrote (and JSON it printed with --json) parses under a strict parser (no NaN/Infinity).

Usage: ``python scripts/adversarial_pass.py [--markdown OUT.md] [--keep] [--only SUBSTRING]``; exit 1 if any case
fails. Takes about 10 minutes on 2 CPU cores (each case starts Python and imports torch).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
BENCH = "synthetic_tiny"
ESCAPE = "nesbench-escape-probe"
STUB = (
    REPO / "tests" / "fixtures" / "metric_parity" / "lpips_alexnet_stub.pth"
)  # a tiny LPIPS backbone (no download)  # what a path traversal would create: searched for in /tmp and the sandbox


@dataclass
class Ctx:
    sandbox: Path
    base: Path  # a finished `nesbench run` of synthetic_tiny
    data: Path  # its dataset root
    case: Path  # this case's folder: in/ (inputs, made before the snapshot), out/ (where writes are allowed)

    @property
    def out(self) -> Path:
        return self.case / "out"

    @property
    def inp(self) -> Path:
        return self.case / "in"

    def copy_runs(self) -> Path:
        dst = self.inp / "runs"
        if not dst.exists():
            shutil.copytree(self.base / "runs", dst)
        return dst

    def copy_data(self) -> Path:
        dst = self.inp / "data"
        if not dst.exists():
            shutil.copytree(self.data, dst, ignore=shutil.ignore_patterns(".nesbench-synth.json"))
        return dst

    def copy_run(self) -> Path:
        dst = self.out / "run"
        if not dst.exists():
            shutil.copytree(self.base, dst, ignore=shutil.ignore_patterns(".nesbench-run.lock"))
        return dst

    def seq(self, root: Path, seq: str = "e_6") -> Path:
        return root / "testset1" / "9001" / "9001" / seq

    def pred(
        self, runs: Path, method: str = "mean-image", proto: str = "expression", seq: str = "e_6"
    ) -> Path:
        return runs / method / proto / "9001" / seq / "rgb"


@dataclass
class Result:
    rc: int
    out: str
    err: str
    seconds: float


@dataclass
class Case:
    cls: str
    name: str
    expect: str
    argv: Callable[[Ctx], list[str]]
    check: Callable[[Result, Ctx], bool]
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdout_json: bool = False
    lock_out: bool = False  # hold the scoring lock on out/ while the command runs


def nb(*args: str) -> list[str]:
    return [PY, "-m", "nesbench", *args]


def cm(*args: str) -> list[str]:
    return [PY, str(REPO / "calculate_metric.py"), *args]


def error_line(r: Result) -> str:
    lines = [x for x in r.err.splitlines() if "error:" in x]
    return lines[-1] if lines else ""


def says(*phrases: str, rc: int = 1) -> Callable[[Result, Ctx], bool]:
    return lambda r, c: r.rc == rc and all(p in (r.err + r.out) for p in phrases)


def ok_and(*phrases: str) -> Callable[[Result, Ctx], bool]:
    return says(*phrases, rc=0)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def conf_with(ctx: Ctx, extra: str) -> Path:
    src = REPO / "configs" / "benchmarks" / f"{BENCH}.conf"
    text = src.read_text().replace(
        'include "../protocols/nes.conf"', f'include "{REPO}/configs/protocols/nes.conf"'
    )
    path = ctx.inp / "evil.conf"
    write(path, text + "\n" + extra + "\n")
    return path


def score_evil_conf(ctx: Ctx) -> list[str]:
    """calculate_metric.py in benchmark mode on the conf that :func:`conf_with` wrote."""
    return cm(
        "--benchmark", str(ctx.inp / "evil.conf"), "--runs", str(ctx.base / "runs"), "--out", str(ctx.out)
    )


def metrics(ctx: Ctx, *args: str, runs: Path | None = None, out: Path | None = None) -> list[str]:
    return cm(
        "--benchmark", BENCH, "--runs", str(runs or ctx.base / "runs"), "--out", str(out or ctx.out), "--quiet",
        *args,
    )  # fmt: skip


def score(ctx: Ctx, pred: Path, *args: str, seq: str = "e_6", data: Path | None = None) -> list[str]:
    return cm(
        "score", "--pred", str(pred), "--gt", str(ctx.seq(data or ctx.data, seq)), "--scorer", "unified",
        "--device", "cpu", "--lpips-backbone", str(STUB), *args,
    )  # fmt: skip


def copy_gt_as_predictions(ctx: Ctx) -> None:
    runs = ctx.copy_runs()
    for seq_dir in (ctx.data / "testset1" / "9001" / "9001").iterdir():
        for proto in ("expression", "speech"):
            dst = runs / "copy" / proto / "9001" / seq_dir.name / "rgb"
            if (runs / "mean-image" / proto / "9001" / seq_dir.name).exists():
                shutil.copytree(seq_dir / "image", dst)


def rename_preds(ctx: Ctx, fmt: Callable[[int], str]) -> None:
    folder = ctx.pred(ctx.copy_runs())
    for p in sorted(folder.glob("*.png")):
        p.rename(folder / fmt(int(p.stem)))


def zero_based(ctx: Ctx) -> None:
    folder = ctx.pred(ctx.copy_runs())
    for p in sorted(folder.glob("*.png"), key=lambda p: int(p.stem)):
        p.rename(folder / f"{int(p.stem) - 1}.png")


def same_size_same_mtime_rewrite(ctx: Ctx) -> None:
    """Score once into out/, then flip a byte of one prediction keeping its size and mtime."""
    runs = ctx.copy_runs()
    subprocess.run(
        metrics(ctx, runs=runs, out=ctx.out) + ["--scorers", "unified"], capture_output=True, check=False
    )
    png = ctx.pred(runs) / "1.png"
    st = png.stat()
    raw = bytearray(png.read_bytes())
    raw[-20] ^= 0xFF
    png.write_bytes(bytes(raw))
    os.utime(png, ns=(st.st_atime_ns, st.st_mtime_ns))


def gt_cache_flip(ctx: Ctx) -> None:
    """Fill a GT cache, then flip the last byte of one entry's image.npy (same size)."""
    pred = ctx.pred(ctx.base / "runs")
    subprocess.run(
        score(ctx, pred, "--gt-cache", str(ctx.case / "gtc"), "--allow-incomplete"), capture_output=True
    )
    npy = next((ctx.case / "gtc").rglob("image.npy"))
    raw = bytearray(npy.read_bytes())
    raw[-1] ^= 0xFF
    npy.write_bytes(bytes(raw))


def gt_cache_truncate_index(ctx: Ctx) -> None:
    pred = ctx.pred(ctx.base / "runs")
    subprocess.run(
        score(ctx, pred, "--gt-cache", str(ctx.case / "gtc"), "--allow-incomplete"), capture_output=True
    )
    index = next((ctx.case / "gtc").rglob("index.json"))
    index.write_text(index.read_text()[:10])


def corrupt_results_cache(text: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        runs = ctx.copy_runs()
        subprocess.run(metrics(ctx, runs=runs, out=ctx.out) + ["--scorers", "unified"], capture_output=True)
        for f in (ctx.out / "cache").rglob("*.json"):
            f.write_text(text)

    return setup


def fifo(path_of: Callable[[Ctx], Path]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.copy_data()
        p = path_of(ctx)
        p.unlink()
        os.mkfifo(p)

    return setup


def data_json(change: Callable[[dict], None], seq: str = "e_6") -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        edit_json(ctx.seq(ctx.copy_data(), seq) / "flame_params.json", change)

    return setup


def frame(k: int, **values: object) -> Callable[[dict], None]:
    return lambda d: d["frames"][k].update(values)


def empty_masks(ctx: Ctx) -> None:
    import cv2
    import numpy as np

    for p in (ctx.seq(ctx.copy_data()) / "mask").glob("*.png"):
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(p), np.zeros_like(img))


def broken_grid_frames(ctx: Ctx) -> None:
    """Corrupt every prediction of one method: the report's image grid must show failure tiles."""
    runs = ctx.copy_runs()
    for png in (runs / "linear-expression").rglob("*.png"):
        png.write_bytes(b"\x89PNG\r\n\x1a\n broken")


def failed_ledger(ctx: Ctx) -> None:
    run = ctx.copy_run()
    rec = next((run / "ledger").rglob("train.json"))
    edit_json(rec, lambda d: d.update(state="failed", reason="CUDA out of memory at epoch 3"))


def corrupt_run_file(rel: str, text: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        run = ctx.copy_run()
        target = next((run / "ledger").rglob("train.json")) if rel == "ledger" else run / rel
        target.write_text(text)

    return setup


def plugin(code: str) -> Callable[[Ctx], None]:
    return lambda ctx: write(ctx.inp / "plugmod.py", code)


def missing_frame_method(ctx: Ctx) -> None:
    runs = ctx.copy_runs()
    (ctx.pred(runs, "linear-expression") / "1.png").unlink()
    (ctx.pred(runs, "linear-expression", "speech", "s_4") / "2.png").unlink()


def report_not_best(r: Result, ctx: Ctx) -> bool:
    """No report.md row of linear-expression whose frames cell shows failed frames (n/m, n < m) has a bold cell."""
    md = (ctx.out / "report.md").read_text()
    incomplete = []
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "linear-expression" in cells and "/" in cells[-1]:
            n, m = cells[-1].split("/")
            if n.isdigit() and m.isdigit() and int(n) < int(m):
                incomplete.append(line)
    return r.rc == 1 and len(incomplete) >= 3 and not any("**" in row for row in incomplete)


def file_exists(rel: str, *phrases: str, rc: int = 1) -> Callable[[Result, Ctx], bool]:
    def check(r: Result, ctx: Ctx) -> bool:
        p = ctx.out / rel
        return r.rc == rc and p.is_file() and all(x in p.read_text() for x in phrases)

    return check


def psnr_capped(r: Result, ctx: Ctx) -> bool:
    summary = json.loads((ctx.out / "summary.json").read_text())
    rows = [
        e
        for e in summary["entries"]
        if e["method"] == "copy" and e["scorer"] == "unified" and e["level"] == "protocol"
    ]
    return r.rc == 0 and bool(rows) and all(e["metrics"]["psnr"] == 160.0 for e in rows)


def single_psnr_capped(r: Result, ctx: Ctx) -> bool:
    rec = json.loads((ctx.out / "o.json").read_text())
    return r.rc == 0 and all(v["psnr"] == 160.0 for v in rec["frames"].values())


def one_row_each(r: Result, ctx: Ctx) -> bool:
    summary = json.loads((ctx.out / "summary.json").read_text())
    keys = [(e["method"], e["protocol"], e["scorer"]) for e in summary["entries"] if e["level"] == "protocol"]
    return r.rc == 0 and len(keys) == len(set(keys)) and len(keys) > 0


def esc(depth: int = 8) -> str:
    return "../" * depth + f"tmp/{ESCAPE}"


CASES: list[Case] = [
    # 1. names are paths
    Case(
        "1 names",
        "metrics --methods with ../ traversal",
        "refused: not a valid name",
        lambda c: metrics(c, "--methods", esc()),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --methods a/b",
        "refused: not a valid name",
        lambda c: metrics(c, "--methods", "mean-image/../../x"),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --methods .hidden",
        "refused: not a valid name",
        lambda c: metrics(c, "--methods", ".hidden"),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --methods with a tab",
        "refused: not a valid name",
        lambda c: metrics(c, "--methods", "a\tb"),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --protocol ../x",
        "refused",
        lambda c: metrics(c, "--protocol", esc()),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --subjects ../x",
        "refused",
        lambda c: metrics(c, "--subjects", esc()),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "metrics --scorers ../x",
        "refused",
        lambda c: metrics(c, "--scorers", esc()),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "run --methods ../x",
        "refused before any folder is made",
        lambda c: nb("run", "--benchmark", BENCH, "--methods", esc(), "--out", str(c.out / "r")),
        lambda r, c: says("not a valid name")(r, c) and not (c.out / "r").exists(),
    ),
    Case(
        "1 names",
        "run --protocols ../x",
        "refused",
        lambda c: nb(
            "run",
            "--benchmark",
            BENCH,
            "--methods",
            "mean-image",
            "--protocols",
            esc(),
            "--out",
            str(c.out / "r"),
        ),
        says("not a valid name"),
    ),
    Case(
        "1 names",
        "runs folder holds a method folder 'my method'",
        "refused, names the folder and the fix",
        lambda c: metrics(c, runs=c.inp / "runs"),
        says("not a valid name", "rename the folder"),
        setup=lambda c: (c.copy_runs() / "mean-image").rename(c.inp / "runs" / "my method"),
    ),
    Case(
        "1 names",
        "benchmark conf: name = ../../x",
        "refused: names the conf",
        score_evil_conf,
        says("benchmark name", "not a valid name", "evil.conf"),
        setup=lambda c: conf_with(c, f'name = "{esc()}"'),
    ),
    Case(
        "1 names",
        "benchmark conf: test-set key ../t",
        "refused",
        score_evil_conf,
        says("test set", "not a valid name"),
        setup=lambda c: conf_with(c, 'testsets { "../t" = ["9001"] }'),
    ),
    Case(
        "1 names",
        "benchmark conf: protocol named a/b",
        "refused",
        score_evil_conf,
        says("protocol", "not a valid name"),
        setup=lambda c: conf_with(c, 'protocols { "a/b" { train = ["e_0"], splits { x = ["e_1"] } } }'),
    ),
    Case(
        "1 names",
        "benchmark conf: split named ..",
        "refused",
        score_evil_conf,
        says("split", "not a valid name"),
        setup=lambda c: conf_with(c, 'protocols { p { train = ["e_0"], splits { ".." = ["e_1"] } } }'),
    ),
    Case(
        "1 names",
        "benchmark conf: methods = [../m]",
        "refused",
        score_evil_conf,
        says("method", "not a valid name"),
        setup=lambda c: conf_with(c, f'methods = ["{esc()}"]'),
    ),
    Case(
        "1 names",
        "plugin MethodSpec named ../evil",
        "refused, names the plugin",
        lambda c: nb("methods"),
        says("NESBENCH_METHODS", "not a valid name"),
        setup=plugin(
            "from nesbench.methods.spec import MethodSpec\nSPEC = MethodSpec(name='../evil', description='d', target='plugmod:X')\n"
        ),
        env={"NESBENCH_METHODS": "evil=plugmod:SPEC"},
    ),
    Case(
        "1 names",
        "synth subject --subject ../x",
        "refused",
        lambda c: nb("synth", "subject", str(c.out / "d"), "--subject", esc()),
        says("--subject"),
    ),
    Case(
        "1 names",
        "train.sh --method ../x",
        "refused: unknown upstream method",
        lambda c: ["bash", str(REPO / "train.sh"), "--method", esc(), "--protocol", "expression"],
        says("unknown upstream method"),
    ),
    # 2. strict JSON, exact-match PSNR
    Case(
        "2 json",
        "benchmark mode, predictions equal to the GT",
        "exit 0; summary.json strict; unified PSNR 160",
        lambda c: metrics(c, "--methods", "copy", "--scorers", "unified", runs=c.inp / "runs"),
        psnr_capped,
        setup=copy_gt_as_predictions,
    ),
    Case(
        "2 json",
        "score --json of an exact match",
        "exit 0; PSNR 160 per frame; strict JSON",
        lambda c: score(c, c.seq(c.data) / "image", "--json", str(c.out / "o.json")),
        single_psnr_capped,
    ),
    Case(
        "2 json",
        "score --json, a frame with an empty mask",
        "frame failed (non-finite); strict JSON; exit 1",
        lambda c: score(c, c.seq(c.data) / "image", "--json", str(c.out / "o.json"), data=c.inp / "data"),
        lambda r, c: says("non-finite")(r, c) and (c.out / "o.json").is_file(),
        setup=lambda c: __import__("cv2").imwrite(
            str(c.seq(c.copy_data()) / "mask" / "1.png"), __import__("numpy").zeros((64, 64, 3), "uint8")
        ),
    ),
    Case(
        "2 json",
        "data check --json with NaN in flame_params",
        "exit 1; strict JSON on stdout naming the NaN",
        lambda c: nb("data", "check", str(c.inp / "data"), "--json"),
        says("json-nonfinite"),
        setup=lambda c: write(
            c.seq(c.copy_data()) / "flame_params.json",
            (c.seq(c.data) / "flame_params.json")
            .read_text()
            .replace('"shape_params": [', '"shape_params": [NaN, ', 1),
        ),
        stdout_json=True,
    ),
    Case(
        "2 json",
        "jobs status --json",
        "exit 0; strict JSON",
        lambda c: nb("jobs", "status", str(c.base), "--json"),
        ok_and("prepare"),
        stdout_json=True,
    ),
    Case(
        "2 json",
        "benchmark show --json",
        "exit 0; strict JSON",
        lambda c: nb("benchmark", "show", BENCH, "--json"),
        ok_and("synthetic_tiny"),
        stdout_json=True,
    ),
    # 3. exit codes and names of frames
    Case(
        "3 frames",
        "score with one corrupt frame",
        "exit 1: 1 of N frames failed; --allow-incomplete named",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("1 of 4 expected frames failed", "--allow-incomplete"),
        setup=lambda c: write(c.pred(c.copy_runs()) / "2.png", b"garbage"),
    ),
    Case(
        "3 frames",
        "score with one corrupt frame, --allow-incomplete",
        "exit 0 with a warning",
        lambda c: score(c, c.pred(c.inp / "runs"), "--allow-incomplete"),
        ok_and("accepted: --allow-incomplete"),
        setup=lambda c: write(c.pred(c.copy_runs()) / "2.png", b"garbage"),
    ),
    Case(
        "3 frames",
        "predictions zero-padded (0001.png)",
        "each frame failed naming 0001.png; exit 1",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("found 0001.png"),
        setup=lambda c: rename_preds(c, lambda k: f"{k:04d}.png"),
    ),
    Case(
        "3 frames",
        "predictions 0-based (0.png..3.png)",
        "sequence refused: frames look 0-based",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("look 0-based"),
        setup=zero_based,
    ),
    Case(
        "3 frames",
        "predictions as .jpg",
        "each frame failed naming 1.jpg",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("found 1.jpg"),
        setup=lambda c: rename_preds(c, lambda k: f"{k}.jpg"),
    ),
    Case(
        "3 frames",
        "an extra frame 99.png",
        "sequence refused naming 99.png",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("99.png"),
        setup=lambda c: shutil.copy(c.pred(c.copy_runs()) / "1.png", c.pred(c.inp / "runs") / "99.png"),
    ),
    Case(
        "3 frames",
        "benchmark mode with missing frames",
        "tables written; exit 1 naming the count",
        lambda c: metrics(c, runs=c.inp / "runs"),
        says("expected frames failed"),
        setup=missing_frame_method,
    ),
    # 4. caches
    Case(
        "4 caches",
        "prediction rewritten with the same size and mtime",
        "re-scored (content key): the corrupt frame fails",
        lambda c: metrics(c, "--scorers", "unified", runs=c.inp / "runs"),
        says("1 of"),
        setup=same_size_same_mtime_rewrite,
    ),
    Case(
        "4 caches",
        "GT cache entry with one flipped byte",
        "rebuilt with a note; exit as without cache",
        lambda c: score(c, c.pred(c.base / "runs"), "--gt-cache", str(c.case / "gtc"), "--allow-incomplete"),
        ok_and("checksum", "rebuilt"),
        setup=gt_cache_flip,
    ),
    Case(
        "4 caches",
        "GT cache index.json truncated",
        "rebuilt with a note",
        lambda c: score(c, c.pred(c.base / "runs"), "--gt-cache", str(c.case / "gtc"), "--allow-incomplete"),
        ok_and("rebuilt"),
        setup=gt_cache_truncate_index,
    ),
    Case(
        "4 caches",
        "results cache files replaced by garbage",
        "re-scored silently, exit 0",
        lambda c: metrics(c, "--scorers", "unified", runs=c.inp / "runs"),
        ok_and("wrote"),
        setup=corrupt_results_cache("garbage"),
    ),
    Case(
        "4 caches",
        "results cache files holding NaN",
        "re-scored (strict read), exit 0",
        lambda c: metrics(c, "--scorers", "unified", runs=c.inp / "runs"),
        ok_and("wrote"),
        setup=corrupt_results_cache('{"key": NaN}'),
    ),
    Case(
        "4 caches",
        "--gt-cache is a file",
        "one line naming it",
        lambda c: score(c, c.pred(c.base / "runs"), "--gt-cache", str(c.inp / "f")),
        says("cannot write the GT cache"),
        setup=lambda c: write(c.inp / "f", "x"),
    ),
    # 5. duplicates
    Case(
        "5 dups",
        "--methods mean-image,mean-image --scorers unified,unified --protocol speech,speech",
        "each scored once",
        lambda c: metrics(
            c,
            "--methods",
            "mean-image,mean-image",
            "--scorers",
            "unified,unified",
            "--protocol",
            "speech,speech",
        ),
        one_row_each,
    ),
    Case(
        "5 dups",
        "--subjects 9001,testset1,9001",
        "subject scored once",
        lambda c: metrics(
            c, "--methods", "mean-image", "--subjects", "9001,testset1,9001", "--scorers", "unified"
        ),
        one_row_each,
    ),
    # 6. validator gaps
    Case(
        "6 data",
        "file_path ../e_0/image/1",
        "error json-file-path-outside",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("points outside its sequence folder"),
        setup=data_json(frame(0, file_path="../e_0/image/1")),
    ),
    Case(
        "6 data",
        "file_path /etc/passwd",
        "error json-file-path-outside",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("points outside its sequence folder"),
        setup=data_json(frame(0, file_path="/etc/passwd")),
    ),
    Case(
        "6 data",
        "expression as numeric strings",
        "error naming the string",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("not a JSON number"),
        setup=data_json(frame(1, expression=["0.5"] * 50)),
    ),
    Case(
        "6 data",
        "pose of booleans",
        "error naming the boolean",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("holds a boolean"),
        setup=data_json(frame(1, pose=[True] * 15)),
    ),
    Case(
        "6 data",
        "expression null",
        "error: is null",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("'expression' is null"),
        setup=data_json(frame(2, expression=None)),
    ),
    Case(
        "6 data",
        "shape_params null",
        "error: is null",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("'shape_params' is null"),
        setup=data_json(lambda d: d.update(shape_params=None)),
    ),
    Case(
        "6 data",
        "image/1.png is a FIFO",
        "refused without opening (no hang)",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("not a regular file"),
        setup=fifo(lambda c: c.seq(c.inp / "data") / "image" / "1.png"),
    ),
    Case(
        "6 data",
        "flame_params.json is a FIFO",
        "refused without opening (no hang)",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("not a regular file"),
        setup=fifo(lambda c: c.seq(c.inp / "data") / "flame_params.json"),
    ),
    Case(
        "6 data",
        "a prediction that is a FIFO",
        "frame failed: not a regular file (no hang)",
        lambda c: score(c, c.pred(c.inp / "runs")),
        says("not a regular file"),
        setup=lambda c: (
            (c.pred(c.copy_runs()) / "3.png").unlink() or os.mkfifo(c.pred(c.inp / "runs") / "3.png")
        ),
    ),
    Case(
        "6 data",
        "mask/2.png is a symlink to /dev/zero",
        "refused without reading",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("not a regular file"),
        setup=lambda c: (
            (c.seq(c.copy_data()) / "mask" / "2.png").unlink()
            or os.symlink("/dev/zero", c.seq(c.inp / "data") / "mask" / "2.png")
        ),
    ),
    Case(
        "6 data",
        "every mask of a sequence empty",
        "error mask-empty",
        lambda c: nb("data", "check", str(c.inp / "data")),
        says("masks of this sequence are empty"),
        setup=empty_masks,
    ),
    # 7. report whatever happened
    Case(
        "7 report",
        "every prediction of one method corrupt",
        "report.html written with failure tiles; exit 1",
        lambda c: metrics(c, runs=c.inp / "runs"),
        file_exists("report.html", "FAILED", "cannot decode"),
        setup=broken_grid_frames,
    ),
    Case(
        "7 report",
        "a method with missing frames",
        "never bold (best) in report.md",
        lambda c: metrics(c, runs=c.inp / "runs"),
        report_not_best,
        setup=missing_frame_method,
    ),
    Case(
        "7 report",
        "nesbench report on a run with a failed job",
        "Failed jobs section with the reason",
        lambda c: nb("report", str(c.out / "run")),
        lambda r, c: r.rc == 0 and "CUDA out of memory" in (c.out / "run" / "report.html").read_text(),
        setup=failed_ledger,
    ),
    # 8. one line, never a traceback
    Case(
        "8 one line",
        "--out is an existing file",
        "one line: a file where a folder is expected",
        lambda c: metrics(c, out=c.inp / "f" / "o"),
        says("folder is expected"),
        setup=lambda c: write(c.inp / "f", "x"),
    ),
    Case(
        "8 one line",
        "--out under /proc",
        "one line naming the path",
        lambda c: metrics(c, out=Path("/proc/nesbench-probe/o")),
        says("/proc/nesbench-probe"),
    ),
    Case(
        "8 one line",
        "score --json into a folder path",
        "one line",
        lambda c: score(c, c.seq(c.data) / "image", "--json", str(c.out)),
        says(str(Path("out"))),
    ),
    Case(
        "8 one line",
        "--runs is a file",
        "one line",
        lambda c: metrics(c, runs=c.inp / "f"),
        says("runs folder not found"),
        setup=lambda c: write(c.inp / "f", "x"),
    ),
    Case(
        "8 one line",
        "--data does not exist",
        "one line",
        lambda c: metrics(c, "--data", str(c.inp / "nope")),
        says("nope"),
    ),
    Case(
        "8 one line",
        "score --resolution 0",
        "argparse: range 32..8192, exit 2",
        lambda c: score(c, c.seq(c.data) / "image", "--resolution", "0"),
        says("32..8192", rc=2),
    ),
    Case(
        "8 one line",
        "score --resolution abc",
        "argparse, exit 2",
        lambda c: score(c, c.seq(c.data) / "image", "--resolution", "abc"),
        says("not an integer", rc=2),
    ),
    Case(
        "8 one line",
        "score --resolution 16 (below LPIPS' minimum)",
        "argparse, exit 2",
        lambda c: score(c, c.seq(c.data) / "image", "--resolution", "16"),
        says("32..8192", rc=2),
    ),
    Case(
        "8 one line",
        "--batch-size 0",
        "argparse, exit 2",
        lambda c: metrics(c, "--batch-size", "0"),
        says("1..4096", rc=2),
    ),
    Case(
        "8 one line",
        "--decode-processes -1",
        "argparse, exit 2",
        lambda c: metrics(c, "--decode-processes", "-1"),
        says("0..1024", rc=2),
    ),
    Case(
        "8 one line",
        "run --max-parallel 0",
        "argparse, exit 2",
        lambda c: nb("run", "--max-parallel", "0", "--out", str(c.out / "r")),
        says("1..1024", rc=2),
    ),
    Case(
        "8 one line",
        "run --epochs 0",
        "argparse, exit 2",
        lambda c: nb("run", "--epochs", "0", "--out", str(c.out / "r")),
        says("1..1000000", rc=2),
    ),
    Case(
        "8 one line",
        "train.sh --epochs abc",
        "same bound as nesbench run, exit 2",
        lambda c: [
            "bash",
            str(REPO / "train.sh"),
            "--method",
            "pointavatar",
            "--protocol",
            "expression",
            "--epochs",
            "abc",
        ],
        says("1..1000000", rc=2),
    ),
    Case(
        "8 one line",
        "eval.sh --checkpoint -1",
        "argparse, exit 2",
        lambda c: [
            "bash",
            str(REPO / "eval.sh"),
            "--method",
            "pointavatar",
            "--protocol",
            "expression",
            "--checkpoint",
            "-1",
        ],
        says("0..1000000", rc=2),
    ),
    Case(
        "8 one line",
        "data check --workers 0",
        "argparse, exit 2",
        lambda c: nb("data", "check", str(c.data), "--workers", "0"),
        says("1..1024", rc=2),
    ),
    Case(
        "8 one line",
        "--device gpu",
        "one line listing the devices",
        lambda c: metrics(c, "--device", "gpu"),
        says("--device"),
    ),
    Case(
        "8 one line",
        "--device cuda:7 on a CPU host",
        "one line",
        lambda c: metrics(c, "--device", "cuda:7"),
        says("--device cuda:7"),
    ),
    Case(
        "8 one line",
        "run --device tpu",
        "refused before training",
        lambda c: nb("run", "--benchmark", BENCH, "--device", "tpu", "--out", str(c.out / "r")),
        lambda r, c: says("--device")(r, c) and not (c.out / "r").exists(),
    ),
    Case(
        "8 one line",
        "plan.json truncated",
        "one line naming plan.json and the fix",
        lambda c: nb("jobs", "status", str(c.out / "run")),
        says("corrupt plan", "plan.json"),
        setup=corrupt_run_file("plan.json", '{"bench'),
    ),
    Case(
        "8 one line",
        "a ledger record of garbage",
        "one line naming the record",
        lambda c: nb("jobs", "status", str(c.out / "run")),
        says("corrupt ledger record"),
        setup=corrupt_run_file("ledger", "garbage"),
    ),
    Case(
        "8 one line",
        "summary.json with Infinity",
        "one line naming summary.json",
        lambda c: nb("report", str(c.out / "run")),
        says("corrupt summary"),
        setup=corrupt_run_file("summary.json", '{"x": Infinity}'),
    ),
    Case(
        "8 one line",
        "summary.json a list",
        "one line",
        lambda c: nb("report", str(c.out / "run")),
        says("not a NES-Bench summary"),
        setup=corrupt_run_file("summary.json", "[]"),
    ),
    Case(
        "8 one line",
        "plugin raising at import, not selected",
        "warning; the command works",
        lambda c: nb("methods"),
        ok_and("plugin 'boom' skipped", "mean-image"),
        setup=plugin("raise RuntimeError('broken at import')\n"),
        env={"NESBENCH_METHODS": "boom=plugmod:SPEC"},
    ),
    Case(
        "8 one line",
        "plugin raising at import, selected",
        "one line with its error",
        lambda c: nb("run", "--benchmark", BENCH, "--methods", "boom", "--out", str(c.out / "r")),
        says("RuntimeError: broken at import"),
        setup=plugin("raise RuntimeError('broken at import')\n"),
        env={"NESBENCH_METHODS": "boom=plugmod:SPEC"},
    ),
    Case(
        "8 one line",
        "plugin raising SystemExit-free ZeroDivisionError at import",
        "skipped with a warning",
        lambda c: nb("methods"),
        ok_and("ZeroDivisionError"),
        setup=plugin("1 / 0\n"),
        env={"NESBENCH_METHODS": "zero=plugmod:SPEC"},
    ),
    Case(
        "8 one line",
        "benchmark-mode scoring while another holds the lock on --out",
        "refused: another run is writing",
        lambda c: metrics(c),
        says("another `nesbench run` or scoring is writing this folder"),
        lock_out=True,
    ),
    Case(
        "8 one line",
        "benchmark conf that is not HOCON",
        "one line naming the conf",
        lambda c: cm(
            "--benchmark", str(c.inp / "x.conf"), "--runs", str(c.base / "runs"), "--out", str(c.out)
        ),
        says("cannot parse HOCON"),
        setup=lambda c: write(c.inp / "x.conf", "testsets { = "),
    ),
    Case(
        "8 one line",
        "benchmark conf resolution 8",
        "one line: resolution out of range",
        score_evil_conf,
        says("outside 32..8192"),
        setup=lambda c: conf_with(c, "resolution = 8"),
    ),
    Case(
        "8 one line",
        "metrics --bootstrap-resamples 5 (stats option, issue 19)",
        "argparse, exit 2",
        lambda c: metrics(c, "--bootstrap-resamples", "5"),
        says("100..1000000", rc=2),
    ),
    Case(
        "8 one line",
        "run --seeds 0",
        "argparse, exit 2",
        lambda c: nb("run", "--seeds", "0", "--out", str(c.out / "r")),
        says("1..1000", rc=2),
    ),
]


def snapshot(root: Path, allowed: list[Path]) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if any(d == a or d.is_relative_to(a) for a in allowed):
            dirnames[:] = []
            continue
        for name in filenames + [x for x in dirnames if (d / x).is_symlink()]:
            p = d / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def strict_json(text: str) -> str | None:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not strict JSON")

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        return str(exc)
    return None


def json_state(roots: list[Path]) -> dict[Path, tuple[int, int]]:
    out = {}
    for root in roots:
        if root.exists():
            for p in root.rglob("*.json"):
                if p.is_file():
                    st = p.stat()
                    out[p] = (st.st_size, st.st_mtime_ns)
    return out


def written_json(roots: list[Path], before: dict[Path, tuple[int, int]]) -> list[str]:
    """Strict-parse errors of the JSON files the command created or changed under ``roots``."""
    bad = []
    for p, state in json_state(roots).items():
        if before.get(p) != state:
            why = strict_json(p.read_text(errors="replace"))
            if why:
                bad.append(f"{p}: {why}")
    return bad


def run_case(i: int, case: Case, sandbox: Path, base: Path, data: Path) -> dict:
    ctx = Ctx(sandbox, base, data, sandbox / "cases" / f"{i:02d}")
    ctx.inp.mkdir(parents=True, exist_ok=True)
    ctx.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NESBENCH_CACHE": str(sandbox / "cache"), "PYTHONPATH": str(ctx.inp), **case.env}
    env.pop("NESBENCH_GT_CACHE", None)
    if case.setup:
        case.setup(ctx)
    allowed = [ctx.out, sandbox / "cache", ctx.case / "gtc"]
    before = snapshot(sandbox, allowed)
    json_before = json_state(allowed)
    argv = case.argv(ctx)
    lock = None
    if case.lock_out:
        lock = open(ctx.out / ".nesbench-run.lock", "a+")  # noqa: SIM115
        fcntl.flock(lock, fcntl.LOCK_EX)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ctx.case, timeout=300)
        res = Result(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)
    except subprocess.TimeoutExpired:
        res = Result(-9, "", "HANG (timeout 300 s)", 300.0)
    finally:
        if lock:
            lock.close()
    after = snapshot(sandbox, allowed)
    outside = sorted(p for p, v in after.items() if before.get(p) != v)
    outside += [str(p) for p in Path("/tmp").glob(f"{ESCAPE}*")] + [
        str(p) for p in sandbox.rglob(f"{ESCAPE}*")
    ]
    bad_json = written_json(allowed, json_before)
    if case.stdout_json:
        why = strict_json(res.out)
        if why:
            bad_json.append(f"stdout: {why}")
    traceback = "Traceback" in res.out + res.err
    errors = [x for x in res.err.splitlines() if x.startswith("error:") or ": error:" in x]
    # `data check` answers with its report (one line per problem on stdout, exit 1), not with an error line
    one_line = res.rc == 0 or len(errors) == 1 or (argv[3:5] == ["data", "check"] and not errors)
    try:
        expected = case.check(res, ctx)
    except Exception as exc:  # a check that cannot even read its file is a failed case
        expected = False
        res.err += f"\n[check raised {type(exc).__name__}: {exc}]"
    passed = expected and not traceback and not outside and not bad_json and one_line
    shown = error_line(res) or next((x for x in res.err.splitlines() if x.startswith("warning")), "")
    if not shown:
        shown = (res.out.strip().splitlines() or [""])[-1]
    return {
        "id": i,
        "class": case.cls,
        "case": case.name,
        "expected": case.expect,
        "rc": res.rc,
        "observed": shown[:220],
        "traceback": traceback,
        "outside_writes": outside[:3],
        "invalid_json": bad_json[:3],
        "one_line": one_line,
        "expectation_met": expected,
        "passed": passed,
        "seconds": round(res.seconds, 1),
    }


def markdown(rows: list[dict]) -> str:
    head = "| # | class | case | expected | exit | observed | pass |\n|---|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        obs = r["observed"].replace("|", "\\|").replace("\n", " ")
        notes = []
        if r["traceback"]:
            notes.append("TRACEBACK")
        if r["outside_writes"]:
            notes.append(f"WROTE OUTSIDE {r['outside_writes']}")
        if r["invalid_json"]:
            notes.append(f"INVALID JSON {r['invalid_json']}")
        if not r["one_line"]:
            notes.append("MORE THAN ONE ERROR LINE")
        mark = "yes" if r["passed"] else "**NO** " + "; ".join(notes)
        lines.append(
            f"| {r['id']} | {r['class']} | {r['case'].replace('|', '/')} | {r['expected']} | {r['rc']} | `{obs}` | {mark} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", type=Path, help="write the result table here")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    ap.add_argument("--keep", action="store_true", help="keep the sandbox (printed)")
    ap.add_argument("--only", help="run the cases whose name contains this")
    args = ap.parse_args()
    sandbox = Path(tempfile.mkdtemp(prefix="nesbench-adversarial-"))
    try:
        env = {**os.environ, "NESBENCH_CACHE": str(sandbox / "cache")}
        print(f"sandbox {sandbox}; base run of {BENCH} ...", file=sys.stderr)
        base = sandbox / "base"
        subprocess.run(
            nb("run", "--benchmark", BENCH, "--out", str(base)), env=env, check=True, capture_output=True
        )
        data = sandbox / "cache" / "synthetic" / BENCH
        rows = []
        for i, case in enumerate(CASES, start=1):
            if args.only and args.only not in case.name:
                continue
            row = run_case(i, case, sandbox, base, data)
            rows.append(row)
            status = "ok  " if row["passed"] else "FAIL"
            print(
                f"{status} {i:2d} [{case.cls}] {case.name}: rc={row['rc']} {row['observed'][:150]}",
                file=sys.stderr,
            )
        failed = [r for r in rows if not r["passed"]]
        summary = (
            f"{len(rows)} cases, {len(rows) - len(failed)} passed, {len(failed)} failed; tracebacks: "
            f"{sum(r['traceback'] for r in rows)}, writes outside the output folders: "
            f"{sum(bool(r['outside_writes']) for r in rows)}, invalid JSON: {sum(bool(r['invalid_json']) for r in rows)}"
        )
        print(summary, file=sys.stderr)
        if args.markdown:
            args.markdown.write_text(markdown(rows) + "\n" + summary + "\n")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"kept {sandbox}", file=sys.stderr)
        else:
            shutil.rmtree(sandbox, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
