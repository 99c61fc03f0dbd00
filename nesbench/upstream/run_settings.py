"""The settings each scored run recorded in its method_info.json that decide whether it is the benchmark's run:
where its conf came from, the IMavatar flame-distance step filter, test-time fitting, data warnings (issue 15 items
1, 6, 7). They go into the results' provenance (``provenance.runs``) and the report's "Run settings" table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nesbench.fsutil import read_json_strict

INFO = "method_info.json"
KEYS = (
    "confs",
    "flame_distance_filter",
    "test_time_fitting",
    "test_time_fitting_scope",
    "data_warnings",
    "strict",
    "speed",
)


def describe_speed(value: Any) -> str:
    """TF32 of training and rendering from a run's ``speed`` record (nesbench.upstream.speed), one phrase."""
    if not isinstance(value, dict):
        return "not recorded"

    def one(part: Any) -> str:
        return str(part.get("tf32", "?")) if isinstance(part, dict) else "not recorded"

    train, render = one(value.get("train")), one(value.get("eval"))
    return train if train == render else f"train {train}, render {render}"


def describe_filter(value: Any) -> str:
    """One word or phrase for a run's flame-distance filter record (see jobs.flame_distance_filter)."""
    if value is None:
        return "none (no such filter)"
    if not isinstance(value, dict):
        return "unknown"
    if not value.get("on"):
        return "off"
    text = f"on (> {value.get('threshold'):g})"
    if "skipped_steps" in value:
        text += f", {value['skipped_steps']} steps skipped"
    return text


def run_settings(runs: Path, methods: list[str], protocols: list[str]) -> dict[str, dict[str, Any]]:
    """{method: {"<protocol>/<subject>": {key: value}}} for every job folder with a method_info.json that records any
    of KEYS; an unreadable method_info.json is recorded as {"error": why} (never skipped silently)."""
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        jobs: dict[str, Any] = {}
        for protocol in protocols:
            for path in sorted((Path(runs) / method / protocol).glob(f"*/{INFO}")):
                key = f"{protocol}/{path.parent.name}"
                try:
                    info = read_json_strict(path)
                except (OSError, ValueError) as exc:
                    jobs[key] = {"error": f"{path}: unreadable ({exc})"}
                    continue
                if isinstance(info, dict) and (found := {k: info[k] for k in KEYS if k in info}):
                    jobs[key] = found
        if jobs:
            out[method] = jobs
    return out


def settings_rows(runs: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One row per (method, protocol) for the report: jobs, confs, flame-distance filter, test-time fitting, data
    warnings, TF32; a column with several values across the jobs lists each with its job count."""
    rows = []
    for method, jobs in sorted(runs.items()):
        for protocol in sorted({k.split("/", 1)[0] for k in jobs}):
            mine = [v for k, v in jobs.items() if k.split("/", 1)[0] == protocol]

            def column(fn: Any, mine: list[dict[str, Any]] = mine) -> str:
                counts: dict[str, int] = {}
                for v in mine:
                    text = fn(v)
                    counts[text] = counts.get(text, 0) + 1
                if len(counts) == 1:
                    return next(iter(counts))
                return "; ".join(f"{t} ({n} jobs)" for t, n in counts.items())

            def fitting(v: dict[str, Any]) -> str:
                if "test_time_fitting" not in v or v["test_time_fitting"] is None:
                    return "—"
                scope = v.get("test_time_fitting_scope")
                return ("on" + (f", {scope}" if scope else "")) if v["test_time_fitting"] else "off"

            warnings = sum(len(v.get("data_warnings") or []) for v in mine)
            errors = [v["error"] for v in mine if "error" in v]
            rows.append(
                [
                    method,
                    protocol,
                    str(len(mine)),
                    column(lambda v: str(v.get("confs", "not recorded"))),
                    column(
                        lambda v: (
                            describe_filter(v["flame_distance_filter"])
                            if "flame_distance_filter" in v
                            else "not recorded"
                        )
                    ),
                    column(fitting),
                    str(warnings) + (f" ({len(errors)} unreadable method_info.json)" if errors else ""),
                    column(lambda v: describe_speed(v.get("speed"))),
                ]
            )
    return rows


SETTINGS_HEADERS = [
    "method",
    "protocol",
    "jobs",
    "confs",
    "flame-distance filter",
    "test-time fitting",
    "data warnings",
    "TF32",
]
