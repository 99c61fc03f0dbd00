"""Issue 17 in the pipeline: the report is written whatever happened, corrupt run files are one line naming the
file and the fix, no CLI argument or config value writes outside the output and cache folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nesbench.cli import main
from nesbench.config import load_benchmark
from nesbench.data.layout import frame_files
from nesbench.report.document import leaderboards


@pytest.fixture
def run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns(".nesbench-run.lock"))
    return out


def one_error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_report_is_written_with_failure_tiles_and_no_best_for_incomplete(run_copy, tmp_path, capsys):
    runs = run_copy / "runs"
    broken = "linear-expression"
    for folder in runs.glob(f"{broken}/*/*/*/rgb"):
        for png in frame_files(folder).values():
            png.write_bytes(b"\x89PNG broken")
    out = tmp_path / "scored"
    rc = main(["metrics", "--runs", str(runs), "--out", str(out), "--quiet", "--benchmark", "synthetic_tiny"])
    err = capsys.readouterr().err
    assert rc == 1 and "incomplete results" in one_error_line(err)
    html = (out / "report.html").read_text()
    assert "FAILED" in html and "cannot decode" in html
    summary = json.loads((out / "summary.json").read_text())
    for board in leaderboards(summary, load_benchmark("synthetic_tiny")):
        for i, row in enumerate(board.rows):
            if row[1] == broken:
                assert not any((i, j) in board.bold for j in range(len(row))), board.title


def test_report_lists_failed_jobs_with_their_reason(run_copy, capsys):
    rec = next((run_copy / "ledger").rglob("train.json"))
    data = json.loads(rec.read_text())
    data.update(state="failed", reason="CUDA out of memory at epoch 3")
    rec.write_text(json.dumps(data))
    assert main(["report", str(run_copy)]) == 0
    assert "CUDA out of memory at epoch 3" in (run_copy / "report.html").read_text()
    assert "## Failed jobs (1)" in (run_copy / "report.md").read_text()


@pytest.mark.parametrize(
    ("rel", "content", "argv", "said"),
    [
        ("summary.json", '{"entries": [', ["report"], "corrupt summary"),
        ("summary.json", '{"entries": [], "metrics": {}, "x": NaN}', ["report"], "corrupt summary"),
        ("summary.json", "[1, 2]", ["report"], "not a NES-Bench summary"),
        ("plan.json", "{", ["jobs", "status"], "corrupt plan"),
        ("plan.json", '{"benchmark": 3}', ["jobs", "status"], "corrupt plan"),
        ("ledger/x/y/z/train.json", "garbage", ["jobs", "status"], "corrupt ledger record"),
        ("ledger/x/y/z/train.json", '{"job": "x/y/z"}', ["jobs", "status"], "corrupt ledger record"),
    ],
)
def test_corrupt_run_files_are_one_line_naming_the_file(run_copy, capsys, rel, content, argv, said):
    target = run_copy / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    if rel.startswith("ledger/x"):  # make the record one the plan asks for
        job = next(p for p in (run_copy / "ledger").rglob("train.json") if p != target)
        target.unlink()
        shutil.rmtree(run_copy / "ledger" / "x")
        target = job
        target.write_text(content)
    assert main([*argv, str(run_copy)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert said in line and str(target) in line


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--benchmark", "synthetic_tiny", "--methods", "../../escaped"],
        ["run", "--benchmark", "synthetic_tiny", "--methods", "mean-image", "--protocols", "../escaped"],
        ["metrics", "--benchmark", "synthetic_tiny", "--methods", "../../escaped", "--quiet"],
        ["metrics", "--benchmark", "synthetic_tiny", "--protocol", "../../escaped", "--quiet"],
        ["metrics", "--benchmark", "synthetic_tiny", "--subjects", "../../escaped", "--quiet"],
        ["metrics", "--benchmark", "synthetic_tiny", "--scorers", "../../escaped", "--quiet"],
    ],
)
def test_no_argument_writes_outside_the_output_folder(run_copy, tmp_path, capsys, argv):
    sandbox = tmp_path / "sandbox"
    (sandbox / "work").mkdir(parents=True)
    out = sandbox / "work" / "out"
    extra = ["--out", str(out)] + (["--runs", str(run_copy / "runs")] if argv[0] == "metrics" else [])
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(run_copy)}
    assert main([*argv, *extra]) == 1
    one_error_line(capsys.readouterr().err)
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(run_copy)}
    assert {p for p in after - before if not p.is_relative_to(out)} == set()
    assert not list(tmp_path.rglob("escaped"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "../../escaped"), ("testsets", '{ "../t" = ["9001"] }'), ("methods", '["../escaped"]')],
)
def test_no_config_value_is_used_as_a_path(tmp_path, capsys, field, value):
    conf = (Path(load_benchmark("synthetic_tiny").source)).read_text()
    conf = conf.replace(
        'include "../protocols/nes.conf"',
        f'include "{load_benchmark("synthetic_tiny").source.parent.parent}/protocols/nes.conf"',
    )
    conf += f"\n{field} = {value}\n"
    path = tmp_path / "evil.conf"
    path.write_text(conf)
    assert (
        main(["metrics", "--benchmark", str(path), "--runs", str(tmp_path), "--out", str(tmp_path / "o")])
        == 1
    )
    assert "not a valid name" in one_error_line(capsys.readouterr().err)
    assert not list(tmp_path.rglob("escaped")) and not (tmp_path / "o" / "summary.json").exists()


def test_os_errors_device_and_bounds_are_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        main(
            ["metrics", "--benchmark", "synthetic_tiny", "--runs", str(tmp_path), "--out", str(blocker / "o")]
        )
        == 1
    )
    line = one_error_line(capsys.readouterr().err)
    assert str(blocker) in line and "folder is expected" in line
    for device in ("gpu", "cuda:99", "mps"):
        rc = main(["run", "--benchmark", "synthetic_tiny", "--device", device, "--out", str(tmp_path / "r")])
        assert rc == 1 and "--device" in one_error_line(capsys.readouterr().err)
        assert not (tmp_path / "r").exists()
    for argv in (["run", "--max-parallel", "0"], ["run", "--epochs", "-3"], ["metrics", "--batch-size", "x"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and "is 1.." in capsys.readouterr().err


def test_a_plugin_that_raises_at_import_is_skipped_unless_selected(tmp_path, monkeypatch, capsys):
    (tmp_path / "boomplugin.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NESBENCH_METHODS", "boom=boomplugin:SPEC")
    assert main(["methods"]) == 0
    captured = capsys.readouterr()
    assert "mean-image" in captured.out and "plugin 'boom' skipped" in captured.err
    assert "broken at import" in captured.err
    rc = main(["run", "--benchmark", "synthetic_tiny", "--methods", "boom", "--out", str(tmp_path / "r")])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 1 and "RuntimeError: broken at import" in line
