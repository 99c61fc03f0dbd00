"""Validate a dataset in the RenderMe-360 NES layout (upstream spec 1): structure, frames, images, masks, json.

Entry point: :func:`validate_dataset` -> :class:`~nesbench.data.findings.ValidationResult`. Nothing raises for bad data;
every problem becomes an :class:`~nesbench.data.findings.Issue` (one line, naming the file and the fix).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nesbench.config import Benchmark
from nesbench.data.findings import Issue, SequenceSummary, ValidationResult
from nesbench.data.flame_schema import REGEN, Problem, check_flame_params, find_nonfinite, frame_numbers
from nesbench.data.images import NOT_REGULAR, PngInfo, inspect_many
from nesbench.data.layout import FLAME_JSON, TESTSET_RE, find_dataset_root, frame_files, read_flame_json
from nesbench.errors import DataError

ROLES = ("image", "mask", "semantic")
NUMERIC_PNG_RE = re.compile(r"^\d+\.png$")
MAX_SEMANTIC_LABEL = 18  # BiSeNet / CelebAMask-HQ: 19 classes 0..18
FIX_RGB8 = "re-save it as an 8-bit 3-channel RGB PNG (e.g. PIL: Image.open(f).convert('RGB').save(f))"


def natural_key(name: str) -> list[int | str]:
    """Sort key that puts e_2 before e_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def ranges_text(numbers: list[int], limit: int = 8) -> str:
    """'1, 4-7, 9' (at most ``limit`` runs, then '...')."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    return ", ".join(parts) + (", ..." if len(runs) > limit else "")


@dataclass
class _Sequence:
    """Working state of one sequence between the structural pass and the image pass."""

    summary: SequenceSummary
    folder: Path
    files: dict[str, dict[int, Path]] = field(default_factory=dict)  # role -> frame -> file
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # intrinsics, shape_params

    def to_read(self) -> list[Path]:
        return [p for files in self.files.values() for p in files.values()]


class _Checker:
    def __init__(self, result: ValidationResult, strict: bool) -> None:
        self.result = result
        self.strict = strict

    def issue(
        self,
        severity: str,
        code: str,
        message: str,
        fix: str,
        file: Path | str = "",
        subject: str | None = None,
        sequence: str | None = None,
    ) -> None:
        self.result.add(Issue(severity, code, message, fix, str(file), subject, sequence))  # type: ignore[arg-type]

    # -- structure ----------------------------------------------------------------------------------------------
    def subjects_on_disk(self, root: Path, wanted: list[str] | None) -> list[tuple[str, str]]:
        """(testset, subject) for every <testsetK>/<id>/ folder, filtered by ids or test-set names."""
        found = []
        for ts in sorted(
            (p for p in root.iterdir() if p.is_dir() and TESTSET_RE.match(p.name)),
            key=lambda p: natural_key(p.name),
        ):
            found += [
                (ts.name, s.name) for s in sorted(ts.iterdir()) if s.is_dir() and not s.name.startswith(".")
            ]
        if wanted is None:
            return found
        known = {t for t, _ in found} | {s for _, s in found}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise DataError(
                f"{root}: no subject or test set named {', '.join(unknown)}; "
                f"found: {', '.join(sorted(known, key=natural_key)) or 'nothing'}"
            )
        return [(t, s) for t, s in found if t in wanted or s in wanted]

    def locate_subject(self, root: Path, testset: str, subject: str) -> Path | None:
        """The sequence-holding folder root/testset/id/id, or None after reporting why it is not there."""
        folder = root / testset / subject / subject
        if folder.is_dir():
            return folder
        if (root / testset / subject).is_dir():
            self.issue(
                "error",
                "layout-nesting",
                f"no {subject}/ inside {subject}/ (loaders read <id>/<id>/<seq>/)",
                f"move the sequences into {testset}/{subject}/{subject}/",
                root / testset / subject,
                subject,
            )
            return None
        elsewhere = [p.parent.parent.name for p in root.glob(f"*/{subject}/{subject}") if p.is_dir()]
        if elsewhere:
            self.issue(
                "error",
                "subject-wrong-testset",
                f"subject {subject} is in {elsewhere[0]}/, the benchmark puts it in {testset}/",
                f"move {elsewhere[0]}/{subject} to {testset}/{subject}",
                root / elsewhere[0] / subject,
                subject,
            )
        else:
            self.issue(
                "error",
                "subject-missing",
                f"subject {subject} of {testset} is missing",
                "extract the full benchmark tarball (see benchmark_data/README.md) or narrow --subjects",
                root / testset / subject,
                subject,
            )
        return None

    def check_path_names(self, root: Path) -> None:
        """Upstream loaders derive mask/semantic paths with str.replace('image', ...) on the whole path (spec 1.1)."""
        bad = [part for part in root.absolute().parts if "image" in part]
        if bad:
            self.issue(
                "error",
                "path-contains-image",
                f"the path component {bad[0]!r} contains 'image'; upstream loaders build mask/semantic paths with "
                "path.replace('image', 'mask'), which would rewrite it too",
                "move or rename the folder so that no path component except the frame folder contains 'image'",
                root,
            )

    def read_json(self, seq: _Sequence) -> tuple[dict | None, bool]:
        """The parsed json (None if unusable) and whether a NaN/infinity was already reported."""
        s = seq.summary
        path = seq.folder / FLAME_JSON
        try:
            return read_flame_json(path), False
        except OSError as exc:  # e.g. a folder or an unreadable file named flame_params.json
            self.issue(
                "error",
                "json-invalid",
                f"unreadable ({exc.strerror or exc})",
                REGEN,
                path,
                s.subject,
                s.sequence,
            )
            return None, False
        except DataError as exc:
            text = str(exc).removeprefix(f"{path}: ")
            if "non-finite" not in text:
                message, _, fix = text.partition("; ")
                self.issue(
                    "error",
                    "json-missing" if not path.exists() else "json-invalid",
                    message,
                    fix or REGEN,
                    path,
                    s.subject,
                    s.sequence,
                )
                return None, False
        # NaN/Infinity: re-read permissively so the exact place is named and the other checks still run.
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            self.issue("error", "json-invalid", f"not valid JSON ({exc})", REGEN, path, s.subject, s.sequence)
            return None, False
        where = find_nonfinite(data)
        self.issue(
            "error", "json-nonfinite", f"{where} is NaN or infinity", REGEN, path, s.subject, s.sequence
        )
        return (data if isinstance(data, dict) and isinstance(data.get("frames"), list) else None), True

    def frame_list(self, folder: Path, role: str, seq: _Sequence) -> dict[int, Path] | None:
        s = seq.summary
        if not folder.is_dir():
            need = {
                "image": "the RGB frames",
                "mask": "foreground masks (loaders and every scorer read them)",
                "semantic": "face-parsing labels (IMavatar training and the PointAvatar no-cloth metric need them)",
            }[role]
            self.issue(
                "error",
                f"missing-{role}-folder",
                f"no {role}/ folder ({need})",
                f"add {role}/<k>.png for every frame",
                folder,
                s.subject,
                s.sequence,
            )
            return None
        files = frame_files(folder)
        odd = sorted(
            p for p in folder.iterdir() if not p.name.startswith(".") and p not in set(files.values())
        )
        numeric = [p for p in odd if NUMERIC_PNG_RE.match(p.name)]
        if numeric:
            more = f" (and {len(numeric) - 1} more)" if len(numeric) > 1 else ""
            self.issue(
                "error",
                "frame-name",
                f"frame file name is 0-based or zero-padded{more}; loaders expect 1.png, 2.png, ...",
                "rename frames to unpadded 1-based numbers (1.png, 2.png, ...) matching flame_params.json",
                numeric[0],
                s.subject,
                s.sequence,
            )
        other = [p for p in odd if p not in numeric]
        if other:
            more = f" (and {len(other) - 1} more)" if len(other) > 1 else ""
            self.issue(
                "warning",
                "stray-file",
                f"not a frame file <k>.png{more}; loaders ignore it",
                f"remove it from {role}/",
                other[0],
                s.subject,
                s.sequence,
            )
        return files

    def check_sequence(self, root: Path, testset: str, subject: str, folder: Path) -> _Sequence:
        seq = _Sequence(SequenceSummary(testset, subject, folder.name), folder)
        if "image" in folder.name:
            self.issue(
                "error",
                "path-contains-image",
                f"sequence name {folder.name!r} contains 'image' (breaks path.replace('image', 'mask'))",
                "rename the sequence folder",
                folder,
                subject,
                folder.name,
            )
        data, nonfinite_reported = self.read_json(seq)
        expected: list[int] | None = None
        if data is not None:
            problems, seq.arrays = check_flame_params(data)
            for p in problems:
                if not (nonfinite_reported and p.code == "json-nonfinite"):
                    self._problem(p, folder / FLAME_JSON, seq)
            numbers = frame_numbers(data)
            if None not in numbers:
                expected = numbers  # type: ignore[assignment]
                self.check_frame_order(expected, folder / FLAME_JSON, seq)
        for role in ROLES:
            files = self.frame_list(folder / role, role, seq)
            if files is not None:
                seq.files[role] = files
        disk = seq.files.get("image")
        if expected is not None:
            seq.summary.frames = len(expected)
            want = set(expected)
            for role, files in seq.files.items():
                self.compare_frames(want, files, folder / role, role, seq, len(expected))
        elif disk:
            seq.summary.frames = len(disk)
            gaps = sorted(set(range(1, max(disk) + 1)) - set(disk))
            if gaps:
                self.issue(
                    "error",
                    "missing-frame",
                    f"frames are not contiguous from 1: {ranges_text(gaps)} missing",
                    "restore the missing frames (names must be 1..N)",
                    folder / "image",
                    subject,
                    folder.name,
                )
        return seq

    def check_frame_order(self, numbers: list[int], path: Path, seq: _Sequence) -> None:
        if numbers == list(range(1, len(numbers) + 1)):
            return
        dup = sorted(k for k, c in Counter(numbers).items() if c > 1)
        if dup:
            what = f"frame(s) {ranges_text(dup)} listed twice"
        elif numbers and min(numbers) != 1:
            what = f"frames start at {min(numbers)}, not 1"
        elif numbers != sorted(numbers):
            what = "frames are not in increasing order"
        else:
            what = f"frames {ranges_text(sorted(set(range(1, max(numbers) + 1)) - set(numbers)))} are missing from the list"
        # the benchmark's loaders accept any numbering (each frame keeps its number; the harness scores by number):
        # a warning, an error with --strict (as `train.sh --strict`; docs/FIDELITY.md D2); duplicates stay an error
        self.issue(
            "error" if self.strict or dup else "warning",
            "json-frame-order",
            f"{what}; the benchmark's loaders accept it (each frame keeps its number) but its IMavatar keypoint "
            "metric pairs k.png with frames[k-1]",
            "write frames sorted, contiguous and 1-based (file_path ./image/1, ./image/2, ...)",
            path,
            seq.summary.subject,
            seq.summary.sequence,
        )

    def compare_frames(
        self, want: set[int], files: dict[int, Path], folder: Path, role: str, seq: _Sequence, n_json: int
    ) -> None:
        s = seq.summary
        missing = sorted(want - set(files))
        extra = sorted(set(files) - want)
        counts = f"(json: {n_json} frames, {role}/: {len(files)} files)"
        if missing:
            self.issue(
                "error",
                f"missing-{role}" if role != "image" else "missing-frame",
                f"frame(s) {ranges_text(missing)} listed in {FLAME_JSON} have no {role}/<k>.png {counts}",
                f"restore {role}/<k>.png for those frames or regenerate {FLAME_JSON}",
                folder,
                s.subject,
                s.sequence,
            )
        if extra:
            self.issue(
                "error" if role == "image" else "warning",
                f"extra-{role}" if role != "image" else "extra-frame",
                f"frame(s) {ranges_text(extra)} in {role}/ are not in {FLAME_JSON} {counts}",
                f"delete those files or add the frames to {FLAME_JSON} (the metric scripts require the same set)",
                folder,
                s.subject,
                s.sequence,
            )

    def _problem(self, p: Problem, path: Path, seq: _Sequence) -> None:
        self.issue(p.severity, p.code, p.message, p.fix, path, seq.summary.subject, seq.summary.sequence)

    # -- images -------------------------------------------------------------------------------------------------
    def check_images(self, seq: _Sequence, infos: dict[Path, PngInfo]) -> None:
        s = seq.summary
        found: dict[tuple[str, str, str, str], list[Path]] = {}

        def flag(severity: str, code: str, msg: str, fix: str, path: Path) -> None:
            found.setdefault((severity, code, msg, fix), []).append(path)

        images = [infos[p] for p in seq.files.get("image", {}).values() if p in infos]
        good = [i for i in images if not i.error]
        sizes = Counter((i.width, i.height) for i in good)
        size = sizes.most_common(1)[0][0] if sizes else None
        s.size = size
        for role in ROLES:
            for k, path in seq.files.get(role, {}).items():
                info = infos.get(path)
                if info is None:
                    continue
                if info.error:
                    code = (
                        "not-regular-file"
                        if info.error == NOT_REGULAR
                        else "not-png"
                        if "not a PNG" in info.error
                        else "corrupt-png"
                    )
                    flag(
                        "error",
                        code,
                        f"{role} {info.error}",
                        f"restore the file from the original data ({role}/{k}.png)",
                        path,
                    )
                    continue
                if size and (info.width, info.height) != size:
                    flag(
                        "error",
                        "size-mismatch",
                        f"{role} is {info.width}x{info.height}, the sequence's frames are {size[0]}x{size[1]}",
                        "resize or re-export it at the sequence's size",
                        path,
                    )
                if role == "image":
                    self._rgb_kind(info, flag)
                elif role == "mask":
                    self._mask_kind(info, flag)
                else:
                    self._semantic_kind(info, flag)
        masks = [infos.get(p) for p in seq.files.get("mask", {}).values()]
        if masks and all(m is not None and not m.error and m.max_value == 0 for m in masks):
            self.issue(
                "error",
                "mask-empty",
                f"all {len(masks)} masks of this sequence are empty (every pixel 0): no frame can be scored",
                "restore the foreground masks (255 = head) from the original data",
                seq.folder / "mask",
                s.subject,
                s.sequence,
            )
        if size and size[0] != size[1]:
            self.issue(
                "error",
                "not-square",
                f"frames are {size[0]}x{size[1]}; both methods assume square images",
                "crop the frames to a square (RenderMe-360 uses 512x512)",
                seq.folder / "image",
                s.subject,
                s.sequence,
            )
        for (severity, code, msg, fix), paths in found.items():
            more = f" (and {len(paths) - 1} more in {paths[0].parent.name}/)" if len(paths) > 1 else ""
            self.issue(severity, code, msg + more, fix, sorted(paths)[0], s.subject, s.sequence)

    @staticmethod
    def _rgb_kind(info: PngInfo, flag) -> None:  # noqa: ANN001
        if info.color_type == 2 and info.bit_depth == 8:
            return
        if info.color_type == 6:
            code, why = "image-rgba", "has an alpha channel (RGBA breaks the loaders' reshape(3, -1))"
        elif info.color_type in (0, 4):
            code, why = "image-grayscale", "is grayscale; frames must be 3-channel RGB"
        elif info.color_type == 3:
            code, why = "image-palette", "is a palette PNG; frames must be 3-channel RGB"
        else:
            code, why = "image-16bit", "is 16-bit; loaders and scorers divide by 255 (8-bit expected)"
        flag("error", code, f"image {why} [{info.kind}]", FIX_RGB8, info.path)

    def _mask_kind(self, info: PngInfo, flag) -> None:  # noqa: ANN001
        if info.bit_depth == 8 and info.color_type == 2:
            return
        if info.bit_depth == 8 and info.color_type == 0:
            flag(
                "error" if self.strict else "warning",
                "mask-1channel",
                "mask is 1-channel; IMavatar/PointAvatar loaders accept it but the legacy metric scripts need 3-channel masks",
                f"run `nesbench data fix-masks {self.result.root}` (rewrites them as 3-channel PNGs)",
                info.path,
            )
            return
        flag(
            "error",
            "mask-format",
            f"mask is {info.kind}; masks must be 8-bit RGB (or 8-bit grayscale)",
            "re-save it as an 8-bit RGB PNG with values 0..255 (255 = foreground)",
            info.path,
        )

    @staticmethod
    def _semantic_kind(info: PngInfo, flag) -> None:  # noqa: ANN001
        if info.bit_depth != 8 or info.color_type != 0:
            flag(
                "error",
                "semantic-format",
                f"semantic map is {info.kind}; it must be single-channel uint8 labels 0..18",
                "re-export the face-parsing labels as 8-bit grayscale PNGs (BiSeNet label ids, not colours)",
                info.path,
            )
        elif info.max_value is not None and info.max_value > MAX_SEMANTIC_LABEL:
            flag(
                "error",
                "semantic-labels",
                f"semantic map has label {info.max_value} > {MAX_SEMANTIC_LABEL} (BiSeNet has 19 classes 0..18)",
                "write label ids, not colours or a scaled visualisation",
                info.path,
            )

    # -- subject consistency ------------------------------------------------------------------------------------
    def check_subject_consistency(self, seqs: list[_Sequence]) -> None:
        """shape_params / intrinsics / frame size must agree across every sequence of a subject (spec 1.2)."""
        for key, code in (("shape_params", "shape-differs"), ("intrinsics", "intrinsics-differs")):
            having = [q for q in seqs if key in q.arrays]
            if len(having) < 2:
                continue
            ref = having[0]
            for q in having[1:]:
                diff = float(np.max(np.abs(q.arrays[key] - ref.arrays[key])))
                if (
                    diff > 1e-6
                ):  # the loaders keep the last sequence's values, as the benchmark's did (FIDELITY D3)
                    self.issue(
                        "error" if self.strict else "warning",
                        code,
                        f"{key} differ from {ref.summary.sequence}'s (max |diff| {diff:.3g}); loaders keep the last sequence's values",
                        f"write the same {key} into every sequence of subject {q.summary.subject}",
                        q.folder / FLAME_JSON,
                        q.summary.subject,
                        q.summary.sequence,
                    )
        sized = [q for q in seqs if q.summary.size]
        for q in sized[1:]:
            if q.summary.size != sized[0].summary.size:
                a, b = q.summary.size, sized[0].summary.size
                self.issue(
                    "error",
                    "size-differs",
                    f"frames are {a[0]}x{a[1]}, {sized[0].summary.sequence}'s are {b[0]}x{b[1]}",
                    "export every sequence of a subject at one resolution",
                    q.folder / "image",
                    q.summary.subject,
                    q.summary.sequence,
                )


def _needed_sequences(benchmark: Benchmark) -> dict[str, list[str]]:
    """sequence -> ['speech (train)', 'expression (test)', ...] for every protocol of the benchmark."""
    need: dict[str, list[str]] = {}
    for p in benchmark.protocols.values():
        for seq in p.train:
            need.setdefault(seq, []).append(f"{p.name} (train)")
        for seq in p.test_sequences:
            need.setdefault(seq, []).append(f"{p.name} (test)")
    return need


def validate_dataset(
    root: Path,
    benchmark: Benchmark | None = None,
    *,
    subjects: str | list[str] | None = None,
    check_images: bool = True,
    decode: bool = True,
    strict: bool = False,
    workers: int | None = None,
) -> ValidationResult:
    """Check a dataset (or the extracted benchmark tarball) against the layout and schema of upstream spec 1.

    With ``benchmark``, every selected subject must sit in its configured test set and have every sequence some
    protocol trains or tests on; without it, whatever subjects/sequences exist are checked. ``subjects`` takes ids
    and/or test-set names. ``check_images=False`` only checks that files exist; ``decode=False`` reads PNG headers
    but does not decode pixels. ``strict`` turns 1-channel masks, frames not numbered 1..N and shape_params/intrinsics
    differing across a subject's sequences from warnings into errors.
    Raises DataError only when ``root`` itself is unusable (no dataset there) or ``subjects`` names nothing.
    """
    found_root, note = find_dataset_root(Path(root))
    result = ValidationResult(found_root, benchmark.name if benchmark else None, [note] if note else [])
    chk = _Checker(result, strict)
    chk.check_path_names(found_root)

    if benchmark is not None:
        chosen = benchmark.resolve_subjects(subjects)
        pairs = [(benchmark.testset_of(s), s) for s in chosen]
        needed = _needed_sequences(benchmark)
    else:
        wanted = (
            None
            if subjects is None
            else [
                x.strip()
                for x in (subjects.split(",") if isinstance(subjects, str) else subjects)
                if x.strip()
            ]
        )
        pairs = chk.subjects_on_disk(found_root, wanted)
        needed = {}
        if not pairs:
            chk.issue(
                "error",
                "no-subjects",
                "no <testsetK>/<id>/ subject folders found",
                "pass the folder that holds testset1/, ...",
                found_root,
            )

    by_subject: list[list[_Sequence]] = []
    for testset, subject in pairs:
        result.testsets[subject] = testset
        folder = chk.locate_subject(found_root, testset, subject)
        if folder is None:
            continue
        seq_dirs = sorted(
            (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: natural_key(p.name),
        )
        names = {p.name for p in seq_dirs}
        for seq_name, users in needed.items():
            if seq_name not in names:
                chk.issue(
                    "error",
                    "sequence-missing",
                    f"sequence {seq_name} is missing (needed by protocol {', '.join(users)})",
                    "extract the full benchmark tarball (see benchmark_data/README.md)",
                    folder / seq_name,
                    subject,
                    seq_name,
                )
        if not seq_dirs:
            chk.issue(
                "error",
                "no-sequences",
                "no sequence folders (e_0, s_4, ...)",
                "extract the full benchmark tarball",
                folder,
                subject,
            )
        by_subject.append([chk.check_sequence(found_root, testset, subject, d) for d in seq_dirs])

    all_seqs = [q for seqs in by_subject for q in seqs]
    if check_images:
        paths = [p for q in all_seqs for p in q.to_read()]
        infos = inspect_many(paths, decode=decode, workers=workers)
        result.images_checked = len(infos)
        for q in all_seqs:
            chk.check_images(q, infos)
    for seqs in by_subject:
        chk.check_subject_consistency(seqs)
        result.sequences.extend(q.summary for q in seqs)
    return result
