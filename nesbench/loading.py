"""One loader for lazy ``"module:attr"`` references (scorers, methods, method plugins)."""

from __future__ import annotations

import importlib
from typing import Any


class ObjectLoadError(Exception):
    """Importing a ``module:attr`` reference failed; the message is one line (exception type and first line)."""


def load_object(ref: str) -> Any:
    """The object ``attr`` of module ``module`` named by ``ref`` (``"package.module:attr"``).

    Whatever the import raises (a plugin may raise anything) becomes :class:`ObjectLoadError` with one line;
    callers add where the reference came from and the fix.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ObjectLoadError(f"ValueError: {ref!r} is not of the form 'module:attr'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise ObjectLoadError(f"{type(exc).__name__}: {first}") from None
