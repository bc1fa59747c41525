"""Atomic file writes: write to a temporary sibling, then rename, so a kill never leaves half a file.

Temporary files are hidden siblings ``.NAME.tmp-HOST-PID``. They are removed when the block fails, when the
process gets SIGINT (KeyboardInterrupt) or SIGTERM (turned into SystemExit(143) while a temporary file is open,
unless the program installed its own SIGTERM handler), and, after a SIGKILL, by the next write of the same file
on the same host, which removes the temporary files of processes that no longer exist. The host name keeps a
writer on another node of a shared file system from removing a live writer's file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import signal
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

SIGTERM_EXIT = 128 + signal.SIGTERM  # the shell's exit status for a process ended by SIGTERM
NEARLY_FULL = 1 << 20  # bytes: less free space than this after a failed write means the disk is full


def _temp_prefix(target: Path) -> str:
    """``.NAME.tmp-HOST-``: the temporary files of `target` written on this host."""
    return f".{target.name}.tmp-{socket.gethostname()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_stale_temps(target: Path) -> None:
    """Remove temporary files of `target` left on this host by processes that no longer exist (SIGKILL, power
    loss), so they neither pile up nor confuse a user listing the folder."""
    prefix = _temp_prefix(target)
    with contextlib.suppress(OSError):
        for candidate in target.parent.glob(f"{_glob_escape(prefix)}*"):
            pid = candidate.name[len(prefix):]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    candidate.unlink()


def _glob_escape(text: str) -> str:
    """`text` with the glob metacharacters * ? [ taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(SIGTERM_EXIT)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM raises SystemExit in the main thread, so `finally` clauses (which remove
    temporary files) run; Python's default would end the process without them. A handler the program installed
    itself is left alone, and so is SIGTERM in other threads (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds. A failed write
    (a full disk, a file size limit) becomes one OSError naming `path`, not the hidden temporary file."""
    target = Path(path)
    _remove_stale_temps(target)
    tmp = target.with_name(f"{_temp_prefix(target)}{os.getpid()}")
    with _sigterm_unwinds():
        try:
            with naming_failed_writes(target, tmp):
                yield tmp
                os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def naming_failed_writes(target: Path, tmp: Path | None = None) -> Iterator[None]:
    """A failed write in the block (HDF5 and torch write in C and report one as an OSError or a RuntimeError)
    is raised as the one-line OSError of :func:`failed_write` about `target`, written through `tmp`."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        error = failed_write(exc, target, tmp)
        if error is None:
            raise
        raise error from None


def failed_write(exc: BaseException, target: Path, tmp: Path | None = None) -> OSError | None:
    """`exc` as a one-line OSError about writing `target` (written through `tmp`), or None when it is no failed
    write (a RuntimeError that is a bug stays what it is). An OSError naming another file (a folder that vanished)
    is kept as it is; any other names `target`, with the system's short text for its errno instead of a library's
    page of diagnostics (HDF5 quotes time, descriptor and offsets, and its errno in the text). A RuntimeError is a
    failed write when it quotes an errno (HDF5) or when the file system has (almost) no space left (torch quotes
    none)."""
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) != str(tmp):
        return exc
    quoted = re.search(r"errno = (\d+)", str(exc))
    code = getattr(exc, "errno", None) or (int(quoted.group(1)) if quoted else None)
    if code is None and isinstance(exc, OSError):
        return OSError(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, str(target))
    if code is None:
        try:
            if shutil.disk_usage(target.parent).free >= NEARLY_FULL:
                return None
        except OSError:
            return None
        code = errno.ENOSPC
    return OSError(code, os.strerror(code), str(target))


def reserve(path: str | os.PathLike) -> None:
    """Allocate the blocks of the whole (sparse) file at `path` now: a memory map written later on a full disk
    gets SIGBUS, which ends the process with no word, where this gets an OSError (ENOSPC) the caller reports."""
    if not hasattr(os, "posix_fallocate"):  # macOS: nothing to reserve with
        return
    with open(path, "r+b") as handle:
        os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)


def strict_json(data: Any) -> Any:
    """`data` with every NaN or ±Infinity float replaced by None: JSON has no such numbers, and parsers other
    than Python's refuse them. A null in a file of this toolkit means "undefined", e.g. R² of a constant output
    (see :func:`surrogate.metrics.r2_score`)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: strict_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [strict_json(value) for value in data]
    return data


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as indented, strict JSON (non-finite floats as null, see :func:`strict_json`), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(strict_json(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


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
