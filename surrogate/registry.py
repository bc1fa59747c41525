"""Plugin discovery over ``importlib.metadata`` entry points, checked against :mod:`surrogate.contracts`.

Built-in plugins register in this project's ``pyproject.toml`` exactly as a third-party package would; the
core never imports a plugin by name. A plugin is checked against its contract when it is loaded, so a missing
method is a one-line error before any training starts or any file is written. Failures stay local: a plugin
that cannot be imported or checked is skipped with a warning wherever it is not the one asked for, and two
packages registering one name give a warning naming both; ``package:name`` picks one of them.

Each plugin has an :class:`Origin` (kind, name, distribution and version): run-time errors name a plugin by it
and runs record the origins of every plugin they used (:func:`recording`).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Iterator, Mapping

from .errors import PluginError
from .options import Option, resolve_options

GROUPS = {
    "tables": "surrogate.tables",
    "tasks": "surrogate.tasks",
    "models": "surrogate.models",
    "weightings": "surrogate.weightings",
    "physics": "surrogate.physics",
    "loggers": "surrogate.loggers",
    "problems": "surrogate.problems",
}
KIND_NAMES = {"tables": "table kind", "tasks": "task", "models": "model", "weightings": "weighting",
              "physics": "physics loss", "loggers": "logger", "problems": "problem"}
BUILT_IN = "thermo-surrogate"


class PluginWarning(UserWarning):
    """A plugin was skipped (broken) or a name is registered by two packages."""


def package_of(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else "?"


@dataclass(frozen=True)
class Origin:
    """Which plugin: its kind (``models``, ...), its name, and the distribution (package) and version that
    registered it ("?" where the entry point names none). ``str()`` is how errors name it, e.g. ``weighting
    'relative' (package surrogate-plugin-example 0.1.0)``; :meth:`record` is what runs and ONNX files keep."""

    kind: str
    name: str
    package: str
    version: str

    @classmethod
    def of(cls, kind: str, entry_point: EntryPoint) -> "Origin":
        dist = getattr(entry_point, "dist", None)
        return cls(kind, entry_point.name, package_of(entry_point), dist.version if dist is not None else "?")

    def __str__(self) -> str:
        return f"{KIND_NAMES.get(self.kind, self.kind)} {self.name!r} (package {self.package} {self.version})"

    def record(self) -> dict[str, str]:
        return asdict(self)


_used: ContextVar[dict[tuple[str, str], Origin] | None] = ContextVar("surrogate_plugins_used", default=None)


@contextlib.contextmanager
def recording(used: dict[tuple[str, str], Origin]) -> Iterator[None]:
    """Within the block, every plugin :func:`load` returns (including those a plugin loads itself, such as the
    strategies a schedule blends) is added to `used`, keyed by (kind, package:name), in the order of first use."""
    token = _used.set(used)
    try:
        yield
    finally:
        _used.reset(token)


@functools.lru_cache(maxsize=None)
def registrations(kind: str) -> dict[str, tuple[EntryPoint, ...]]:
    """Every entry point of one kind by name, all packages that register it (built-in first), read once."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=GROUPS[kind]):
        if all(package_of(ep) != package_of(seen) for seen in found.get(ep.name, [])):
            found.setdefault(ep.name, []).append(ep)
    return {name: tuple(sorted(eps, key=lambda ep: (package_of(ep) != BUILT_IN, package_of(ep))))
            for name, eps in found.items()}


def refresh() -> None:
    """Forget what was read and loaded, so a plugin package installed while this process runs is found."""
    registrations.cache_clear()
    _load_entry_point.cache_clear()
    _warn_duplicate.cache_clear()


def available(kind: str) -> dict[str, EntryPoint]:
    """The entry point each name resolves to (the built-in one, else the first package by name)."""
    return {name: eps[0] for name, eps in registrations(kind).items()}


def resolve(kind: str, name: str) -> EntryPoint:
    """The entry point for `name` or `package:name`; unknown names list the valid ones; an ambiguous
    name warns once, naming both packages and the one used."""
    package, sep, plain = name.rpartition(":")
    eps = registrations(kind).get(plain if sep else name, ())
    if sep:
        eps = tuple(ep for ep in eps if package_of(ep) == package)
    if not eps:
        valid = ", ".join(sorted(registrations(kind))) or "(none installed)"
        raise PluginError(f"unknown {KIND_NAMES[kind]} {name!r}; available: {valid}")
    if len(eps) > 1:
        _warn_duplicate(kind, plain if sep else name, tuple(package_of(ep) for ep in eps))
    return eps[0]


