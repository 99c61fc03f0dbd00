"""`nesbench data link`: extract a (small, built-here) benchmark tarball safely, or symlink an extracted folder."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nesbench.cli import main
from nesbench.data.link import link_data, unsafe_member_reason
from nesbench.errors import DataError


@pytest.fixture
def extracted(make_dataset: Callable[..., Path], tmp_path: Path) -> Path:
    """A folder laid out like the extracted tarball: data/datasets/testsetK/... plus data/conf/."""
    make_dataset(name="src/data/datasets", subjects={"testset1": ["0100"], "testset2": ["0041"]})
    (tmp_path / "src" / "data" / "conf").mkdir()
    (tmp_path / "src" / "data" / "conf" / "a.conf").write_text("x = 1\n")
    return tmp_path / "src"


@pytest.fixture
def tarball(extracted: Path, tmp_path: Path) -> Path:
    path = tmp_path / "data_NES_imavatar_pointavatar.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(extracted / "data", arcname="data")
    return path


def _evil_tar(path: Path, name: str, link: str | None = None) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("data/datasets/ok.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        if link is None:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
        else:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    return path


def test_link_tarball_extracts_and_checks(tarball: Path, tmp_path: Path, tiny_benchmark, capsys) -> None:  # noqa: ANN001
    into = tmp_path / "benchmark_data"
    args = ["data", "link", str(tarball), "--into", str(into), "--benchmark", str(tiny_benchmark.source)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("OK:")
    assert (into / "data" / "datasets" / "testset2" / "0041" / "0041" / "e_1" / "image" / "3.png").is_file()
    assert (into / "data" / "conf" / "a.conf").read_text() == "x = 1\n"
    assert not list(into.glob(".extract-*"))  # staging folder removed
    # A second run with the same tarball skips the extraction; a different tarball needs --force.
    assert main(args) == 0
    assert "already extracted" in capsys.readouterr().out
    other = tmp_path / "other.tar"
    other.write_bytes(tarball.read_bytes())
    with pytest.raises(DataError, match="already exists .* pass --force"):
        link_data(other, into)
    assert link_data(other, into, force=True) == into / "data" / "datasets"


@pytest.mark.parametrize(
    ("name", "link", "why"),
    [
        ("../escape.txt", None, "contains '..' (path traversal)"),
        ("/tmp/abs.txt", None, "has an absolute path"),
        ("data/../../escape.txt", None, "contains '..'"),
        ("data/link", "/etc/passwd", "is a link pointing outside the archive"),
        ("data/link", "../../x", "is a link pointing outside the archive"),
    ],
)
def test_malicious_tarball_is_refused(tmp_path: Path, name: str, link: str | None, why: str, capsys) -> None:  # noqa: ANN001
    evil = _evil_tar(tmp_path / "evil.tar", name, link)
    into = tmp_path / "bd"
    assert main(["data", "link", str(evil), "--into", str(into)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {evil}: member {name!r} {why}") and "refusing to extract" in err
    assert not (into / "data").exists() and not (tmp_path / "escape.txt").exists()


def test_unsafe_member_reason_accepts_normal_members() -> None:
    info = tarfile.TarInfo("data/datasets/testset1/0100/0100/e_0/image/1.png")
    assert unsafe_member_reason(info) is None
    inner = tarfile.TarInfo("data/a/link")
    inner.type, inner.linkname = tarfile.SYMTYPE, "../b"
    assert unsafe_member_reason(inner) is None


def test_not_a_tarball(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar"
    bad.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(DataError, match="not a readable tar archive"):
        link_data(bad, tmp_path / "bd")


@pytest.mark.parametrize("level", ["", "data", "data/datasets"])
def test_link_folder_at_any_level(extracted: Path, tmp_path: Path, level: str) -> None:
    into = tmp_path / "bd"
    root = link_data(extracted / level if level else extracted, into)
    assert root == into / "data" / "datasets"
    assert (root / "testset1" / "0100" / "0100" / "e_0" / "flame_params.json").is_file()
    assert link_data(extracted / level if level else extracted, into) == root  # idempotent


def test_link_folder_never_replaces_without_force(
    extracted: Path, make_dataset, tmp_path: Path, tiny_benchmark, capsys
) -> None:  # noqa: ANN001
    into = tmp_path / "bd"
    link_data(extracted, into)
    both = {"testset1": ["0100"], "testset2": ["0041"]}
    other = make_dataset(name="other/data/datasets", subjects=both).parent.parent
    bench = ["--benchmark", str(tiny_benchmark.source)]
    assert main(["data", "link", str(other), "--into", str(into), *bench]) == 1
    assert "already exists (a link to" in capsys.readouterr().err
    assert (into / "data").resolve() == (extracted / "data").resolve()
    assert main(["data", "link", str(other), "--into", str(into), "--force", *bench]) == 0
    assert (into / "data").resolve() == (other / "data").resolve()
    assert (extracted / "data" / "datasets").is_dir()  # the old target was only unlinked, never deleted
    # A real folder in the way is refused too.
    into2 = tmp_path / "bd2"
    (into2 / "data").mkdir(parents=True)
    with pytest.raises(DataError, match="a folder, not a link"):
        link_data(extracted, into2)


def test_link_fails_when_the_data_fails_the_check(
    extracted: Path, tmp_path: Path, tiny_benchmark, capsys
) -> None:  # noqa: ANN001
    (extracted / "data" / "datasets" / "testset2" / "0041" / "0041" / "e_1" / "flame_params.json").unlink()
    args = [
        "data",
        "link",
        str(extracted),
        "--into",
        str(tmp_path / "bd"),
        "--benchmark",
        str(tiny_benchmark.source),
    ]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "[json-missing]" in out and "FAIL" in out


def test_tarball_never_overwrites_other_files(extracted: Path, tmp_path: Path) -> None:
    (extracted / "README.md").write_text("from the tarball")
    path = tmp_path / "with_readme.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(extracted / "data", arcname="data")
        tar.add(extracted / "README.md", arcname="README.md")
    into = tmp_path / "bd"
    into.mkdir()
    (into / "README.md").write_text("ours")
    with pytest.raises(DataError, match="'README.md' would overwrite"):
        link_data(path, into, force=True)
    assert (into / "README.md").read_text() == "ours" and not (into / "data").exists()
