"""Loss-term names: the one place that knows their prefixes.

The trainer and every plugin speak of loss terms by name. A name is ``<group>/<detail>``:

========================  ==========================================================================
``data/<output>``          error of one output against its target (``data/Y_H2O``, ``data/u``)
``physics/<law>``          a conservation law (``physics/mixture_fraction``, ``physics/energy``)
``pde/<part>``             a PDE residual or condition (``pde/residual``, ``pde/boundary``)
``kl``                     the Kullback-Leibler term of a variational model (no group)
``reg/<norm>``             weight regularization (``reg/l2``); strategies leave these at weight 1
========================  ==========================================================================

A term's value is an element-wise tensor, never pre-averaged, so a strategy can weight outputs, samples or
single elements: 1-D with one value (or a fixed number of values, flattened) per sample of the batch or per
point of an entry of ``Batch.extras`` (boundary points), or a scalar for a penalty on the parameters. The
trainer checks this on the first batch (:mod:`surrogate.plugin_checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import torch

LossTerms = dict[str, "torch.Tensor"]
DATA = "data"
PHYSICS = "physics"
PDE = "pde"
REG = "reg"
KL = "kl"
GROUPS = (DATA, PHYSICS, PDE, REG)
DATA_PREFIX = f"{DATA}/"
REG_PREFIX = f"{REG}/"


def data_term(output_name: str) -> str:
    """Name of the data term of one output, e.g. ``data/Y_H2O``."""
    return f"{DATA_PREFIX}{output_name}"


def physics_term(law: str) -> str:
    return f"{PHYSICS}/{law}"


def pde_term(part: str) -> str:
    return f"{PDE}/{part}"


def reg_term(norm: str) -> str:
    return f"{REG_PREFIX}{norm}"


def output_of(term: str) -> str | None:
    """The output a data term belongs to, or None for any other term."""
    return term[len(DATA_PREFIX):] if term.startswith(DATA_PREFIX) else None


def is_data(term: str) -> bool:
    return term.startswith(DATA_PREFIX)


def is_regularization(term: str) -> bool:
    return term.startswith(REG_PREFIX)


def data_terms(terms: Iterable[str] | Mapping[str, object]) -> list[str]:
    return [name for name in terms if is_data(name)]


def check_name(term: str, owner: str) -> None:
    """A one-line error for a term name outside the scheme above."""
    from .errors import PluginError

    group, sep, detail = term.partition("/")
    if term == KL:
        return
    if not sep or group not in GROUPS or not detail:
        raise PluginError(f"{owner}: loss term {term!r} is not named '<group>/<name>' with group one of "
                          f"{', '.join(GROUPS)} (or 'kl')")


def term_means(terms: "LossTerms") -> dict[str, float]:
    """Mean of each element-wise term, as plain floats."""
    return {name: float(value.detach().mean()) for name, value in terms.items()}


def stacked(values: Sequence["torch.Tensor"]) -> "torch.Tensor | None":
    """The [n, len(values)] matrix whose column j is ``values[j]``, for 1-D terms of one shape (None otherwise).

    A task that computes its per-output errors as one matrix and hands out its columns (``matrix.unbind(1)``, as
    the regression task does) gets that matrix back as it is: per-term means, weighted sums and the epoch's
    metrics are then one reduction over it, with no copy and no per-column autograd node every step. Any other
    terms are stacked (a copy); the values are the same either way."""
    import torch

    first = values[0]
    if first.dim() != 1:
        return None
    base = first._base
    if (base is not None and base.dim() == 2 and tuple(base.shape) == (len(first), len(values))
            and base.requires_grad == first.requires_grad):
        offset, step, stride = base.storage_offset(), base.stride(1), (base.stride(0),)
        for j, value in enumerate(values):  # column j of base, in order (one loop: this runs every step)
            if value._base is not base or value.storage_offset() != offset + j * step or value.stride() != stride \
                    or value.shape != first.shape:
                break
        else:
            return base
    if any(value.shape != first.shape for value in values):
        return None
    return torch.stack(list(values), dim=1)
