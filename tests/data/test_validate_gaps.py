"""Issue 17 validator gaps: file_path containment, JSON numbers only (null named), non-regular files, empty masks;
and a property test: no flame_params.json content makes the checks raise."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nesbench.data.flame_schema import check_flame_params, inside_sequence
from nesbench.data.validate import validate_dataset


def seq(root: Path, name: str = "e_1") -> Path:
    return root / "testset1" / "0100" / "0100" / name


def edit_json(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "flame_params.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def codes(result) -> dict[str, str]:
    return {i.code: i.line() for i in result.issues}


@pytest.mark.parametrize(
    "file_path",
    ["../e_0/image/1", "/etc/image/1", "./image/../../e_0/image/1", "~/image/1", "..\\e_0\\image\\1"],
)
def test_file_path_outside_the_sequence_is_an_error(dataset: Path, file_path: str) -> None:
    edit_json(seq(dataset), lambda d: d["frames"][0].update(file_path=file_path))
    found = codes(validate_dataset(dataset))
    assert (
        "json-file-path-outside" in found
        and "points outside its sequence folder" in found["json-file-path-outside"]
    )


@pytest.mark.parametrize("file_path", ["./image/1", "image/1", "./image/./1", "./x/../image/1"])
def test_file_path_inside_is_fine(file_path: str) -> None:
    assert inside_sequence(file_path)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "'expression' is null"),
        (["0.5"] * 50, "holds a string ('0.5'), not a JSON number"),
        ([True] * 50, "holds a boolean (true), not a number"),
        ([0.0] * 49 + [None], "'expression' holds null"),
        ({"a": 1}, "holds an object"),
    ],
)
def test_parameters_must_be_json_numbers(dataset: Path, value, said: str) -> None:
    edit_json(seq(dataset), lambda d: d["frames"][1].update(expression=value))
    result = validate_dataset(dataset)
    assert not result.ok
    assert any(said in i.message for i in result.issues), [i.line() for i in result.issues]


def test_top_level_null_is_named(dataset: Path) -> None:
    edit_json(seq(dataset), lambda d: d.update(intrinsics=None))
    assert any("'intrinsics' is null" in i.message for i in validate_dataset(dataset).issues)


def test_fifo_frame_and_json_are_refused_without_being_opened(dataset: Path) -> None:
    folder = seq(dataset)
    (folder / "image" / "2.png").unlink()
    os.mkfifo(folder / "image" / "2.png")
    (seq(dataset, "e_0") / "flame_params.json").unlink()
    os.mkfifo(seq(dataset, "e_0") / "flame_params.json")
    result = validate_dataset(dataset)  # would block forever if either FIFO were opened
    found = codes(result)
    assert "not-regular-file" in found and "2.png" in found["not-regular-file"]
    assert any("not a regular file" in i.message and "flame_params.json" in i.file for i in result.issues)


def test_a_sequence_whose_masks_are_all_empty_is_an_error(dataset: Path) -> None:
    for p in (seq(dataset) / "mask").glob("*.png"):
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(p)
    found = codes(validate_dataset(dataset))
    assert "mask-empty" in found and "all 3 masks of this sequence are empty" in found["mask-empty"]


def test_one_empty_mask_is_not_a_sequence_error(dataset: Path) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(seq(dataset) / "mask" / "1.png")
    assert "mask-empty" not in codes(validate_dataset(dataset))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FRAME_KEYS = ("file_path", "expression", "pose", "world_mat", "bbox", "flame_keypoints")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.one_of(JSON, st.dictionaries(st.sampled_from(FRAME_KEYS), JSON, max_size=6)), max_size=4
    ),
    top=st.dictionaries(st.sampled_from(("intrinsics", "shape_params")), JSON, max_size=2),
)
def test_no_flame_params_content_makes_the_checks_raise(frames, top) -> None:
    problems, arrays = check_flame_params({"frames": frames, **top})
    for p in problems:
        assert p.severity in ("error", "warning") and "\n" not in p.message
    for arr in arrays.values():
        assert np.isfinite(arr).all()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_inside_sequence_agrees_with_path_normalisation(fp: str) -> None:
    if inside_sequence(fp):
        norm = os.path.normpath(os.path.join("/seq", fp.replace("\\", "/")))
        assert norm == "/seq" or norm.startswith("/seq/")
