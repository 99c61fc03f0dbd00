from __future__ import annotations

import json
import subprocess
import sys

from nesbench.cli import main


def test_benchmark_show_table(capsys):
    assert main(["benchmark", "show", "renderme360_nes"]) == 0
    out = capsys.readouterr().out
    assert "testset3" in out and "0048" in out and "e_6, e_10, e_11" in out and "s_4" in out


def test_benchmark_show_json(capsys):
    assert main(["benchmark", "show", "synthetic", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["testsets"] == {"testset1": ["9001"]}


def test_user_error_is_one_line_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "nesbench", "benchmark", "show", "does-not-exist"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: unknown benchmark 'does-not-exist'")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "benchmark" in capsys.readouterr().out
