"""The one name rule (nesbench/names.py): unit cases and properties (hypothesis)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nesbench.errors import ConfigError
from nesbench.names import NAME_RE, check_name, check_names, is_valid_name


@pytest.mark.parametrize("good", ["unified", "renderme-imavatar", "9001", "e_10", "testset1", "my.method-2"])
def test_valid_names(good):
    assert check_name(good, "method") == good


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "-rf", "a b", "x\ny", "é", "a" * 101, None, 3]
)
def test_invalid_names_are_one_line_errors(bad):
    with pytest.raises(ConfigError) as exc:
        check_name(bad, "method", "--methods")
    assert "\n" not in str(exc.value) and str(exc.value).startswith("--methods: method")


def test_check_names_removes_repeats_in_order():
    assert check_names(["b", "a", "b", "a"], "method") == ["b", "a"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_a_valid_name_is_exactly_one_path_component_below_its_parent(name):
    base = Path("/base/out")
    if not is_valid_name(name):
        return
    joined = Path(os.path.normpath(base / name))
    assert joined.parent == base and joined.name == name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("./\\ \x00\n~-_aZ09")), max_size=12))
def test_anything_with_a_separator_dot_start_or_space_is_refused(name):
    risky = (
        "/" in name
        or "\\" in name
        or name.startswith((".", "-", "_", "~"))
        or any(c in name for c in " \x00\n~")
    )
    if risky or not name:
        assert not is_valid_name(name)
    else:
        assert is_valid_name(name) == bool(NAME_RE.fullmatch(name))
