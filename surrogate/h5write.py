"""HDF5 files written so that a failed write (a full disk, a file size limit) is one OSError, never a crash.

HDF5 cannot close a file whose writes fail: it keeps the file open and tries to flush it again each time it is
asked to close it or one of its datasets, and h5py's clean-up does that when Python collects the objects, printing a
page of "Exception ignored" tracebacks per object, then, at interpreter exit, ending in a segmentation fault. So
every file this toolkit writes with h5py goes through :class:`H5Output`: h5py's file-object driver writes through
it, the first failed write is recorded, and every write after it is thrown away, so that HDF5 always believes its
writes succeed and closes cleanly. The recorded error is then raised as one OSError naming the file
(:meth:`H5Output.check` in between for writers that stream, :meth:`H5Output.close` at the end); the caller removes
the incomplete file (:func:`surrogate.atomic.atomic_path` does).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator


class H5Output:
    """An ``h5py.File`` (``h5``) being written at `path` in `mode` ('w' or 'a'), every byte through this object.

    Reads pass through; after the first failed write, writes and truncations do nothing (HDF5 gets told they
    succeeded), so what HDF5 still holds in its caches goes nowhere and the file closes."""

    def __init__(self, path: str | os.PathLike, mode: str = "w"):
        import h5py

        if mode not in ("w", "a"):
            raise ValueError(f"mode {mode!r}: H5Output writes ('w' or 'a')")
        self.path = Path(path)
        self.error: OSError | None = None
        append = mode == "a" and self.path.exists()
        self._file = open(self.path, "r+b" if append else "w+b", buffering=0)  # unbuffered: each write is HDF5's
        try:
            self.h5 = h5py.File(self, "r+" if append else "w")
        except BaseException:
            self._file.close()
            raise

    # --- the file-object protocol of h5py's driver ---------------------------------------------------------
    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):  # the system may write less than asked near a full disk
                    done += self._file.write(view[done:])
            except OSError as exc:
                self.error = exc
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._file.truncate(size)
            except OSError as exc:
                self.error = exc
        return self._file.tell() if size is None else size

    def flush(self) -> None:
        """Nothing is buffered here (the file is unbuffered)."""

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int | None:
        return self._file.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    # --- for the writer -------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise the first failed write as an OSError naming the file (the system's one-line reason), if any."""
        if self.error is not None:
            code = self.error.errno
            raise OSError(code, os.strerror(code) if code else str(self.error), str(self.path))

    def close(self, failed: bool = False) -> None:
        """Close the HDF5 file and the file under it, then :meth:`check`, unless `failed` says the writing stopped
        on another error already (that one is the cause to report)."""
        try:
            self.h5.close()  # cannot fail on a write: those after a failure go nowhere
        finally:
            self._file.close()
        if not failed:
            self.check()


@contextlib.contextmanager
def h5_file(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """The ``h5py.File`` of an :class:`H5Output` at `path`, closed however the block ends; a failed write is
    raised after the block as one OSError naming `path`."""
    output = H5Output(path, mode)
    try:
        yield output.h5
    except BaseException:
        output.close(failed=True)
        raise
    output.close()
