"""Building a short-term memory from its files: reopen a storage folder, load a memory file.

These functions take the memory class (:class:`~man_rl.stm.memory.ShortTermMemory`) as
their first argument and fill its parts (:class:`~man_rl.stm.queues.KeyQueues`) from what
:mod:`man_rl.stm.persist` read, so this module does not import the class it builds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np

from man_rl.errors import InvalidTypeError
from man_rl.stm import persist
from man_rl.stm.folder import StorageFolder
from man_rl.stm.queues import KeyQueues

M = TypeVar("M")


def empty(
    cls: type[M], contents: persist.Contents, folder: StorageFolder | None, *, slots: int = 0
) -> M:
    """A memory of class ``cls`` with ``contents``' keys and counters and no ring slots yet."""
    memory = cls(contents.capacity, eviction=contents.eviction)
    memory._folder = folder
    if contents.frame_shape is not None:
        memory._set_frame_shape(contents.frame_shape, slots=slots)
    memory._rings.reserve(len(contents.keys))
    for key in contents.keys:
        memory._rings.add_key(key)
    memory._rings.sizes_view()[:] = contents.sizes
    memory._rings.seen_view()[:] = contents.seen
    memory._queues.held = int(contents.sizes.sum())
    memory._rng.bit_generator.state = contents.rng_state
    memory.key_settings = contents.key_settings
    return memory


def build(
    cls: type[M],
    contents: persist.Contents,
    frames: Iterable[np.ndarray],
    folder: StorageFolder | None = None,
) -> M:
    """A memory of class ``cls`` holding ``frames`` (an array a key, oldest first)."""
    try:
        cleared = contents._replace(sizes=np.zeros_like(contents.sizes))
        memory = empty(cls, cleared, folder)
        for k, (held, seen) in enumerate(zip(frames, contents.seen.tolist(), strict=True)):
            memory._queues.set(k, np.asarray(held), seen)
        memory.flush()
    except BaseException as err:
        if folder is None:
            raise
        folder.discard()
        if isinstance(err, OSError) and err.errno is not None:
            gone = "removed" if folder.created_folder else "emptied"
            raise OSError(
                err.errno,
                f"{err.strerror}; nothing was kept: the half-made storage folder {folder.folder} "
                f"was {gone}",
            ) from None
        raise
    return memory


def pickled(memory: Any) -> dict[str, Any]:
    """``{"contents", "frames"}`` of a memory in RAM: plain arrays, what a file holds.

    A memory in a storage folder may be larger than RAM, and is not pickled.
    """
    if memory.storage is not None:
        raise InvalidTypeError(
            f"a memory kept in {memory.storage} is not pickled (it may be larger than RAM): "
            "flush() it and reopen the folder with ShortTermMemory.open where it is needed, "
            "or pickle memory.copy()"
        )
    return {"contents": memory._contents(), "frames": [memory.queue(key) for key in memory.keys]}


def open_folder(cls: type[M], storage: str | os.PathLike[str]) -> M:
    """A memory of class ``cls`` over the storage folder ``storage``, as last flushed."""
    folder = StorageFolder.attach(storage)
    try:
        contents, layout = persist.read_folder_meta(folder)
        memory: Any = empty(cls, contents, folder, slots=layout.pool_slots)
        for k, ring in enumerate(layout.rings):
            memory._rings.set_ring(k, ring, capacity=memory.capacity)
        return memory
    except BaseException:
        folder.close()
        raise


def load_file(
    cls: type[M], path: str | os.PathLike[str], storage: str | os.PathLike[str] | None
) -> M:
    """A memory of class ``cls`` holding what the memory file ``path`` holds."""
    contents, frames = persist.read_memory_file(path)
    folder = None if storage is None else StorageFolder.create(storage)
    ends = np.cumsum(contents.sizes)
    per_key = (frames[end - size : end] for size, end in zip(contents.sizes, ends, strict=True))
    return build(cls, contents, per_key, folder)


def flush_folder(folder: StorageFolder, queues: KeyQueues, contents: persist.Contents) -> None:
    """Write the frames map to disk, then the metadata (atomically): see :mod:`.folder`.

    A failure (a full disk, say) raises :class:`OSError` naming the folder: the folder still
    holds its last flush, and the memory in this process is unchanged and can flush again.
    """
    rings = [queues.rings.slots(k) for k in range(queues.rings.num_keys)]
    pool_slots = 0 if queues.pool is None else len(queues.pool)
    try:
        if queues.pool is not None:
            queues.pool.sync()
        persist.write_folder_meta(folder, contents, persist.FolderLayout(pool_slots, rings))
    except OSError as err:
        if err.errno is None:
            raise
        raise OSError(
            err.errno,
            f"flushing storage folder {folder.folder} failed ({err.strerror or err}"
            f"{': ' + str(err.filename) if err.filename else ''}); the folder still holds its "
            "last flush, and this memory is unchanged and still usable: free disk space and "
            "flush() again",
        ) from None


__all__ = ["build", "empty", "flush_folder", "load_file", "open_folder", "pickled"]
