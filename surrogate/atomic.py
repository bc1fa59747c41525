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
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    _remove_stale_temps(target)
    tmp = target.with_name(f"{_temp_prefix(target)}{os.getpid()}")
    with _sigterm_unwinds():
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as exc:
            if exc.filename is None:  # a write through a handle (a full disk) names no file: name the target
                exc.filename = str(target)
            raise
        except RuntimeError as exc:  # HDF5 and torch write in C and report a failed write as a RuntimeError
            error = _failed_write(exc, target)
            if error is None:
                raise
            raise error from None
        finally:
            if tmp.exists():
                tmp.unlink()


def _failed_write(exc: RuntimeError, target: Path) -> OSError | None:
    """The OSError behind a library's RuntimeError about writing `target`: the errno HDF5 quotes, or ENOSPC when
    the file system has (almost) no space left (torch quotes none); None when it does not look like a failed
    write, so the RuntimeError stays what it is (a bug)."""
    quoted = re.search(r"errno = (\d+)", str(exc))
    if quoted:
        code = int(quoted.group(1))
    else:
        try:
            if shutil.disk_usage(target.parent).free >= NEARLY_FULL:
                return None
        except OSError:
            return None
        code = errno.ENOSPC
    return OSError(code, os.strerror(code), str(target))


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
