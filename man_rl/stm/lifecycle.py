"""The files side of :class:`~man_rl.stm.memory.ShortTermMemory`: save, load, flush, close.

:class:`MemoryFiles` is what the facade inherits for its files: one file written by
:meth:`~MemoryFiles.save` (:mod:`man_rl.stm.persist`), and the storage folder kept in step
by :meth:`~MemoryFiles.flush` (:mod:`man_rl.stm.folder`, where what a flush guarantees is
written down). It holds no state of its own: it works on the memory's counters, pool and
folder.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from man_rl.stm import ShortTermMemory
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.manrl"
    >>> with ShortTermMemory(2, storage=path.parent / "disk") as stm:
    ...     stm.add("a", np.zeros((2, 2), np.uint8))
    ...     stm.save(path)
    >>> ShortTermMemory.load(path).counts(), ShortTermMemory.open(path.parent / "disk").counts()
    ({'a': 1}, {'a': 1})
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from man_rl.stm import files, persist

if TYPE_CHECKING:
    from typing_extensions import Self


class MemoryFiles:
    """Files of a short-term memory (mixed into :class:`~man_rl.stm.memory.ShortTermMemory`).

    Example:
        >>> import numpy as np, pickle
        >>> from man_rl.stm import ShortTermMemory
        >>> stm = ShortTermMemory(2)
        >>> stm.add("a", np.ones((2, 2), np.uint8))
        >>> int(pickle.loads(pickle.dumps(stm)).queue("a").sum())
        4
    """

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the keys, counters and frames held, as plain arrays (what a file holds)."""
        return files.pickled(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        built = files.build(type(self), state["contents"], state["frames"])
        self.__dict__.update(built.__dict__)

    def _contents(self) -> persist.Contents:
        sizes, seen = self._rings.sizes_view().copy(), self._rings.seen_view().copy()
        state = self._rng.bit_generator.state
        return persist.Contents(
            self.capacity,
            self.eviction,
            self._frame_shape,
            self.keys,
            sizes,
            seen,
            state,
            self.key_settings,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the memory to one checked, versioned file, atomically (no pickle).

        The frames are streamed from the pool to the file, never gathered in one array, so
        saving a storage memory larger than RAM takes little memory.
        """
        self._check_open()
        persist.write_memory_file(path, self._contents(), self._queues.pieces(), len(self))

    def flush(self) -> None:
        """Make the storage folder hold this memory as it is now (a no-op in RAM).

        Once ``flush`` returns, the folder reopens (:meth:`open`) to exactly this memory, even
        after a crash, ``kill -9`` or power loss; what a crash between flushes leaves is
        written down in :mod:`man_rl.stm.folder`. Flush at the points you would want to resume
        from; :meth:`close` flushes.

        Example:
            >>> import numpy as np, tempfile
            >>> from man_rl.stm import ShortTermMemory
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     stm = ShortTermMemory(3, storage=folder)
            ...     stm.add("a", np.zeros((2, 2), np.uint8))
            ...     stm.flush()
            ...     stm.close()
            ...     ShortTermMemory.open(folder).counts()
            {'a': 1}
        """
        if self._folder is None:
            return
        self._check_open()
        files.flush_folder(self._folder, self._queues, self._contents())

    def close(self) -> None:
        """Flush a storage memory and release its folder (map and lock); a no-op in RAM.

        A closed storage memory refuses further use; reopen the folder with :meth:`open`.
        ``with ShortTermMemory(..., storage=DIR) as stm:`` closes it at the end of the block.
        When the flush fails (a full disk, say) the memory stays open, so it can be retried.
        """
        if self._folder is None or self._closed:
            return
        self.flush()
        self._closed = True
        if self._queues.pool is not None:
            self._queues.pool.close()
        self._folder.close()

    @classmethod
    def open(cls, storage: str | os.PathLike[str]) -> Self:
        """Reopen a storage folder as it was at its last :meth:`flush` (or :meth:`close`).

        A folder that is not a man_rl storage, or whose metadata or frames file is damaged or
        too short, raises :class:`CorruptFileError` naming it; a folder written by a newer
        man_rl raises :class:`UnsupportedVersionError`; a folder that is open in another memory
        (here or in another process) is refused. A folder of storage version 1 (man_rl 0.1.0)
        opens in place and is written as version 2 at its next flush (see :meth:`flush`).
        """
        return files.open_folder(cls, storage)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, storage: str | os.PathLike[str] | None = None
    ) -> Self:
        """Load a file written by :meth:`save`; damaged files raise :class:`CorruptFileError`.

        The file is verified by streaming and its frames are copied from a read-only map of
        it into the pool (with ``storage``, a new or empty folder, the pool's file there), so
        a file larger than RAM loads into storage too.

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> from man_rl.stm import ShortTermMemory
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.manrl"
            >>> stm = ShortTermMemory(3)
            >>> stm.add("a", np.zeros((2, 2), np.uint8)); stm.save(path)
            >>> disk = ShortTermMemory.load(path, storage=path.parent / "disk")
            >>> ShortTermMemory.load(path).counts(), disk.counts(), disk.storage.name
            ({'a': 1}, {'a': 1}, 'disk')
        """
        return files.load_file(cls, path, storage)


__all__ = ["MemoryFiles"]
