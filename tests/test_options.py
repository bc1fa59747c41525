"""Declared option ranges: every numeric option of every registered plugin declares one (so a new option cannot
forget), defaults lie inside them, values from the command line, YAML and Python are checked against them alike,
floats are finite unless an option opts in, list defaults parse lists, and the ranges show in the help."""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from surrogate import registry
from surrogate.cli.main import cli
from surrogate.contracts import BuildReport, TableGenerator, check_plugin, contracts
from surrogate.errors import PluginError
from surrogate.options import Option, parse_floats, parse_mapping, parse_names
from surrogate.ranges import COUNT, NON_NEGATIVE, POSITIVE, UNIT, Range


def declared_options() -> list[tuple[str, str, Option]]:
    """(kind, plugin, option) of every plugin registered here, built-in or not."""
    return [(kind, info.name, option) for kind in registry.GROUPS for info in registry.describe(kind)
            for option in info.options]


@pytest.mark.parametrize("kind, plugin, option", [case for case in declared_options() if case[2].numeric],
                         ids=lambda value: value.name if isinstance(value, Option) else str(value))
def test_every_numeric_plugin_option_declares_its_range(kind, plugin, option):
    assert option.bounds is not None, (f"{kind} plugin {plugin!r}: option {option.name} is numeric and declares no "
                                       "range: give it bounds=... (surrogate.ranges; ANY where every finite number "
                                       "is valid)")


def test_every_default_lies_in_its_declared_range():
    for kind, plugin, option in declared_options():
        option.check_default(f"{kind} plugin {plugin!r}")


def built_in_plugins() -> list[tuple[str, str]]:
    """(kind, name) of every plugin this toolkit registers itself."""
    return [(kind, name) for kind in registry.GROUPS for name, eps in sorted(registry.registrations(kind).items())
            if registry.package_of(eps[0]) == registry.BUILT_IN]


@pytest.mark.parametrize("kind, name", built_in_plugins(), ids=[f"{k}/{n}" for k, n in built_in_plugins()])
def test_no_built_in_signature_repeats_an_option_default(kind, name):
    """The core passes every declared option, resolved, to a plugin's constructor or build(): a default in the
    signature would be a second copy of the Option's, free to drift from what `surrogate plugins` shows."""
    plugin = registry.load(kind, name)
    declared = {option.name for option in registry.plugin_options(plugin)}
    base, methods = contracts()[kind]
    repeated = [f"{method.name}({parameter.name}={parameter.default!r})" for method in methods
                if method.name in ("__init__", "build")
                for parameter in inspect.signature(getattr(plugin, method.name)).parameters.values()
                if parameter.name in declared and parameter.default is not inspect.Parameter.empty]
    assert repeated == [], f"{kind} plugin {name!r}: the Option declaration is the one place of a default"


def test_options_for_fills_the_declared_defaults_and_checks_what_is_given():
    cls = registry.load("models", "fourier-mlp")
    assert registry.options_for(cls, {"width": "8"}) == {"depth": 4, "width": 8, "activation": "tanh",
                                                          "frequencies": 32, "sigma": 1.0, "feature_seed": 0}
    with pytest.raises(PluginError, match=r"plugin FourierMLP: option sigma=0.0: expected a number > 0"):
        registry.options_for(cls, {"sigma": 0.0})


@pytest.mark.parametrize("bounds, inside, outside, text", [
    (POSITIVE, [1e-300, 5.0], [0.0, -1.0, math.nan, math.inf], "> 0"),
    (NON_NEGATIVE, [0.0, 3.0], [-1e-12, math.nan, -math.inf], ">= 0"),
    (UNIT, [0.0, 1.0, 0.5], [-0.1, 1.1, math.nan], "in [0, 1]"),
    (Range(0, 1, low_open=True), [1.0, 0.5], [0.0], "in (0, 1]"),
    (Range(high=1, high_open=True), [-5.0, 0.99], [1.0], "< 1"),
    (Range(1, whole=True), [1.0, 4.0], [2.5, 0.0, math.inf], ">= 1"),
    (Range(0, finite=False), [0.0, math.inf], [math.nan, -1.0], ">= 0"),
    (Range(), [-1e300, 0.0], [math.nan, math.inf], ""),
])
def test_a_range_holds_its_numbers_and_describes_itself(bounds, inside, outside, text):
    assert all(bounds.contains(value) for value in inside)
    assert not any(bounds.contains(value) for value in outside)
    assert bounds.describe() == text