@functools.lru_cache(maxsize=None)
def _warn_duplicate(kind: str, name: str, packages: tuple[str, ...]) -> None:
    warnings.warn(f"{KIND_NAMES[kind]} {name!r} is registered by {' and '.join(packages)}; using {packages[0]} "
                  f"(choose with {packages[1]}:{name})", PluginWarning, stacklevel=3)


@functools.lru_cache(maxsize=None)
def _load_entry_point(kind: str, entry_point: EntryPoint) -> Any:
    from .contracts import check_plugin

    package = package_of(entry_point)
    try:
        plugin = entry_point.load()
    except Exception as exc:  # a broken third-party plugin must not hide the others
        raise PluginError(f"{KIND_NAMES[kind]} {entry_point.name!r} from {package} failed to load "
                          f"({entry_point.value}): {exc.__class__.__name__}: {exc}") from None
    check_plugin(kind, entry_point.name, plugin, package)
    return plugin


def load(kind: str, name: str) -> Any:
    """The checked plugin registered as `name` (or `package:name`); any failure is a one-line PluginError."""
    entry_point = resolve(kind, name)
    plugin = _load_entry_point(kind, entry_point)
    used = _used.get()
    if used is not None:
        origin = Origin.of(kind, entry_point)
        used.setdefault((kind, f"{origin.package}:{origin.name}"), origin)
    return plugin


def origin(kind: str, name: str) -> Origin:
    """The origin of the plugin `name` (or `package:name`) resolves to."""
    return Origin.of(kind, resolve(kind, name))


def construct(plugin: Origin, factory: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """``factory(*args, **options)``: a plugin's constructor, or a model's ``build``. A ValueError it raises
    (rejecting its options or the problem) is a one-line PluginError naming the plugin and giving its message,
    not a crash."""
    try:
        return factory(*args, **options)
    except ValueError as exc:
        message = " ".join(str(exc).split()) or exc.__class__.__name__
        raise PluginError(f"{plugin}: {message}") from None


def problem_for(attrs: Mapping[str, Any], owner: str) -> Any:
    """The problem a dataset is about, built with its parameters; None when the dataset names none.

    The dataset names it in its root attribute ``problem`` (``{"name": ..., parameters}``); a file written before
    datasets named their problem is read by its table kind when a problem of that name is installed (its
    parameters then come from the root attributes). An unknown name is a one-line PluginError naming `owner`."""
    declared = attrs.get("problem")
    if isinstance(declared, Mapping) and "name" in declared:
        name, parameters = str(declared["name"]), declared
    elif str(attrs.get("kind", "")) in registrations("problems"):
        name, parameters = str(attrs["kind"]), {**attrs, "name": attrs["kind"]}
    else:
        return None
    try:
        plugin = load("problems", name)
    except PluginError as exc:
        raise PluginError(f"{owner}: the dataset's {exc}") from None
    return construct(origin("problems", name), plugin, parameters)


def plugin_options(plugin: Any) -> tuple[Option, ...]:
    return tuple(getattr(plugin, "options", ()))


def options_for(plugin: Any, given: Mapping[str, Any] | None = None, owner: str = "") -> dict[str, Any]:
    """Every option `plugin` declares, `given` ones converted and checked, the others at their declared default:
    the keywords the core passes to a plugin's constructor or ``build``. A plugin's signature repeats no default
    (the Option declaration is the one place it is written), so a caller that builds a plugin class directly (a
    test, a script) passes ``**options_for(cls, {...})``. `owner` names the plugin in errors (default: its class)."""
    return resolve_options(plugin_options(plugin), given or {}, owner or f"plugin {plugin.__qualname__}")


def configure(kind: str, name: str, given: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Load a plugin and resolve its options: (class, {option: typed value})."""
    plugin = load(kind, name)
    return plugin, options_for(plugin, given, f"{KIND_NAMES[kind]} {name!r}")


@dataclass
class PluginInfo:
    kind: str
    name: str
    description: str
    options: tuple[Option, ...]
    source: str
    distribution: str


def describe(kind: str) -> list[PluginInfo]:
    """Name, description, options and package of every loadable plugin of a kind, sorted by name; a broken
    one is skipped with a PluginWarning saying why."""
    infos = []
    for name, eps in sorted(registrations(kind).items()):
        for ep in eps:
            try:
                plugin = _load_entry_point(kind, ep)
            except PluginError as exc:
                warnings.warn(f"skipped: {exc}", PluginWarning, stacklevel=2)
                continue
            dist = getattr(ep, "dist", None)
            infos.append(PluginInfo(
                kind=kind, name=name if len(eps) == 1 else f"{package_of(ep)}:{name}",
                description=str(getattr(plugin, "description", "")).strip(), options=plugin_options(plugin),
                source=ep.value, distribution=f"{dist.name} {dist.version}" if dist is not None else "?",
            ))
    return infos
