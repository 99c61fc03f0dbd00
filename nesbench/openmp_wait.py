"""How torch's OpenMP threads wait between parallel regions: passively, for the nesbench commands.

By default libgomp (torch's CPU thread pool on Linux) lets a thread that has finished its share of an operation spin
for a while before it sleeps. Scoring on the CPU runs torch operations in the scoring thread while the decode and
SSIM threads of the same process use the same cores, so spinning threads take the cores those threads need, and on a
shared machine they burn CPU time that other processes need: on 2 shared cores, ``OMP_WAIT_POLICY=PASSIVE`` cut the
CPU time per scored frame by about a third and did not slow the scoring down (docs/PERFORMANCE.md, issue 14). Values
do not change: the policy only decides what an idle thread does, not how work is split.

libgomp reads the variable once, when torch is imported, so the command entry points call
:func:`prefer_passive_wait` before anything imports torch. A value already in the environment is kept;
``NESBENCH_OPENMP_WAIT=default`` leaves libgomp's own default (for measurements). nesbench's own child processes
inherit it; the upstream methods' runners do not (:func:`without_our_wait_policy`): their speed is measured and
compared as upstream runs them.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "OMP_WAIT_POLICY"
OPT_OUT = "NESBENCH_OPENMP_WAIT"
SET_BY_US = "NESBENCH_OPENMP_WAIT_SET"  # marks a policy nesbench set (not the user)


def prefer_passive_wait() -> str:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set or torch is already imported; return what is in effect."""
    if VARIABLE in os.environ:
        return f"{os.environ[VARIABLE]} (from the environment)"
    if os.environ.get(OPT_OUT, "").lower() == "default":
        return f"libgomp's default ({OPT_OUT}=default)"
    if "torch" in sys.modules:
        return "libgomp's default (torch was imported before nesbench could set it)"
    os.environ[VARIABLE] = "PASSIVE"
    os.environ[SET_BY_US] = "1"
    return "PASSIVE (set by nesbench)"


def without_our_wait_policy(env: dict[str, str]) -> dict[str, str]:
    """``env`` for an upstream runner: the wait policy removed when nesbench set it (a user's own value is kept)."""
    env = dict(env)
    if env.pop(SET_BY_US, None) == "1":
        env.pop(VARIABLE, None)
    return env
