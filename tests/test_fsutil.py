from __future__ import annotations

import json
import math
import os
import stat

import pytest

from nesbench.fsutil import (
    file_digest,
    file_digests,
    holder_lock,
    make_temp_dir,
    read_json_strict,
    sweep_temp_files,
    write_json_atomic,
    write_text_atomic,
)


def test_atomic_writes_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.json", "{}")
        assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644  # not mkstemp's 0600
        (tmp_path / "shared.png").write_text("x")
        os.chmod(tmp_path / "shared.png", 0o664)
        write_text_atomic(tmp_path / "shared.png", "y")  # replacing keeps the file's mode
        assert stat.S_IMODE((tmp_path / "shared.png").stat().st_mode) == 0o664
        assert stat.S_IMODE(make_temp_dir(tmp_path, ".gen.").stat().st_mode) == 0o755
    finally:
        os.umask(old)


def test_temp_files_are_swept_and_locks_record_the_holder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".nbtmp.summary.json.x1y2.json").write_text("partial")
    assert sweep_temp_files(tmp_path) == 1 and not list((tmp_path / "a").iterdir())
    with holder_lock(tmp_path / "run.lock"):
        assert f":{os.getpid()}" in (tmp_path / "run.lock").read_text()


def test_json_writes_are_strict_and_non_finite_numbers_become_null(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": math.inf, "b": [math.nan, -math.inf, 1.5], "c": (1, 2)})

    def refuse(name):
        raise AssertionError(name)

    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": [1, 2],
    }
    path.write_text('{"a": NaN}')
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        read_json_strict(path)


def test_fifos_are_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)  # opening it for reading would block this test forever
    with pytest.raises(OSError, match="not a regular file"):
        read_json_strict(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        file_digest(fifo)
    assert file_digests([fifo])[0].startswith("unreadable")


def test_file_digest_changes_with_content_not_with_mtime(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"abcd")
    d = file_digest(p)
    os.utime(p, ns=(1, 1))
    assert file_digest(p) == d
    p.write_bytes(b"abce")
    os.utime(p, ns=(1, 1))
    assert file_digest(p) != d
