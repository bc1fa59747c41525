"""Griffe extension for the documentation site: Sphinx roles in docstrings shown as code.

The toolkit's docstrings name other objects the Sphinx way (``:class:`~surrogate.closure.SoftmaxClosure```,
``:func:`check_plugin```); Markdown has no roles, so mkdocstrings would print them verbatim. This extension,
named in mkdocs.yml, rewrites each role into inline code of the name as Sphinx would show it (the last
component after ``~``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|obj|data|exc|const):`(?P<tilde>~?)(?P<target>[^`]+)`")


def plain(docstring: str) -> str:
    """`docstring` with every Sphinx cross-reference role replaced by inline code of its shown name."""
    def shown(match: re.Match[str]) -> str:
        target = match["target"]
        return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"

    return ROLE.sub(shown, docstring)


class RstRoles(griffe.Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