@pytest.mark.parametrize("option, value, expected", [
    (Option("n", 3, "", bounds=COUNT), "0", "option n=0: expected an integer >= 1"),
    (Option("n", 3, "", bounds=COUNT), 2.0, "option n=2.0: expected int (got float)"),
    (Option("n", 3, "", bounds=COUNT), True, "option n=True: expected int (got bool)"),
    (Option("x", 1.0, "", bounds=POSITIVE), "-0", "option x=-0.0: expected a number > 0"),
    (Option("x", 1.0, "", bounds=POSITIVE), "nan", "option x=nan: expected a finite number > 0"),
    (Option("x", 1.0, ""), "inf", "option x=inf: expected a finite number"),
    (Option("x", 1.0, ""), float("-inf"), "option x=-inf: expected a finite number"),
    (Option("k", 4.0, "", bounds=Range(1, whole=True)), "2.5", "option k=2.5: expected a whole number >= 1"),
    (Option("p", [1.0], "", bounds=POSITIVE), "1,-2", "option p=[1.0, -2.0]: expected comma-separated numbers, "
                                                      "each > 0"),
    (Option("p", [1.0], "", bounds=POSITIVE), 5.0, "option p=5.0: expected floats (got float)"),
    (Option("w", {}, "", bounds=NON_NEGATIVE), "a:1,b:-1", "option w={'a': 1.0, 'b': -1.0}: expected "
                                                           "name:number pairs, each number >= 0"),
    (Option("w", {}, "", bounds=NON_NEGATIVE), {"a": "x"}, "option w={'a': 'x'}: expected name:value,... "
                                                           "(got str)"),
    (Option("names", ["a"], ""), [1], "option names=[1]: expected names (got int)"),
])
def test_bad_values_are_one_line_errors_naming_the_option_the_value_and_what_was_expected(option, value, expected):
    with pytest.raises(PluginError) as raised:
        option.convert(value, "model 'toy'")
    assert str(raised.value).startswith(f"model 'toy': {expected}"), str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("option, value, converted", [
    (Option("x", 1.0, "", bounds=POSITIVE), 2, 2.0),  # an int from YAML where a float is expected
    (Option("x", 0.0, "", bounds=Range(0, finite=False)), "inf", math.inf),  # an option that opts in to inf
    (Option("p", [1.0, 2.0], ""), "3, 4", [3.0, 4.0]),  # a list default parses comma-separated numbers
    (Option("p", [], ""), (5, 6.5), [5.0, 6.5]),
    (Option("names", ["a", "b"], ""), "c, d", ["c", "d"]),  # a list of names parses names
    (Option("w", {"a": 1.0}, ""), "b:2", {"b": 2.0}),  # a mapping default parses name:value pairs
])
def test_good_values_convert_to_the_option_type(option, value, converted):
    assert option.convert(value, "owner") == converted


def test_list_and_mapping_defaults_get_list_and_mapping_parsers():
    assert Option("p", [101325.0], "").parser is parse_floats
    assert Option("p", [], "").parser is parse_floats
    assert Option("names", ["a"], "").parser is parse_names
    assert Option("w", {}, "").parser is parse_mapping
    assert Option("w", {}, "").numeric and not Option("names", ["a"], "").numeric


class BadDefaultTable(TableGenerator):
    """A table plugin whose default breaks its own declaration."""

    description: ClassVar[str] = "rows"
    options: ClassVar[tuple[Option, ...]] = (Option("rows", 0, "how many rows", bounds=COUNT),)

    @classmethod
    def build(cls, output: Any, *, progress: bool = True, **options: Any) -> BuildReport:
        raise AssertionError("never built")


def test_a_plugin_whose_default_breaks_its_declared_range_is_refused_when_loaded():
    with pytest.raises(PluginError, match=r"table plugin 'toy' from pkg: option rows=0: expected an integer >= 1 "
                                          r"\(the option's own default\)"):
        check_plugin("tables", "toy", BadDefaultTable, "pkg")


def test_ranges_show_in_the_plugin_listing_and_the_help():
    listing = CliRunner().invoke(cli, ["plugins"]).output
    assert "      width=50 (int, >= 1): neurons per hidden layer" in listing
    assert "rate=0.5 (float, in (0, 1]):" in listing
    assert "k=4.0 (float, whole, >= 1): wave number of the fast mode" in listing
    assert "pressure=[101325.0] (floats, > 0):" in listing
    table_help = CliRunner().invoke(cli, ["table", "build", "sharp-layer", "--help"]).output
    assert "[default: 0.02; range: > 0]" in " ".join(table_help.split())
    train_help = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert "[range: in [0, 4294967295]]" in train_help and "[range: in [0, 1)]" in train_help
