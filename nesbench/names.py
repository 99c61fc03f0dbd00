"""The one rule for names that become path components (methods, benchmarks, test sets, subjects, sequences,
protocols, splits, scorers): checked at every boundary so that no name can point a write outside its folder.

A name starts with a letter or digit and continues with letters, digits, ``_``, ``.``, ``-`` (at most 100
characters): no ``/``, no ``..`` component, no leading dot (hidden files), no spaces or control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nesbench.errors import ConfigError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
RULE = "letters, digits, '_', '.', '-', starting with a letter or digit, at most 100 characters"


def is_valid_name(name: object) -> bool:
    """Whether ``name`` is a string that is safe as one path component (see the module docstring)."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def check_name(name: object, what: str, where: str = "") -> str:
    """``name`` unchanged when valid, else ConfigError naming it, what it is and where it came from."""
    if is_valid_name(name):
        return name  # type: ignore[return-value]
    origin = f"{where}: " if where else ""
    raise ConfigError(f"{origin}{what} {name!r} is not a valid name ({RULE}); rename it")


def check_names(names: Iterable[object], what: str, where: str = "") -> list[str]:
    """Every name checked with :func:`check_name`, duplicates removed (first occurrence kept, order preserved)."""
    return list(dict.fromkeys(check_name(n, what, where) for n in names))
