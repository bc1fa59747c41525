"""Plugin discovery over ``importlib.metadata`` entry points.

Built-in plugins register in this project's ``pyproject.toml`` exactly as a third-party package would; the
core never imports a plugin by name. Each plugin is a class with a ``description`` (one line) and
``options`` (a tuple of :class:`~surrogate.options.Option`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Mapping

from .errors import PluginError
from .options import Option, resolve_options

GROUPS = {
    "tables": "surrogate.tables",
    "models": "surrogate.models",
    "weightings": "surrogate.weightings",
    "physics": "surrogate.physics",
}
KIND_NAMES = {"tables": "table kind", "models": "model", "weightings": "weighting", "physics": "physics loss"}


@functools.lru_cache(maxsize=None)
def available(kind: str) -> dict[str, EntryPoint]:
    """Entry points of one plugin kind ('tables', 'models', 'weightings', 'physics'), read once."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def load(kind: str, name: str) -> Any:
    """The plugin class registered as `name`; an unknown name is a one-line error listing the valid ones."""
    plugins = available(kind)
    if name not in plugins:
        valid = ", ".join(sorted(plugins)) or "(none installed)"
        raise PluginError(f"unknown {KIND_NAMES[kind]} {name!r}; available: {valid}")
    try:
        plugin = plugins[name].load()
    except Exception as exc:  # a broken third-party plugin must not hide the others
        raise PluginError(f"{KIND_NAMES[kind]} {name!r} failed to load from {plugins[name].value}: {exc}") from exc
    return plugin


def plugin_options(plugin: Any) -> tuple[Option, ...]:
    return tuple(getattr(plugin, "options", ()))


def configure(kind: str, name: str, given: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Load a plugin and resolve its options: (class, {option: typed value})."""
    plugin = load(kind, name)
    return plugin, resolve_options(plugin_options(plugin), given, f"{KIND_NAMES[kind]} {name!r}")


@dataclass
class PluginInfo:
    kind: str
    name: str
    description: str
    options: tuple[Option, ...]
    source: str
    distribution: str


def describe(kind: str) -> list[PluginInfo]:
    """Name, description, options and providing package of every plugin of a kind, sorted by name."""
    infos = []
    for name, ep in sorted(available(kind).items()):
        plugin = load(kind, name)
        dist = getattr(ep, "dist", None)
        infos.append(
            PluginInfo(
                kind=kind,
                name=name,
                description=str(getattr(plugin, "description", "")).strip(),
                options=plugin_options(plugin),
                source=ep.value,
                distribution=f"{dist.name} {dist.version}" if dist is not None else "?",
            )
        )
    return infos
