"""Typed, documented plugin options, parsed from the command line's ``key=value`` strings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import PluginError


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def parse_floats(text: str) -> list[float]:
    """'1,2.5,3' -> [1.0, 2.5, 3.0]."""
    return [float(part) for part in str(text).split(",") if part.strip()]


def parse_mapping(text: str) -> dict[str, float]:
    """'Y_H2O:2,Y_OH:0.5' -> {'Y_H2O': 2.0, 'Y_OH': 0.5}."""
    result: dict[str, float] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition(":")
        if not sep:
            raise ValueError(f"expected name:value pairs separated by commas, got {part!r}")
        result[key.strip()] = float(value)
    return result


@dataclass(frozen=True)
class Option:
    """One plugin option: name, default, one-line help; `type` parses strings (inferred from the default).

    `minimum` bounds a number from below, checked with the type, so a value out of range is refused before the
    plugin runs (and before a build makes its work folder). `input_file` marks a path the plugin reads (a
    source table, a mechanism file): the command refuses an output that is that file."""

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    minimum: float | None = None
    input_file: bool = False

    @property
    def parser(self) -> Callable[[str], Any]:
        if self.type is not None:
            return self.type
        if isinstance(self.default, bool):
            return parse_bool
        if isinstance(self.default, (int, float, str)):
            return type(self.default)
        return str

    @property
    def type_name(self) -> str:
        names = {parse_bool: "bool", parse_floats: "floats", parse_mapping: "name:value,..."}
        parser = self.parser
        return names.get(parser, getattr(parser, "__name__", "value"))

    def convert(self, value: Any, owner: str) -> Any:
        """`value` as this option's type: a string (command line) is parsed; a value from YAML or Python must
        already have the type (an int where a float is expected is widened), else a one-line PluginError."""
        try:
            value = self.parser(value) if isinstance(value, str) else self.check_typed(value)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{owner}: option {self.name}={value!r}: expected {self.type_name} ({exc})") from None
        if self.choices is not None and value not in self.choices:
            raise PluginError(f"{owner}: option {self.name}={value!r}: expected one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise PluginError(f"{owner}: option {self.name}={value!r}: expected {self.type_name} >= {self.minimum:g}")
        return value

    def check_typed(self, value: Any) -> Any:
        parser = self.parser
        if parser is parse_bool or parser is int:
            wanted: type = bool if parser is parse_bool else int
            if isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
                raise TypeError(f"got {type(value).__name__}")
            return value
        if parser is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"got {type(value).__name__}")
            return float(value)
        if parser is str:
            if not isinstance(value, str):
                raise TypeError(f"got {type(value).__name__}")
            return value
        if parser is parse_floats and isinstance(value, (list, tuple)):
            return [float(v) for v in value]
        if parser is parse_mapping and isinstance(value, dict):
            return {str(k): float(v) for k, v in value.items()}
        return value  # a custom type: the plugin checks what it cannot express


def resolve_options(options: Iterable[Option], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overlaid with `given`, each converted to its type; unknown names are a one-line error."""
    declared = {option.name: option for option in options}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        valid = ", ".join(declared) or "(none)"
        raise PluginError(f"{owner}: unknown option {unknown[0]!r}; valid options: {valid}")
    resolved = {name: option.default for name, option in declared.items()}
    for name, value in given.items():
        resolved[name] = declared[name].convert(value, owner)
    return resolved


def input_files(options: Iterable[Option], values: Mapping[str, Any]) -> dict[str, Any]:
    """{"the --NAME file": path} of the options marked ``input_file``, from resolved option `values`: what a
    command must not write over."""
    return {f"the --{option.name.replace('_', '-')} file": values.get(option.name)
            for option in options if option.input_file}


def parse_key_values(items: Iterable[str], what: str) -> dict[str, str]:
    """['a=1', 'b=x'] -> {'a': '1', 'b': 'x'}; a missing '=' is a one-line error naming `what`."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PluginError(f"{what}: expected key=value, got {item!r}")
        result[key.strip()] = value.strip()
    return result
