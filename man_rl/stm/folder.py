"""The folder behind an on-disk short-term memory: its lock, metadata file and frames file.

A storage folder holds three files:

* ``frames.u8``: the frame pool's slots, one frame after another (a sparse file: unwritten
  pages cost neither disk nor RAM), memory-mapped by :class:`~man_rl.stm.pool.FramePool`;
* ``meta.manrl``: keys, counters, rings of slots, capacity, eviction, frame shape and the
  random generator's state, in the checked container of :mod:`man_rl.io.bundle`, replaced
  atomically at each flush (:mod:`man_rl.stm.persist`);
* ``lock``: locked while a memory has the folder open, so two writers never share it.

What a flush guarantees: first the frames map is written to disk (msync, fsync), then the
metadata replaces the old one atomically. Once ``flush`` returns, the folder reopens to
exactly that memory, even after a crash, ``kill -9`` or power loss. After a crash between
flushes the folder reopens, whole and consistent, to the last flush's keys and counters; a
frame added since then that went into a new slot is simply not counted, but one that replaced
an evicted frame of a full queue was written in place, so that place may hold the newer frame
(always one of the same key, never another key's; torn between the two only if a kill hit
that very write, or power failed before all its pages reached the disk).

This module only creates, finds, locks and removes the files.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from man_rl.errors import CorruptFileError, InvalidValueError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock
    fcntl = None  # type: ignore[assignment]

META_NAME = "meta.manrl"
FRAMES_NAME = "frames.u8"
LOCK_NAME = "lock"


class StorageFolder:
    """A storage folder held open: its lock, its metadata file and its mapped frames file."""

    def __init__(self, folder: Path, *, created_folder: bool = False) -> None:
        self.folder = folder
        self.meta_path = folder / META_NAME
        self.frames_path = folder / FRAMES_NAME
        self.created_folder = created_folder
        self._frames_fd: int | None = None
        self._fds: list[int] = []  # closed by close() or, failing that, when collected
        self._release = weakref.finalize(self, _close_all, self._fds)
        lock = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        self._fds.append(lock)
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.close()
                raise InvalidValueError(
                    f"storage folder {folder} is open in another ShortTermMemory (in this or "
                    "another process); close that one first, or use another folder"
                ) from None

    @classmethod
    def create(cls, folder: str | os.PathLike[str]) -> StorageFolder:
        """Open a new storage in ``folder`` (made if missing; refused if it holds one)."""
        folder = Path(folder)
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        storage = cls(folder, created_folder=created)
        if storage.meta_path.exists() or storage.frames_path.exists():
            storage.close()
            raise InvalidValueError(
                f"{folder} already holds a man_rl storage; reopen it with "
                f"ShortTermMemory.open({str(folder)!r}), or give a new or empty folder"
            )
        return storage

    @classmethod
    def attach(cls, folder: str | os.PathLike[str]) -> StorageFolder:
        """Open the storage an earlier memory left in ``folder``."""
        folder = Path(folder)
        if not folder.exists():
            raise FileNotFoundError(f"storage folder {folder} does not exist")
        if not folder.is_dir() or not (folder / META_NAME).is_file():
            raise CorruptFileError(
                f"{folder} is not a man_rl storage folder (it has no {META_NAME}); give the "
                "folder a ShortTermMemory(..., storage=...) wrote"
            )
        return cls(folder)

    def frames_bytes(self) -> int:
        """Size of the frames file (0 when there is none yet)."""
        try:
            return self.frames_path.stat().st_size
        except FileNotFoundError:
            return 0

    def frames_fd(self) -> int:
        """The frames file, opened for reading and writing (created empty if missing)."""
        if self._frames_fd is None:
            self._frames_fd = os.open(self.frames_path, os.O_RDWR | os.O_CREAT, 0o666)
            self._fds.append(self._frames_fd)
        return self._frames_fd

    def close(self) -> None:
        """Release the folder's lock and files."""
        self._frames_fd = None
        self._release()

    def discard(self) -> None:
        """Close and delete what :meth:`create` made (after a failed load)."""
        self.close()
        for path in (self.meta_path, self.frames_path, self.folder / LOCK_NAME):
            path.unlink(missing_ok=True)
        if self.created_folder:
            try:
                self.folder.rmdir()
            except OSError:
                pass


def _close_all(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


__all__ = ["FRAMES_NAME", "LOCK_NAME", "META_NAME", "StorageFolder"]
