"""The checks every command runs on the paths it writes, before any work, so one policy holds everywhere.

- An empty path is refused (``-o ''`` would otherwise mean the current folder, or a file named nothing).
- An output is never one of the command's inputs: not the same file after resolving links and spellings
  (``./x`` and ``x``, symbolic and hard links), and an output folder is neither an input nor holds one. Writing
  there would destroy what the command reads; ``--overwrite`` does not change that.
- An output that already exists, a file or a folder that is not empty, is refused unless the user passed
  ``--overwrite``; the old file is then replaced only once the new one is complete (:mod:`surrogate.atomic`).
  Folders that a resumable job fills and reuses (a run directory, the demo's or a comparison's folder) are
  checked with ``overwrite=None``: what they hold is the job's to resume, not something to refuse.

Every refusal is a one-line :class:`~surrogate.errors.UserError` that names the option and the paths.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Mapping, Union

from .atomic import check_writable
from .errors import UserError

PathLike = Union[str, "os.PathLike[str]"]
Inputs = Mapping[str, "PathLike | None"]  # {what the input is, e.g. "the input file": its path}; None: not given
OVERWRITE_FLAG = "--overwrite"


def output_path(path: PathLike, flag: str, what: str = "file") -> Path:
    """`path` as a Path; an empty (or blank) path is a one-line error naming `flag`."""
    if not str(path).strip():
        raise UserError(f"{flag} '': an empty path; expected the {what} to write")
    return Path(path)


def same_file(a: PathLike, b: PathLike) -> bool:
    """Both name one file: the same path after resolving links and spellings, or (hard links) the same inode."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def holds(folder: PathLike, path: PathLike) -> bool:
    """`path` is `folder` or lies somewhere below it (links resolved)."""
    inner, outer = Path(path).resolve(), Path(folder).resolve()
    return inner == outer or outer in inner.parents


def given_inputs(inputs: Inputs | None) -> dict[str, Path]:
    """The inputs that were given (a path that is not None and not empty)."""
    return {what: Path(path) for what, path in (inputs or {}).items() if path is not None and str(path).strip()}


def check_not_input(output: Path, inputs: Inputs | None, flag: str, folder: bool = False) -> None:
    """`output` is none of the `inputs`, and, for an output `folder`, holds none of them."""
    for what, source in given_inputs(inputs).items():
        if same_file(output, source):
            raise UserError(f"{flag} {output}: is {what} {source}; writing there would destroy it, choose another "
                            "output path")
        if folder and holds(output, source):
            raise UserError(f"{flag} {output}: holds {what} {source}; writing this folder could destroy it, choose "
                            "another output folder")


def check_output_file(path: PathLike, *, inputs: Inputs | None = None, overwrite: bool = False,
                      flag: str = "-o/--output") -> Path:
    """`path` as an output file, checked before any work: not empty, none of the `inputs`, not an existing file
    unless `overwrite`, in a writable folder. Returns it as a Path."""
    target = output_path(path, flag)
    check_not_input(target, inputs, flag)
    if target.is_dir():
        raise UserError(f"{flag} {target}: is a directory, expected a file path")
    if target.exists() and not overwrite:
        raise UserError(f"{flag} {target}: already exists; pass {OVERWRITE_FLAG} to replace it, or choose another "
                        "path")
    return check_writable(target)


def check_output_folder(path: PathLike, *, inputs: Inputs | None = None, overwrite: bool | None = False,
                        flag: str = "-o/--output") -> Path:
    """`path` as an output folder, checked before any work: not empty, not a file, neither an input nor holding
    one, and, unless `overwrite` (None: a folder the job resumes from and reuses), not a folder with content.
    A folder that does not exist yet is left to the command to make (with its parents). Returns it as a Path."""
    target = output_path(path, flag, "folder")
    check_not_input(target, inputs, flag, folder=True)
    if target.exists() and not target.is_dir():
        raise UserError(f"{flag} {target}: is a file, expected a folder")
    if target.is_dir():
        if overwrite is False and any(target.iterdir()):
            raise UserError(f"{flag} {target}: is a folder that is not empty; pass {OVERWRITE_FLAG} to write into "
                            "it, or choose another folder")
        if not os.access(target, os.W_OK):
            raise UserError(f"{flag} {target}: folder is not writable")
    return target
