"""Atomic file writes: write to a temporary sibling, then rename, so a kill never leaves half a file."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before long work) if `path` cannot be created; returns it as a Path."""
    from .errors import UserError

    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{target}: directory {parent} is not writable")
    if target.is_dir():
        raise UserError(f"{target}: is a directory, expected a file path")
    return target
