"""Which plugin distributions, with their versions, produced a table or a run.

A table built through :func:`build_table` records its generator plugin (root attribute ``generator``); a run's
``config.json`` lists under ``plugins`` the table's generator (when the table records it) and every plugin the run
loaded (task, model, weighting and the strategies it composes, physics losses), and ``surrogate export`` copies
that list into the ONNX metadata. So a result says which packages made it, not only which plugin names, which
two packages may share.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterable, Mapping

from . import registry
from .table import GENERATOR_KEY, generated_by

RECORD_KEYS = tuple(field.name for field in dataclasses.fields(registry.Origin))


def build_table(kind: str, output: str | os.PathLike, given: Mapping[str, Any], *, progress: bool = True) -> Any:
    """Resolve the options of the table generator `kind` and build `output` with it, the file recording the
    generator's origin; returns the generator's BuildReport."""
    generator, options = registry.configure("tables", kind, given)
    return build_configured(kind, generator, output, options, progress=progress)


def build_configured(kind: str, generator: Any, output: str | os.PathLike, options: Mapping[str, Any], *,
                     progress: bool = True) -> Any:
    """Build `output` with the generator of `kind` already configured (options resolved and checked), the file
    recording the generator's origin; returns the generator's BuildReport."""
    with generated_by(registry.origin("tables", kind).record()):
        return generator.build(output, progress=progress, **options)


def recorded_origin(record: Any) -> registry.Origin | None:
    """The origin a record ({kind, name, package, version}, as :meth:`registry.Origin.record` writes it) stands
    for; None for anything else (a hand-edited file)."""
    if not isinstance(record, dict) or not all(isinstance(record.get(key), str) for key in RECORD_KEYS):
        return None
    return registry.Origin(**{key: record[key] for key in RECORD_KEYS})


def described(record: Any) -> str:
    """How a recorded plugin reads: ``model 'mlp' (package thermo-surrogate 0.1.0)``; a malformed entry as JSON."""
    origin = recorded_origin(record)
    return str(origin) if origin is not None else json.dumps(record)


def run_plugins(used: Iterable[registry.Origin], table_attrs: Mapping[str, Any]) -> list[dict[str, str]]:
    """config.json's ``plugins``: the table's generator first when the table records it, then the plugins a run
    used, in the order it loaded them."""
    generator = recorded_origin(table_attrs.get(GENERATOR_KEY))
    return [origin.record() for origin in ([generator] if generator is not None else []) + list(used)]
