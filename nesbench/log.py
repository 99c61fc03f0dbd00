"""Notes and warnings go through `logging` (loggers ``nesbench.*``), not ``print``.

The package logger ``nesbench`` writes each record as one line to the *current* ``sys.stderr``: ``[tag] text`` for
a progress note logged with ``extra=tag("run")``, else ``note: text`` (INFO) or ``warning: text`` (WARNING and
above), the lines the harness printed before. It does not propagate to the root logger; to send the notes
elsewhere or silence them, change its handlers or level (``logging.getLogger("nesbench")``). Command output
(tables, results, summaries) stays on stdout through ``print``.
"""

from __future__ import annotations

import logging
import sys

ROOT = "nesbench"


class StderrLines(logging.Handler):
    """One line per record on ``sys.stderr`` as it is at emit time (so redirected or captured stderr gets it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


class NoteFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if tag_name := getattr(record, "tag", None):
            return f"[{tag_name}] {text}"
        return f"{'warning' if record.levelno >= logging.WARNING else 'note'}: {text}"


def tag(name: str) -> dict[str, str]:
    """``extra`` of a progress note shown as ``[name] text``."""
    return {"tag": name}


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a ``nesbench.*`` module name), with the package's stderr handler in place."""
    root = logging.getLogger(ROOT)
    if not any(isinstance(h, StderrLines) for h in root.handlers):
        handler = StderrLines()
        handler.setFormatter(NoteFormat())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logging.getLogger(name)
