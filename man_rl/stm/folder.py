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

The frames file's disk blocks are reserved before frames are written into its map
(:func:`man_rl.stm.pool.reserve_blocks`), so a full disk is an :class:`OSError` naming the
folder, never a ``SIGBUS``; the file is sparse only past the frames and what is reserved
ahead of them (~6%, at least 1 MiB).

The three files must be plain files of the folder: each is opened with ``O_NOFOLLOW`` and
checked, so a symbolic link in their place (dangling or not) is refused, naming it, and
nothing outside the folder is read, created or written. A folder with ``frames.u8`` but no
``meta.manrl`` (a new memory or a load into it killed before its first flush) holds no
memory; opening or creating one there says so, and what to remove.

This module only creates, finds, locks and removes the files.
"""

from __future__ import annotations

import os
import stat
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
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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
        for name in (META_NAME, FRAMES_NAME, LOCK_NAME):
            refuse_link(folder / name)
        lock = open_plain(folder / LOCK_NAME)
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
        if storage.meta_path.exists():
            storage.close()
            raise InvalidValueError(
                f"{folder} already holds a man_rl storage; reopen it with "
                f"ShortTermMemory.open({str(folder)!r}), or give a new or empty folder"
            )
        if storage.frames_path.exists():
            storage.close()
            raise half_made(folder)
        return storage

    @classmethod
    def attach(cls, folder: str | os.PathLike[str]) -> StorageFolder:
        """Open the storage an earlier memory left in ``folder``."""
        folder = Path(folder)
        if not folder.exists():
            raise FileNotFoundError(f"storage folder {folder} does not exist")
        if folder.is_dir():
            for name in (META_NAME, FRAMES_NAME, LOCK_NAME):
                refuse_link(folder / name)
        if folder.is_dir() and not os.path.lexists(folder / META_NAME):
            if os.path.lexists(folder / FRAMES_NAME):
                if os.path.lexists(folder / LOCK_NAME):  # refuse a load still running there
                    cls(folder).close()
                raise half_made(folder)
        if not folder.is_dir() or not os.path.lexists(folder / META_NAME):
            raise CorruptFileError(
                f"{folder} is not a man_rl storage folder (it has no {META_NAME}); give the "
                "folder a ShortTermMemory(..., storage=...) wrote"
            )
        return cls(folder)

    def frames_bytes(self) -> int:
        """Size of the frames file (0 when there is none yet)."""
        if self._frames_fd is not None:
            return os.fstat(self._frames_fd).st_size
        try:
            return os.lstat(self.frames_path).st_size
        except FileNotFoundError:
            return 0

    def frames_fd(self) -> int:
        """The frames file, opened for reading and writing (created empty if missing)."""
        if self._frames_fd is None:
            self._frames_fd = open_plain(self.frames_path)
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


def refuse_link(path: Path) -> None:
    """Refuse ``path`` where it is a symbolic link (a storage's files are its own)."""
    if os.path.islink(path):
        raise CorruptFileError(
            f"{path} is a symbolic link (to {os.readlink(path)}); a storage folder's files "
            "must be plain files in it, and man_rl never follows a link there (nothing "
            "outside the folder was read or written): remove the link, or use another folder"
        )


def open_plain(path: Path) -> int:
    """``path`` opened for reading and writing (made if missing), never through a link."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NO_FOLLOW, 0o666)
    except OSError:
        refuse_link(path)  # a link made since it was checked: ELOOP
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CorruptFileError(
            f"{path} is not a plain file; a storage folder's files must be plain files in it: "
            "remove it, or use another folder"
        )
    return fd


def half_made(folder: Path) -> CorruptFileError:
    """The error for a folder with a frames file and no metadata: what it is, what to do."""
    return CorruptFileError(
        f"{folder} is a half-made storage folder: it has {FRAMES_NAME} but no {META_NAME} (a "
        "new memory or a load into it stopped before its first flush: killed, or out of disk "
        "space), so it holds no memory to reopen; delete its frames file "
        f"(os.remove({str(folder / FRAMES_NAME)!r})), then make the memory there again"
    )


def _close_all(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


__all__ = [
    "FRAMES_NAME",
    "LOCK_NAME",
    "META_NAME",
    "StorageFolder",
    "half_made",
    "open_plain",
    "refuse_link",
]
