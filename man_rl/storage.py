"""The folder behind an on-disk short-term memory: lock, metadata file, mapped frames file.

See :mod:`man_rl.memory` for what the folder holds; this module only opens, locks, maps and
syncs it.
"""

from __future__ import annotations

import mmap
import os
import weakref
from pathlib import Path

import numpy as np

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
        self._map: mmap.mmap | None = None
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

    def map(self, shape: tuple[int, ...]) -> np.ndarray:
        """Map the frames file as ``uint8[shape]``, extending it (sparse) when shorter."""
        if shape[0] == 0:
            return np.zeros(shape, np.uint8)
        if self._frames_fd is None:
            self._frames_fd = os.open(self.frames_path, os.O_RDWR | os.O_CREAT, 0o666)
            self._fds.append(self._frames_fd)
        needed = int(np.prod(shape, dtype=np.int64))
        if os.fstat(self._frames_fd).st_size < needed:
            os.ftruncate(self._frames_fd, needed)  # a hole: no disk used until written
        # The old map (if any) goes when the last view of it does; its dirty pages are the
        # file's, so nothing written through it is lost.
        self._map = mmap.mmap(self._frames_fd, needed, access=mmap.ACCESS_WRITE)
        return np.frombuffer(self._map, dtype=np.uint8).reshape(shape)

    def sync(self) -> None:
        """Write the map's dirty pages to disk and wait for them (msync + fsync)."""
        if self._map is not None and self._frames_fd is not None:
            self._map.flush()
            os.fsync(self._frames_fd)

    def close(self) -> None:
        """Drop the map and release the folder's lock and files."""
        self._map = None
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
