"""Method-specific options, declared by the method as a typed dataclass (as nerfstudio's method configs are).

A method's :class:`~nesbench.methods.spec.MethodSpec` names its options class (``config``). Every field becomes a
command-line flag ``--<method>.<field-with-dashes>`` of `nesbench run` (and of `nesbench upstream eval` for the
upstream methods), so an option of one method is never a global flag. Supported field types: ``bool`` (given as
``on``/``off``), ``int``, ``str`` and ``Literal[...]`` choices, each optional (``None`` = the method's default).
The chosen values are recorded per method in the run's plan and reach the method as ``job.options``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from nesbench.errors import ConfigError

ON_OFF = {"on": True, "off": False}
_DEST = "method_option:{method}:{field}"


@dataclasses.dataclass(frozen=True)
class OptionField:
    """One declared option: its name, flag, how a string is parsed, the allowed values and the help line."""

    method: str
    name: str
    kind: type
    choices: tuple[str, ...] | None
    help: str

    @property
    def flag(self) -> str:
        return f"--{self.method}.{self.name.replace('_', '-')}"

    @property
    def dest(self) -> str:
        return _DEST.format(method=self.method, field=self.name)

    def parse(self, text: str) -> Any:
        """The typed value of the command-line string ``text`` (ConfigError naming the flag when invalid)."""
        if self.kind is bool:
            if text not in ON_OFF:
                raise ConfigError(f"{self.flag}: give on or off, not {text!r}")
            return ON_OFF[text]
        if self.choices is not None and text not in self.choices:
            raise ConfigError(f"{self.flag}: give one of {', '.join(self.choices)}, not {text!r}")
        if self.kind is int:
            try:
                return int(text)
            except ValueError:
                raise ConfigError(f"{self.flag}: give an integer, not {text!r}") from None
        return text


def option_fields(method: str, config: type | None) -> list[OptionField]:
    """The declared options of ``method`` (its ``config`` dataclass), in declaration order."""
    if config is None:
        return []
    if not dataclasses.is_dataclass(config):
        raise ConfigError(f"method {method!r}: config must be a dataclass, got {config!r}")
    hints = typing.get_type_hints(config)
    out = []
    for f in dataclasses.fields(config):
        kind, choices = _kind(hints[f.name])
        if kind is None:
            raise ConfigError(
                f"method {method!r}: option {f.name!r} has type {hints[f.name]!r}; use bool, int, str or Literal"
            )
        out.append(OptionField(method, f.name, kind, choices, str(f.metadata.get("help", ""))))
    return out


def _kind(hint: Any) -> tuple[type | None, tuple[str, ...] | None]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is Literal:
        values = typing.get_args(hint)
        return (str, tuple(map(str, values))) if all(isinstance(v, str) for v in values) else (None, None)
    if hint in (bool, int, str):
        return hint, (("on", "off") if hint is bool else None)
    return None, None


def add_option_flags(parser: argparse.ArgumentParser, methods: Iterable[Any]) -> None:
    """Add ``--<method>.<option>`` for every option every spec in ``methods`` declares (one argument group)."""
    fields = [f for spec in methods for f in option_fields(spec.name, getattr(spec, "config", None))]
    if not fields:
        return
    group = parser.add_argument_group("method options (declared by each method; default: the method's own)")
    for f in fields:
        group.add_argument(
            f.flag,
            dest=f.dest,
            choices=f.choices,
            metavar="|".join(f.choices) if f.choices else f.kind.__name__.upper(),
            help=f.help,
        )


def chosen_options(args: argparse.Namespace, methods: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """{method: {option: typed value}} of the flags given on the command line (methods without any are left out)."""
    out: dict[str, dict[str, Any]] = {}
    for spec in methods:
        for f in option_fields(spec.name, getattr(spec, "config", None)):
            text = getattr(args, f.dest, None)
            if text is not None:
                out.setdefault(spec.name, {})[f.name] = f.parse(text)
    return out


def check_options(method: str, config: type | None, options: dict[str, Any]) -> None:
    """ConfigError unless every key of ``options`` is a declared option of ``method`` with a valid value."""
    fields = {f.name: f for f in option_fields(method, config)}
    for name, value in options.items():
        if name not in fields:
            known = ", ".join(f.flag for f in fields.values()) or "none"
            raise ConfigError(f"method {method!r} has no option {name!r} (its options: {known})")
        f = fields[name]
        ok = isinstance(value, f.kind) and not (f.kind is int and isinstance(value, bool))
        if not ok or (f.choices is not None and f.kind is str and value not in f.choices):
            raise ConfigError(f"{f.flag}: invalid value {value!r}")
