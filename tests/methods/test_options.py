"""Method-specific options declared by the method (a dataclass) become `--<method>.<option>` flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from nesbench.errors import ConfigError
from nesbench.methods.options import add_option_flags, check_options, chosen_options, option_fields
from nesbench.methods.registry import get_method
from nesbench.methods.spec import MethodSpec


@dataclass(frozen=True)
class DemoOptions:
    sharpen: bool | None = field(default=None, metadata={"help": "sharpen the renders"})
    rank: int | None = None
    mode: Literal["fast", "exact"] | None = None


DEMO = MethodSpec(name="demo", description="d", target="x:y", config=DemoOptions)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_option_flags(p, [DEMO, get_method("pointavatar"), get_method("mean-image")])
    return p.parse_args(argv)


def test_every_declared_field_is_a_typed_flag_of_its_method():
    assert [f.flag for f in option_fields("demo", DemoOptions)] == [
        "--demo.sharpen",
        "--demo.rank",
        "--demo.mode",
    ]
    assert [f.flag for f in option_fields("pointavatar", get_method("pointavatar").config)] == [
        "--pointavatar.test-time-fitting",
        "--pointavatar.fitting-scope",
        "--pointavatar.tf32",
    ]
    args = _parse(["--demo.sharpen", "off", "--demo.rank", "3", "--pointavatar.fitting-scope", "sequence"])
    assert chosen_options(args, [DEMO, get_method("pointavatar")]) == {
        "demo": {"sharpen": False, "rank": 3},
        "pointavatar": {"fitting_scope": "sequence"},
    }
    assert chosen_options(_parse([]), [DEMO, get_method("pointavatar")]) == {}


def test_bad_values_are_refused_naming_the_flag():
    with pytest.raises(SystemExit):
        _parse(["--demo.mode", "slow"])
    with pytest.raises(SystemExit):
        _parse(["--pointavatar.test-time-fitting", "yes"])
    with pytest.raises(ConfigError, match="--demo.rank: give an integer"):
        chosen_options(_parse(["--demo.rank", "many"]), [DEMO])
    with pytest.raises(ConfigError, match="has no option 'colour'"):
        check_options("demo", DemoOptions, {"colour": "red"})
    with pytest.raises(ConfigError, match="--demo.rank: invalid value True"):
        check_options("demo", DemoOptions, {"rank": True})
    check_options("demo", DemoOptions, {"rank": 2, "mode": "exact", "sharpen": True})


def test_a_method_without_options_adds_no_flags_and_unsupported_types_are_refused():
    assert option_fields("mean-image", get_method("mean-image").config) == []

    @dataclass
    class Bad:
        weights: list[float] | None = None

    with pytest.raises(ConfigError, match="use bool, int, str or Literal"):
        option_fields("bad", Bad)
