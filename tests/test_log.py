"""Notes go through logging and reach stderr as the one-line `note:` / `warning:` / `[tag]` lines."""

import logging

from nesbench.log import get_logger, tag


def test_notes_warnings_and_tagged_progress_are_one_stderr_line_each(capsys):
    log = get_logger("nesbench.some.module")
    log.info("dataset found in a subfolder")
    log.warning("plugin skipped")
    log.info("3 jobs", extra=tag("run"))
    log.debug("not shown")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "note: dataset found in a subfolder\nwarning: plugin skipped\n[run] 3 jobs\n"


def test_the_package_logger_can_be_silenced_like_any_logger(capsys):
    root = logging.getLogger("nesbench")
    get_logger("nesbench.x")
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        get_logger("nesbench.x").warning("quiet")
    finally:
        root.setLevel(level)
    assert capsys.readouterr().err == ""
