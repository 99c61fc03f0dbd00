"""validate_dataset on good data and on many distinct kinds of broken data (each with its specific message)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from nesbench.data.findings import Issue
from nesbench.data.validate import validate_dataset
from nesbench.errors import DataError


def seq(root: Path, name: str = "e_1", subject: str = "0100", testset: str = "testset1") -> Path:
    return root / testset / subject / subject / name


def edit_json(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "flame_params.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))  # json.dumps writes NaN as NaN, like a careless converter would


def only(issues: list[Issue], code: str, sequence: str | None = None) -> Issue:
    hits = [i for i in issues if i.code == code and sequence in (None, i.sequence)]
    assert len(hits) == 1, f"expected one {code!r} issue, got {[i.line() for i in issues]}"
    return hits[0]


def test_good_dataset_passes(dataset: Path) -> None:
    result = validate_dataset(dataset)
    assert result.ok and not result.issues, result.render_text()
    assert [(s.sequence, s.frames, s.size) for s in result.sequences] == [
        ("e_0", 3, (16, 16)),
        ("e_1", 3, (16, 16)),
    ]
    assert result.images_checked == 2 * 3 * 3
    text = result.render_text()
    assert "subject 0100 (testset1)" in text and text.splitlines()[-1].startswith(
        "OK: 0 error(s), 0 warning(s)"
    )


def test_70_keypoints_and_rgb_masks_are_accepted(dataset: Path) -> None:
    def iris(d: dict) -> None:
        for f in d["frames"]:
            f["flame_keypoints"] = f["flame_keypoints"] + [[0.1, 0.1], [-0.1, 0.1]]

    edit_json(seq(dataset), iris)
    assert validate_dataset(dataset).ok


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    Image.fromarray(array, mode=mode).save(path)


def _break_16bit(root: Path) -> None:
    cv2.imwrite(str(seq(root) / "image" / "2.png"), np.full((16, 16, 3), 4000, np.uint16))


def _truncate(root: Path) -> None:
    p = seq(root) / "image" / "2.png"
    p.write_bytes(p.read_bytes()[:-40])


def _jpeg(root: Path) -> None:
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(seq(root) / "image" / "2.png", format="JPEG")


def _set_frame_key(key: str, value: object, frame: int = 1) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        edit_json(seq(root), lambda d: d["frames"][frame].__setitem__(key, value))

    return change


def _set_top_key(key: str, value: object) -> Callable[[Path], None]:
    return lambda root: edit_json(seq(root), lambda d: d.__setitem__(key, value))


WORLD_ROTATED = [[0.0, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -4.0]]

# (id, how to break e_1 of the good dataset, severity, code, substring of the message)
BREAKAGES: list[tuple[str, Callable[[Path], None], str, str, str]] = [
    ("gap", lambda r: (seq(r) / "image" / "2.png").unlink(), "error", "missing-frame", "frame(s) 2 listed in flame_params.json"),
    ("zero-padded", lambda r: (seq(r) / "image" / "1.png").rename(seq(r) / "image" / "01.png"), "error", "frame-name", "0-based or zero-padded"),
    ("zero-based", lambda r: shutil.copy(seq(r) / "image" / "1.png", seq(r) / "image" / "0.png"), "error", "frame-name", "loaders expect 1.png, 2.png"),
    ("extra-frame", lambda r: shutil.copy(seq(r) / "image" / "1.png", seq(r) / "image" / "4.png"), "error", "extra-frame", "frame(s) 4 in image/ are not in flame_params.json"),
    ("json-count", lambda r: edit_json(seq(r), lambda d: d["frames"].pop()), "error", "extra-frame", "(json: 2 frames, image/: 3 files)"),
    ("json-order", lambda r: edit_json(seq(r), lambda d: d["frames"].reverse()), "warning", "json-frame-order", "not in increasing order"),
    ("json-start", lambda r: edit_json(seq(r), lambda d: d["frames"].pop(0)), "warning", "json-frame-order", "frames start at 2, not 1"),
    ("rgba", lambda r: _save(seq(r) / "image" / "2.png", np.zeros((16, 16, 4), np.uint8)), "error", "image-rgba", "alpha channel"),
    ("grayscale", lambda r: _save(seq(r) / "image" / "2.png", np.zeros((16, 16), np.uint8)), "error", "image-grayscale", "is grayscale"),
    ("16-bit", _break_16bit, "error", "image-16bit", "is 16-bit"),
    ("corrupt", _truncate, "error", "corrupt-png", "corrupt PNG"),
    ("not-png", _jpeg, "error", "not-png", "not a PNG file"),
    ("mis-sized", lambda r: _save(seq(r) / "image" / "2.png", np.zeros((16, 20, 3), np.uint8)), "error", "size-mismatch", "image is 20x16, the sequence's frames are 16x16"),
    ("missing-mask", lambda r: (seq(r) / "mask" / "3.png").unlink(), "error", "missing-mask", "frame(s) 3 listed in flame_params.json have no mask/<k>.png"),
    ("no-mask-folder", lambda r: shutil.rmtree(seq(r) / "mask"), "error", "missing-mask-folder", "no mask/ folder"),
    ("no-semantic-folder", lambda r: shutil.rmtree(seq(r) / "semantic"), "error", "missing-semantic-folder", "no semantic/ folder"),
    ("mask-1ch", lambda r: _save(seq(r) / "mask" / "1.png", np.zeros((16, 16), np.uint8)), "warning", "mask-1channel", "legacy metric scripts need 3-channel masks"),
    ("mask-rgba", lambda r: _save(seq(r) / "mask" / "1.png", np.zeros((16, 16, 4), np.uint8)), "error", "mask-format", "mask is RGBA 8-bit"),
    ("semantic-rgb", lambda r: _save(seq(r) / "semantic" / "1.png", np.zeros((16, 16, 3), np.uint8)), "error", "semantic-format", "single-channel uint8 labels 0..18"),
    ("semantic-labels", lambda r: _save(seq(r) / "semantic" / "1.png", np.full((16, 16), 200, np.uint8)), "error", "semantic-labels", "label 200 > 18"),
    ("nan", _set_frame_key("expression", [0.0] * 3 + [float("nan")] + [0.0] * 46), "error", "json-nonfinite", "frames[1].expression[3] is NaN or infinity"),
    ("expression-49", _set_frame_key("expression", [0.0] * 49), "error", "json-expression", "frames[1]: 'expression' has 49 values, expected 50 values"),
    ("pose-14", _set_frame_key("pose", [0.0] * 14), "error", "json-pose", "'pose' has 14 values, expected 15 values"),
    ("shape-99", _set_top_key("shape_params", [0.0] * 99), "error", "json-shape_params", "'shape_params' has 99 values, expected 100 values"),
    ("intrinsics-3", _set_top_key("intrinsics", [1.0, 1.0, 0.5]), "error", "json-intrinsics", "expected 4 values"),
    ("bbox", _set_frame_key("bbox", [0, 0, 1]), "error", "json-bbox", "'bbox' has 3 values"),
    ("world-rotation", _set_frame_key("world_mat", WORLD_ROTATED), "error", "json-world-mat-rotation", "rotation is not the identity"),
    ("world-4x4", _set_frame_key("world_mat", np.eye(4).tolist()), "error", "json-world_mat", "has shape 4x4, expected 3x4"),
    ("keypoints", _set_frame_key("flame_keypoints", np.zeros((68, 3)).tolist()), "error", "json-flame_keypoints", "shape 68x3, expected 68x2 or 70x2"),
    ("missing-key", lambda r: edit_json(seq(r), lambda d: d["frames"][2].pop("pose")), "error", "json-missing-key", "frames[2]: has no 'pose'"),
    ("file-path", _set_frame_key("file_path", "./image/frame_2"), "error", "json-file-path", "file_path './image/frame_2' does not end in an unpadded frame number"),
    ("shape-differs", _set_top_key("shape_params", [0.5] * 100), "warning", "shape-differs", "shape_params differ from e_0's"),
    ("intrinsics-differ", _set_top_key("intrinsics", [-1.4, 1.4, 0.5, 0.5]), "warning", "intrinsics-differs", "intrinsics differ from e_0's"),
    ("intrinsics-pixels", lambda r: [edit_json(seq(r, s), lambda d: d.__setitem__("intrinsics", [-700.0, 700.0, 256.0, 256.0])) for s in ("e_0", "e_1")], "warning", "json-intrinsics-pixels", "look like pixels"),
    ("json-missing", lambda r: (seq(r) / "flame_params.json").unlink(), "error", "json-missing", "missing"),
    ("json-invalid", lambda r: (seq(r) / "flame_params.json").write_text("{frames: "), "error", "json-invalid", "not valid JSON"),
    ("json-folder", lambda r: ((seq(r) / "flame_params.json").unlink(), (seq(r) / "flame_params.json").mkdir()), "error", "json-invalid", "unreadable"),
    ("stray-file", lambda r: (seq(r) / "image" / "notes.txt").write_text("x"), "warning", "stray-file", "not a frame file"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("breaker", "severity", "code", "text"), [b[1:] for b in BREAKAGES], ids=[b[0] for b in BREAKAGES]
)
def test_broken_dataset_is_caught(
    dataset: Path, breaker: Callable[[Path], None], severity: str, code: str, text: str
) -> None:
    breaker(dataset)
    result = validate_dataset(dataset)
    issue = only(result.issues, code, "e_1")
    assert issue.severity == severity
    assert text in issue.message, issue.line()
    assert result.ok is (severity == "warning" and not result.errors)
    line = issue.line(result.root)
    assert "\n" not in line and "fix: " in line and issue.fix
    assert issue.subject == "0100"
    assert issue.file.startswith(str(dataset))
    assert result.render_text().splitlines()[-1].startswith("OK" if result.ok else "FAIL")


def test_at_least_twelve_distinct_error_kinds() -> None:
    assert len({b[3] for b in BREAKAGES if b[2] == "error"}) >= 12


def test_many_bad_frames_give_one_line_per_kind(make_dataset: Callable[..., Path]) -> None:
    root = make_dataset(frames=6)
    for k in range(1, 7):
        _save(seq(root) / "image" / f"{k}.png", np.zeros((16, 16, 4), np.uint8))
    issue = only(validate_dataset(root).issues, "image-rgba")
    assert "(and 5 more in image/)" in issue.message and issue.file.endswith("image/1.png")


def test_one_channel_mask_is_an_error_when_strict(dataset: Path) -> None:
    _save(seq(dataset) / "mask" / "1.png", np.zeros((16, 16), np.uint8))
    issue = only(validate_dataset(dataset, strict=True).issues, "mask-1channel")
    assert issue.severity == "error" and "nesbench data fix-masks" in issue.fix


def test_what_the_benchmark_loaders_accept_is_an_error_when_strict(dataset: Path) -> None:
    edit_json(seq(dataset), lambda d: d["frames"].reverse())
    _set_top_key("shape_params", [0.5] * 100)(dataset)
    issues = validate_dataset(dataset, strict=True).issues
    assert only(issues, "json-frame-order", "e_1").severity == "error"
    assert only(issues, "shape-differs", "e_1").severity == "error"


def test_frames_listed_twice_stay_an_error(dataset: Path) -> None:
    edit_json(seq(dataset), lambda d: d["frames"].__setitem__(1, d["frames"][0]))
    issue = only(validate_dataset(dataset).issues, "json-frame-order", "e_1")
    assert issue.severity == "error" and "listed twice" in issue.message


def test_root_path_with_the_frame_folder_word_is_an_error(make_dataset: Callable[..., Path]) -> None:
    root = make_dataset(name="my_images")
    issue = only(validate_dataset(root).issues, "path-contains-image")
    assert "'my_images' contains 'image'" in issue.message and "rename" in issue.fix


def test_non_square_frames(make_dataset: Callable[..., Path]) -> None:
    root = make_dataset(sequences=("e_0",))
    for role, arr in (
        ("image", np.zeros((16, 20, 3), np.uint8)),
        ("mask", np.zeros((16, 20, 3), np.uint8)),
        ("semantic", np.zeros((16, 20), np.uint8)),
    ):
        for k in (1, 2, 3):
            _save(seq(root, "e_0") / role / f"{k}.png", arr)
    issue = only(validate_dataset(root).issues, "not-square")
    assert "frames are 20x16; both methods assume square images" in issue.message


def test_size_differs_across_sequences(make_dataset: Callable[..., Path], tmp_path: Path) -> None:
    root = make_dataset()
    other = make_dataset(name="other", size=24)
    shutil.rmtree(seq(root))
    shutil.copytree(seq(other), seq(root))
    issue = only(validate_dataset(root).issues, "size-differs")
    assert "frames are 24x24, e_0's are 16x16" in issue.message


def test_subject_nesting(dataset: Path) -> None:
    subject = dataset / "testset1" / "0100"
    (subject / "0100").rename(subject / "tmp")
    for p in (subject / "tmp").iterdir():
        p.rename(subject / p.name)
    (subject / "tmp").rmdir()
    issue = only(validate_dataset(dataset).issues, "layout-nesting")
    assert "no 0100/ inside 0100/" in issue.message


def test_benchmark_good(make_dataset: Callable[..., Path], tiny_benchmark) -> None:  # noqa: ANN001
    root = make_dataset(subjects={"testset1": ["0100"], "testset2": ["0041"]})
    result = validate_dataset(root, tiny_benchmark)
    assert result.ok and result.benchmark == "tiny", result.render_text()
    only_one = validate_dataset(root, tiny_benchmark, subjects="testset2")
    assert {s.subject for s in only_one.sequences} == {"0041"}


def test_benchmark_missing_protocol_sequence(make_dataset: Callable[..., Path], tiny_benchmark) -> None:  # noqa: ANN001
    root = make_dataset(subjects={"testset1": ["0100"], "testset2": ["0041"]})
    shutil.rmtree(seq(root, "e_1", "0041", "testset2"))
    issue = only(validate_dataset(root, tiny_benchmark).issues, "sequence-missing")
    assert (
        issue.subject == "0041"
        and "sequence e_1 is missing (needed by protocol expression (test))" in issue.message
    )


def test_benchmark_subject_missing_or_misplaced(make_dataset: Callable[..., Path], tiny_benchmark) -> None:  # noqa: ANN001
    root = make_dataset(subjects={"testset1": ["0100"]})
    assert (
        "subject 0041 of testset2 is missing"
        in only(validate_dataset(root, tiny_benchmark).issues, "subject-missing").message
    )
    misplaced = make_dataset(name="misplaced", subjects={"testset1": ["0100", "0041"]})
    issue = only(validate_dataset(misplaced, tiny_benchmark).issues, "subject-wrong-testset")
    assert "subject 0041 is in testset1/, the benchmark puts it in testset2/" in issue.message


def test_tarball_layout_is_accepted_with_a_note(make_dataset: Callable[..., Path], tmp_path: Path) -> None:
    make_dataset(name="extracted/data/datasets")
    result = validate_dataset(tmp_path / "extracted")
    assert result.ok and result.root == tmp_path / "extracted" / "data" / "datasets"
    assert any("pass it directly next time" in n for n in result.notes)
    assert "note: using" in result.render_text()


def test_unknown_subject_filter_and_missing_root(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no subject or test set named 9999"):
        validate_dataset(dataset, subjects="9999")
    with pytest.raises(DataError, match="no such folder"):
        validate_dataset(tmp_path / "nope")


def test_skip_pixels_and_headers_only(dataset: Path) -> None:
    _truncate(dataset)
    assert validate_dataset(dataset, check_images=False).ok
    assert validate_dataset(dataset, decode=False).ok  # the header is intact; only a full decode sees it
    assert not validate_dataset(dataset).ok


def test_result_to_dict_is_json(dataset: Path) -> None:
    (seq(dataset) / "image" / "2.png").unlink()
    d = json.loads(json.dumps(validate_dataset(dataset).to_dict()))
    assert d["ok"] is False and d["errors"] == 1
    (issue,) = d["issues"]
    assert set(issue) == {"severity", "code", "message", "fix", "file", "subject", "sequence"}
    assert issue["sequence"] == "e_1" and d["verdict"].startswith("FAIL")
