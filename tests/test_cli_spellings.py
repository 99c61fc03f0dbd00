"""The coherent CLI and its old spellings (kept as aliases for one release): both parse to the same command."""

from __future__ import annotations

import pytest

from nesbench.cli import build_parser, main


def _parse(argv: list[str]):
    return build_parser().parse_args(argv)


@pytest.mark.parametrize(
    ("new", "old"),
    [
        (
            ["metrics", "benchmark", "--protocols", "speech", "--runs", "r"],
            ["metrics", "--protocol", "speech", "--runs", "r"],
        ),
        (
            ["metrics", "score", "--pred", "p", "--gt", "g", "--scorers", "unified"],
            ["metrics", "score", "--pred", "p", "--gt", "g", "--scorer", "unified"],
        ),
        (["metrics", "fetch-weights", "--force"], ["fetch-weights", "--force"]),
        (
            ["upstream", "confs", "show", "imavatar", "9001", "speech"],
            ["confs", "show", "imavatar", "9001", "speech"],
        ),
        (
            ["upstream", "train", "--methods", "imavatar", "--protocols", "speech"],
            ["upstream", "train", "--method", "imavatar", "--protocol", "speech"],
        ),
    ],
)
def test_old_spelling_parses_to_the_new_command(new, old):
    a, b = vars(_parse(new)), vars(_parse(old))
    assert a["func"] is b["func"]
    same = {"protocols", "scorers", "force", "methods", "method", "subject", "protocol", "runs"}
    keys = same & a.keys() & b.keys()
    assert keys and {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_run_takes_pointavatars_own_options_and_the_old_global_flag(monkeypatch):
    from nesbench.pipeline import run as run_mod

    seen = []
    monkeypatch.setattr(run_mod, "run_pipeline", lambda opts: seen.append(run_mod.method_job_options(opts)))
    base = ["run", "--benchmark", "renderme360_nes", "--methods", "pointavatar"]
    assert (
        main([*base, "--pointavatar.test-time-fitting", "off", "--pointavatar.fitting-scope", "sequence"])
        == 0
    )
    assert main([*base, "--test-time-fitting", "off"]) == 0
    assert seen == [
        {"pointavatar": {"test_time_fitting": False, "fitting_scope": "sequence"}},
        {"pointavatar": {"test_time_fitting": False}},
    ]


def test_upstream_eval_passes_the_methods_own_options(monkeypatch, capsys):
    from nesbench.upstream import jobs

    calls = []

    class FakeJob:
        def __init__(self, method):
            self.pin = type("Pin", (), {"key": method})

    monkeypatch.setattr(jobs, "make_job", lambda method, *a, **k: FakeJob(method))

    def fake_eval(job, **kw):
        calls.append((job.pin.key, kw["test_time_fitting"], kw["fitting_scope"]))
        return jobs.JobResult(job.pin.key, "done", "ok")

    monkeypatch.setattr(jobs, "eval_job", fake_eval)
    base = ["upstream", "eval", "--protocols", "expression", "--subjects", "9001", "--benchmark", "synthetic"]
    assert main([*base, "--methods", "imavatar,pointavatar", "--pointavatar.fitting-scope", "sequence"]) == 0
    assert calls == [("imavatar", None, None), ("pointavatar", None, "sequence")]
    calls.clear()
    assert (
        main([*base, "--method", "pointavatar", "--test-time-fitting", "off", "--fitting-scope", "split"])
        == 0
    )
    assert calls == [("pointavatar", False, "split")]
    assert main([*base, "--methods", "imavatar", "--pointavatar.fitting-scope", "split"]) == 1
    assert "pointavatar is not among --methods" in capsys.readouterr().err
