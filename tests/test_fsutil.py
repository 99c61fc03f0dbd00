from __future__ import annotations

import os
import stat

from nesbench.fsutil import holder_lock, make_temp_dir, sweep_temp_files, write_text_atomic


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
