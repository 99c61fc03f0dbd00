"""How the upstream methods' train/eval jobs record themselves in the one job ledger (nesbench.ledger).

Every upstream method (IMavatar, PointAvatar, MonoGaussianAvatar through nesbench.upstream.jobs; NeRFace through
nesbench.upstream.nerface.jobs) keeps its finished train and render as ledger records (stages ``train`` and
``render``) whose ``result`` is what the stage produced (the trained epochs or iterations, conf hash, commit, ...):

- under `nesbench run` the pipeline's stage runner records the stage around the method's step (the step runs with
  ``record=False`` and returns the result); the run's ledger is ``<run>/ledger/``;
- `nesbench upstream train|eval` (train.sh/eval.sh) records each job itself into ``<runs>/.ledger/``.

A job is skipped when its record says it finished with the same inputs; an interrupted one resumes from the
method's own checkpoints. Runs folders written before the ledger hold done-markers (``train.done.json``,
``eval.done.json`` in the job folder): :func:`finished` reads such a marker once, copies it into the ledger and
removes it, so an interrupted older run resumes without redoing finished work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nesbench.ledger import Ledger

# done-markers of runs folders written before the ledger (issue 14), per ledger stage
LEGACY_MARKERS = {"train": "train.done.json", "render": "eval.done.json"}


class HasStatus(Protocol):
    status: str  # done | skipped | failed
    detail: str
    result: dict[str, Any]


R = TypeVar("R", bound=HasStatus)


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def finished(ledger: Ledger, runs: Path, key: str, stage: str) -> dict[str, Any] | None:
    """What the last finished ``stage`` (train | render) of job ``key`` (<run name>/<protocol>/<subject>) produced:
    its ledger record's result, else the done-marker an older runs folder holds in ``<runs>/<key>/`` (copied into the
    ledger, then removed), else None."""
    if (result := ledger.result(key, stage)) is not None:
        return result
    legacy = Path(runs) / key / LEGACY_MARKERS[stage]
    old = _read_marker(legacy)
    if old is None:
        return None
    if ledger.get(key, stage).state != "running":  # a running record is the caller's own attempt
        ledger.adopt(key, stage, old, legacy)
        legacy.unlink(missing_ok=True)
    return old


def recorded(ledger: Ledger | None, key: str, stage: str, attempt: Callable[[], R]) -> R:
    """Run ``attempt()`` as one ledger attempt of (key, stage) when ``ledger`` is given (train.sh/eval.sh): started,
    then done with the attempt's ``result`` or failed with its detail; an exception is recorded as the failure and
    raised again. ``ledger`` None (under `nesbench run`): the pipeline's stage runner records it."""
    if ledger is None:
        return attempt()
    ledger.start(key, stage)
    try:
        res = attempt()
    except (
        BaseException
    ) as exc:  # recorded, then raised as before (a ConfigError is the user's one-line error)
        ledger.finish(
            key, stage, ok=False, reason=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        )
        raise
    failed = res.status == "failed"
    ledger.finish(key, stage, ok=not failed, reason=res.detail if failed else "", result=res.result)
    return res
