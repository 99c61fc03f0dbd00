"""nesbench.openmp_wait: OMP_WAIT_POLICY=PASSIVE for the nesbench commands, unless the environment says otherwise
or torch was imported first (libgomp reads it once, when torch is imported)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nesbench.openmp_wait import OPT_OUT, SET_BY_US, VARIABLE, without_our_wait_policy

PROBE = (
    "import os, sys\n"
    "{pre}"
    "from nesbench.openmp_wait import prefer_passive_wait\n"
    "print(prefer_passive_wait()); print(os.environ.get('OMP_WAIT_POLICY', '<unset>'))\n"
)


def _probe(env_extra: dict[str, str], pre: str = "") -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, OPT_OUT, SET_BY_US)}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(pre=pre)], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@pytest.mark.parametrize(
    ("env", "pre", "said", "value"),
    [
        ({}, "", "PASSIVE (set by nesbench)", "PASSIVE"),
        ({VARIABLE: "ACTIVE"}, "", "ACTIVE (from the environment)", "ACTIVE"),
        ({OPT_OUT: "default"}, "", "libgomp's default", "<unset>"),
        ({}, "import torch\n", "torch was imported before", "<unset>"),
    ],
)
def test_passive_wait_only_when_nothing_says_otherwise(env: dict, pre: str, said: str, value: str) -> None:
    status, policy = _probe(env, pre)
    assert said in status and policy == value


def test_the_nesbench_command_sets_it_before_torch_is_imported() -> None:
    """`nesbench` (cli.main) sets the policy first: a command that imports torch runs with it."""
    code = (
        "import os, sys\n"
        "from nesbench.cli import main\n"
        "try:\n    main(['metrics', 'list'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OMP_WAIT_POLICY', '<unset>'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, OPT_OUT, SET_BY_US)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "PASSIVE"


def test_upstream_runners_get_the_policy_only_when_the_user_set_it(tmp_path, monkeypatch) -> None:
    """nesbench's PASSIVE stays out of the upstream runners (their speed is upstream's); a user's value reaches them."""
    assert without_our_wait_policy({VARIABLE: "PASSIVE", SET_BY_US: "1", "A": "b"}) == {"A": "b"}
    assert without_our_wait_policy({VARIABLE: "ACTIVE", "A": "b"}) == {VARIABLE: "ACTIVE", "A": "b"}

    from nesbench.upstream import jobs

    probe = [
        sys.executable,
        "-c",
        "import os; print('policy=' + os.environ.get('OMP_WAIT_POLICY', '<unset>'))",
    ]
    for env, seen in (
        ({VARIABLE: "PASSIVE", SET_BY_US: "1"}, "policy=<unset>"),
        ({VARIABLE: "ACTIVE"}, "policy=ACTIVE"),
    ):
        monkeypatch.delenv(SET_BY_US, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        log = tmp_path / f"{seen}.log"
        assert jobs._run(probe, tmp_path, log, "probe", None, False, None) == 0
        assert seen in log.read_text()
