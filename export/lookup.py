"""The structured-table lookup a surrogate replaces (:class:`StructuredLookup`, :class:`GridLookup`); it lives in
:mod:`surrogate.lookup`, since every evaluation of a row model scores it as a baseline, and is named here too."""

from surrogate.lookup import GridLookup, StructuredLookup, table_lookup

__all__ = ["GridLookup", "StructuredLookup", "table_lookup"]
