"""Exclusive locks on outputs, so two processes never write one table or one run directory at once.

The lock is ``fcntl.flock`` on a hidden sibling ``.NAME.lock`` of the output, taken without waiting: a second
writer gets a one-line error naming the process that holds it. The kernel drops the lock when its holder ends,
however it ends (SIGKILL included), so a lock is never stale; the holder removes the file when it is done, and a
file left by a killed holder is taken over and removed by the next one. On a shared file system the lock works
where the file system supports ``flock`` (NFSv4, Lustre and GPFS with locking enabled).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import Iterator

from .errors import UserError


def lock_file(target: str | os.PathLike) -> Path:
    """The hidden lock file that guards `target`."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def _holder(fd: int) -> str:
    """'process PID on HOST' as the holder wrote it into the lock file, or 'another process'."""
    with contextlib.suppress(OSError):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            return text
    return "another process"


def _acquire(lock: Path, target: Path, what: str) -> int:
    """An open descriptor of `lock` holding its exclusive flock; a UserError if another process holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UserError(f"{target}: {what} is already running ({holder}; lock {lock}); wait for it to end "
                            "or write elsewhere") from None
        try:  # the previous holder may have removed the file between our open and our flock: lock the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def exclusive(target: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold the lock of `target` (a file or directory path) while the block runs; `what` names the job in the
    error another writer gets, e.g. "a build of this table". Yields the lock file's path."""
    target = Path(target)
    lock = lock_file(target)
    if not lock.parent.is_dir():
        raise UserError(f"{target}: directory {lock.parent} does not exist")
    fd = _acquire(lock, target, what)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield lock
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # before the unlock: a waiter that opened this file re-checks and makes a new one
        os.close(fd)
