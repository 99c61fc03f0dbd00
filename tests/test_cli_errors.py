"""Issue 17: OS errors and unforeseen exceptions are one line (the file, what happened, the fix), never a traceback."""

from __future__ import annotations

import errno

import pytest

from nesbench import cli


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/r/summary.json"),
            "/r/summary.json: No space left",
        ),
        (PermissionError(errno.EACCES, "Permission denied", "/r/out"), "check the permissions"),
        (
            NotADirectoryError(errno.ENOTDIR, "Not a directory", "/r/file/x"),
            "a file where a folder is expected",
        ),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/r/dir"), "a folder where a file is expected"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/x"), "read-only"),
    ],
)
def test_os_errors_are_one_line_with_the_fix(monkeypatch, capsys, exc, said):
    def boom(args):
        raise exc

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=boom)
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and said in err


def test_an_unforeseen_exception_is_one_line_unless_debugging(monkeypatch, capsys):
    def boom(args):
        raise KeyError("surprise")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=boom)
    monkeypatch.delenv("NESBENCH_DEBUG", raising=False)
    assert cli.main([]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error KeyError" in err and "NESBENCH_DEBUG=1" in err
    monkeypatch.setenv("NESBENCH_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main([])
