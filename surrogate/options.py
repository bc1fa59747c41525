"""Typed, documented plugin options, parsed from the command line's ``key=value`` strings.

Each option declares its type (inferred from the default unless given), its choices or its numeric range
(:class:`surrogate.ranges.Range`); :meth:`Option.convert` is the one place a value is checked, whether it comes
from the command line (a string), a YAML config or Python, and the registry checks every default against the
same declaration when it loads a plugin. Floats are finite unless the declared range says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import PluginError
from .ranges import ANY, Range


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


def parse_names(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']."""
    return [part.strip() for part in str(text).split(",") if part.strip()]


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


def _real(value: Any) -> float:
    """`value` as a float when it is a real number (not a bool), else TypeError: what YAML and Python may give
    where a number is expected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"got {type(value).__name__}")
    return float(value)


def _exactly(kind: type) -> Callable[[Any], Any]:
    """A check that passes values of exactly `kind` (a bool is no int) and refuses the rest with TypeError."""
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise TypeError(f"got {type(value).__name__}")
        return value
    return check


def _sequence(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    """A check that passes a list or tuple whose items pass `item`, as a list."""
    def check(value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"got {type(value).__name__}")
        return [item(v) for v in value]
    return check


def _mapping(value: Any) -> dict[str, float]:
    """A mapping of names to real numbers, as {str: float}."""
    if not isinstance(value, Mapping):
        raise TypeError(f"got {type(value).__name__}")
    return {str(k): _real(v) for k, v in value.items()}


# how a value that is already typed (YAML, Python) is checked, by the parser a string would go through
TYPED_CHECKS: dict[Callable[[str], Any], Callable[[Any], Any]] = {
    parse_bool: _exactly(bool), int: _exactly(int), float: _real, str: _exactly(str),
    parse_floats: _sequence(_real), parse_names: _sequence(_exactly(str)), parse_mapping: _mapping,
}
TYPE_NAMES = {parse_bool: "bool", parse_floats: "floats", parse_names: "names", parse_mapping: "name:value,..."}
NUMERIC = (int, float, parse_floats, parse_mapping)  # parsers whose values are numbers, checked against a Range


@dataclass(frozen=True)
class Option:
    """One plugin option: name, default, one-line help; `type` parses strings (inferred from the default: a list
    of numbers parses '1,2', a mapping 'name:1,other:2'); `choices` for text, `bounds` for numbers (each number
    of a list or mapping), shown in the help and checked on every value and on the default. `input_file` marks a
    path the plugin reads (a source table, a mechanism file): the command refuses an output that is that file."""

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    bounds: Range | None = None
    input_file: bool = False

    @property
    def parser(self) -> Callable[[str], Any]:
        if self.type is not None:
            return self.type
        if isinstance(self.default, bool):
            return parse_bool
        if isinstance(self.default, (int, float, str)):
            return type(self.default)
        if isinstance(self.default, Mapping):
            return parse_mapping
        if isinstance(self.default, (list, tuple)):
            strings = bool(self.default) and all(isinstance(v, str) for v in self.default)
            return parse_names if strings else parse_floats
        return str

    @property
    def type_name(self) -> str:
        parser = self.parser
        return TYPE_NAMES.get(parser, getattr(parser, "__name__", "value"))

    @property
    def numeric(self) -> bool:
        """Whether the values are numbers (alone, in a list or in a mapping), which a Range constrains."""
        return self.parser in NUMERIC

    @property
    def range_text(self) -> str:
        """The declared range for help texts: '> 0', 'whole, >= 1' ('' when there is none or it is unbounded)."""
        if self.bounds is None:
            return ""
        return ", ".join(part for part in ("whole" if self.bounds.whole else "", self.bounds.describe()) if part)

    def convert(self, value: Any, owner: str) -> Any:
        """`value` as this option's type: a string (command line) is parsed; a value from YAML or Python must
        already have the type (an int where a float is expected is widened); then its choices or range. Anything
        else is a one-line PluginError naming `owner`, the option, the value and what was expected."""
        try:
            converted = self.parser(value) if isinstance(value, str) else self.check_typed(value)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{owner}: option {self.name}={value!r}: expected {self.type_name} ({exc})") from None
        if self.choices is not None and converted not in self.choices:
            raise PluginError(f"{owner}: option {self.name}={converted!r}: expected one of {', '.join(self.choices)}")
        if self.numeric:
            self.check_range(converted, owner)
        return converted

    def check_typed(self, value: Any) -> Any:
        """A value that did not come as text, checked against the type its text would parse to (TypeError)."""
        check = TYPED_CHECKS.get(self.parser)
        return value if check is None else check(value)  # a custom type: the plugin checks what it cannot express

    def check_range(self, value: Any, owner: str) -> None:
        """A one-line PluginError when a number of `value` is outside the declared range (or not finite)."""
        bounds = self.bounds or ANY
        numbers = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else [value]
        outside = [number for number in numbers if not bounds.contains(number)]
        if outside:
            finite = bounds.finite and not all(math.isfinite(number) for number in outside)
            raise PluginError(f"{owner}: option {self.name}={value!r}: expected {self.expected(finite)}")

    def expected(self, finite: bool = False) -> str:
        """What a valid value is, in words: 'an integer >= 1', 'a number in (0, 1]', 'comma-separated numbers,
        each > 0', 'name:number pairs, each number >= 0'; `finite` says 'finite number' (for a NaN or inf)."""
        bounds = self.bounds or ANY
        number = ("finite " if finite else "") + ("whole number" if bounds.whole else "number")
        described = bounds.describe()
        parser = self.parser
        if parser in (int, float):
            noun = "an integer" if parser is int else f"a {number}"
            return f"{noun} {described}".rstrip()
        if parser is parse_floats:
            return f"comma-separated {number}s" + (f", each {described}" if described else "")
        return f"name:{number} pairs" + (f", each {number} {described}" if described else "")

    def check_default(self, owner: str) -> None:
        """A one-line PluginError when the default itself breaks the declaration (a bug of the plugin)."""
        try:
            self.convert(self.default, owner)
        except PluginError as exc:
            raise PluginError(f"{exc} (the option's own default)") from None


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
