"""The short-term memory: one bounded queue of screens per state, sampled class-balanced.

This is the paper's section 3.1: a queue with a maximum size for every object (here: every
state key), so that rare states weigh as much as common ones when the long-term memory learns.
The memory knows nothing of gym or torch: it takes ``uint8`` arrays and hashable keys.

:class:`ShortTermMemory` is a thin facade over four parts, each with one job:

- :class:`~man_rl.stm.queues.KeyQueues`: a :class:`~man_rl.stm.pool.FramePool` holding
  the frames, one slot each, in RAM or in a memory-mapped file, allocated as frames arrive;
  the keys' counters and rings of slot indices (:mod:`man_rl.stm.rings`); an eviction
  policy (:mod:`man_rl.stm.eviction`: FIFO or reservoir);
- a sampler (:mod:`man_rl.stm.sampling`: balanced or uniform) that says which frames a
  batch draws;
- the file formats (:mod:`man_rl.stm.persist`) and the storage folder
  (:mod:`man_rl.stm.folder`, where what a flush guarantees is written down).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from man_rl.checks import check_int
from man_rl.errors import EmptyMemoryError, InvalidTypeError, InvalidValueError, UnknownKeyError
from man_rl.keys import normalize_key, short_repr
from man_rl.stm import files
from man_rl.stm.checks import check_capacity, check_frame, check_shape
from man_rl.stm.eviction import Eviction, eviction_policy
from man_rl.stm.fits import worst_case_fits
from man_rl.stm.folder import StorageFolder
from man_rl.stm.lifecycle import MemoryFiles
from man_rl.stm.queues import KeyQueues
from man_rl.stm.rings import KeyRings
from man_rl.stm.sampling import BALANCED, UNIFORM, Sampler, as_sampler

EvictionName = Literal["fifo", "reservoir"]


class Batch(NamedTuple):
    """A sampled batch: ``frames`` uint8 ``[B, *frame_shape]``, ``labels`` int64 ``[B]``."""

    frames: np.ndarray
    labels: np.ndarray


class ShortTermMemory(MemoryFiles):
    """One bounded FIFO queue of uint8 frames per state key, sampled class-balanced.

    Frames are kept in one pool of slots that grows as frames arrive, and each key's queue
    is a ring of slot indices, so RAM and address space follow the frames held (plus ~40
    bytes per key), never the number of possible states or ``capacity x keys``. A batch is
    gathered with one index operation.

    With ``storage=DIR`` the pool is a memory map of a sparse file in ``DIR``: the memory
    can be larger than RAM, and the process's anonymous memory stays at a few bytes per
    frame. The API is the same; call :meth:`flush` to make the folder reopenable
    (:meth:`open`) at this point, and :meth:`close` (or a ``with`` block) when done. A full
    disk is an :class:`OSError` naming the folder, from the add, merge or flush that does not
    fit, which leaves the memory as it was (disk blocks are reserved before frames are
    written, so it is never a ``SIGBUS``).

    Args:
        capacity: frames kept per key (>= 1). A full queue drops its oldest frame (``"fifo"``).
        eviction: ``"fifo"`` (the paper's queue, default), ``"reservoir"`` (a uniform sample
            of every frame the key ever saw), or an :class:`~man_rl.stm.eviction.Eviction`.
        frame_shape: ``(H, W)`` or ``(H, W, C)``, if known in advance (else the first frame's).
        expected_keys: how many states to expect: the per-key counters get room for them,
            and with ``frame_shape`` the memory warns at construction when the worst case
            would not fit in free RAM (or, with ``storage``, on the folder's disk).
        seed: seed of the memory's own random generator (sampling and reservoir eviction).
        storage: a new or empty folder to keep the frames in (memory-mapped), or ``None`` to
            keep them in RAM. A folder that already holds a storage is refused: reopen it with
            :meth:`open`.

    Attributes:
        key_settings: JSON-able parameters the key function chose from the frames (e.g. the
            cell size of :class:`man_rl.envs.DynamicCellKey`), saved and loaded with the
            memory so that more frames are keyed the same way; ``None`` when there are none.

    Example:
        >>> import numpy as np
        >>> stm = ShortTermMemory(capacity=2)
        >>> for value, key in [(1, "a"), (2, "a"), (3, "a"), (9, "b")]:
        ...     stm.add(key, np.full((2, 2), value, dtype=np.uint8))
        >>> stm.keys, stm.counts(), len(stm)
        (['a', 'b'], {'a': 2, 'b': 1}, 3)
        >>> stm.queue("a")[:, 0, 0].tolist()  # oldest first; the 1 was dropped
        [2, 3]
        >>> frames, labels = stm.sample(4, rng=np.random.default_rng(0))
        >>> frames.shape, labels.dtype
        ((4, 2, 2), dtype('int64'))

        The same on disk:

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with ShortTermMemory(2, storage=folder) as disk:
        ...         disk.merge(stm).queue("a")[:, 0, 0].tolist()
        [2, 3]
    """

    def __init__(
        self,
        capacity: int,
        *,
        eviction: EvictionName | Eviction = "fifo",
        frame_shape: tuple[int, ...] | None = None,
        expected_keys: int | None = None,
        seed: int | None = None,
        storage: str | os.PathLike[str] | None = None,
    ) -> None:
        self.capacity = check_capacity(capacity)
        self._eviction = eviction_policy(eviction)
        self._rng = np.random.default_rng(seed)
        self._queues = KeyQueues(self.capacity, self._eviction, self._rng)
        self._rings: KeyRings = self._queues.rings
        self._frame_shape: tuple[int, ...] | None = None
        self._folder: StorageFolder | None = None
        self._closed = False
        self.key_settings: dict[str, Any] | None = None
        if frame_shape is not None:
            frame_shape = check_shape(frame_shape)
        if expected_keys is not None:
            self.reserve(expected_keys)
        if storage is not None:
            self._folder = StorageFolder.create(storage)
        if frame_shape is not None:
            self._set_frame_shape(frame_shape)
        if self._folder is not None:
            self.flush()
        if expected_keys is not None and frame_shape is not None:
            self.check_fits(int(expected_keys), frame_shape)

    # ------------------------------------------------------------------ properties
    @property
    def eviction(self) -> str:
        """The eviction policy's name (``"fifo"`` or ``"reservoir"``)."""
        return self._eviction.name

    @property
    def keys(self) -> list[Hashable]:
        """State keys in class-index order (first seen first); ``labels`` index this list."""
        return list(self._rings.keys)

    @property
    def frame_shape(self) -> tuple[int, ...] | None:
        """Shape of one frame, or ``None`` before the first frame."""
        return self._frame_shape

    @property
    def num_keys(self) -> int:
        """Number of distinct state keys seen."""
        return self._rings.num_keys

    @property
    def storage(self) -> Path | None:
        """The storage folder the frames live in, or ``None`` for a memory in RAM."""
        return None if self._folder is None else self._folder.folder

    @property
    def nbytes(self) -> int:
        """Bytes of the frames currently held."""
        pool = self._queues.pool
        return self._queues.held * (pool.frame_bytes if pool is not None else 0)

    def __len__(self) -> int:
        return self._queues.held

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._rings.index
        except TypeError:
            return False

    def __repr__(self) -> str:
        where = "" if self._folder is None else f", storage={str(self._folder.folder)!r}"
        return (
            f"ShortTermMemory(capacity={self.capacity}, eviction={self.eviction!r}, "
            f"keys={self.num_keys}, frames={len(self)}, frame_shape={self._frame_shape}{where})"
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> ShortTermMemory:
        return self.copy()

    def counts(self) -> dict[Hashable, int]:
        """Frames held per key, in key order."""
        sizes = self._rings.sizes[: self.num_keys].tolist()
        return dict(zip(self._rings.keys, sizes, strict=True))

    def seen(self) -> dict[Hashable, int]:
        """Frames ever added per key (held or evicted), in key order."""
        seen = self._rings.seen[: self.num_keys].tolist()
        return dict(zip(self._rings.keys, seen, strict=True))

    def index_of(self, key: Hashable) -> int:
        """Class index of ``key``; :class:`UnknownKeyError` when the memory never saw it."""
        try:
            return self._rings.index[key]
        except (KeyError, TypeError):
            raise UnknownKeyError(
                f"state key {short_repr(key)} is not in this memory; known keys: "
                f"{_preview(self.keys)}"
            ) from None

    # ------------------------------------------------------------------ writing
    def add(self, key: Hashable, frame: np.ndarray) -> None:
        """Store a copy of ``frame`` in ``key``'s queue, evicting per the eviction rule.

        A key that cannot name a state is refused here, the memory unchanged: one not equal
        to itself (a float NaN, also in a tuple), unhashable, or one no file could hold (see
        :func:`man_rl.keys.normalize_key`).
        """
        if self._closed:
            self._check_open()
        rings = self._rings
        try:
            k = rings.index.get(key)
        except TypeError:
            normalize_key(key)  # raises the clear unhashable-key error
            raise
        if k is None:  # a new key is checked (NaN, too deep...) before anything changes
            key = normalize_key(key)
            k = rings.index.get(key)  # e.g. np.int64(3) after 3
        if (
            not isinstance(frame, np.ndarray)
            or frame.dtype != np.uint8
            or frame.shape != self._frame_shape
        ):
            if self._frame_shape is None:
                return self._add_first(key, k, frame)
            self._check_frame(frame)
        if k is None:
            k = rings.add_key(key)
        self._queues.add(k, frame)

    def _add_first(self, key: Hashable, k: int | None, frame: np.ndarray) -> None:
        """The first frame, which sets the frame shape unless it cannot be stored.

        On a full disk the memory stays as it was, its shape unset, so that a frame of any
        shape may come next.
        """
        self._check_frame(frame)
        try:
            self._queues.add(self._rings.add_key(key) if k is None else k, frame)
        except OSError:  # nothing was stored, the new key dropped (KeyQueues.add)
            self._unset_frame_shape()
            raise

    def _unset_frame_shape(self) -> None:
        """Back to no frame shape (a memory whose first frames could not be stored)."""
        self._queues.pool.close()  # type: ignore[union-attr]
        self._queues.pool, self._frame_shape = None, None

    def extend(self, keys: Iterable[Hashable], frames: Iterable[np.ndarray]) -> None:
        """Add many ``(key, frame)`` pairs in order."""
        for key, frame in zip(keys, frames, strict=True):
            self.add(key, frame)

    def reserve(self, num_keys: int) -> None:
        """Give the per-key counters room for ``num_keys`` keys (32 bytes each) up front.

        Frames need no reserving: their slots are allocated as they arrive, and a slot
        never moves. :class:`~man_rl.env.wrapper.MemoryWrapper` does not reserve.

        Example:
            >>> import numpy as np
            >>> stm = ShortTermMemory(capacity=10, frame_shape=(4, 4))
            >>> stm.reserve(100)
            >>> stm.add("a", np.zeros((4, 4), np.uint8)); len(stm), stm.num_keys
            (1, 1)
        """
        num_keys = check_int("num_keys", num_keys, minimum=0)
        self._check_open()
        self._rings.reserve(num_keys)

    def check_fits(self, expected_keys: int, frame_shape: tuple[int, ...]) -> bool:
        """Warn (``ResourceWarning``) when the worst case would not fit in free RAM.

        The worst case is ``capacity x expected_keys x frame bytes``, as stable-baselines3's
        replay buffer checks; a storage memory compares it with the free space of its folder's
        disk instead. Returns whether it fits (``True`` when free RAM is unknown). Nothing is
        allocated for it: memory grows with the frames actually held.
        """
        folder = None if self._folder is None else self._folder.folder
        return worst_case_fits(self.capacity, expected_keys, frame_shape, folder)

    def _check_open(self) -> None:
        if self._closed:
            folder = self._folder.folder if self._folder is not None else "its folder"
            raise InvalidValueError(
                f"this short-term memory was closed; reopen {folder} with ShortTermMemory.open"
            )

    def _check_frame(self, frame: Any) -> None:
        check_frame(frame, self._frame_shape)
        if self._frame_shape is None:
            self._set_frame_shape(frame.shape)

    def _set_frame_shape(self, shape: tuple[int, ...], slots: int = 0) -> None:
        shape = check_shape(shape)
        if self._folder is None:
            self._queues.attach(shape, slots=slots)
        else:  # a full disk's error names the folder
            fd, name = self._folder.frames_fd(), str(self._folder.folder)
            self._queues.attach(shape, fd=fd, slots=slots, name=name)
        self._frame_shape = shape

    def _new_key(self, key: Hashable) -> int:
        key = normalize_key(key)
        if key in self._rings.index:  # e.g. np.int64(3) after 3
            return self._rings.index[key]
        return self._rings.add_key(key)

    def queue(self, key: Hashable) -> np.ndarray:
        """The frames held for ``key``, oldest first (a copy)."""
        self._check_open()
        return self._queues.queue(self.index_of(key))

    def sample(
        self,
        batch_size: int,
        *,
        balanced: bool = True,
        rng: np.random.Generator | None = None,
        sampler: Sampler | None = None,
    ) -> Batch:
        """Draw ``batch_size`` frames with replacement; labels index :attr:`keys`.

        ``balanced=True`` draws a key uniformly, then one of its frames uniformly (the paper's
        answer to class imbalance); ``balanced=False`` draws uniformly over all frames held;
        ``sampler`` (a :class:`~man_rl.stm.sampling.Sampler`) draws as it likes.
        """
        if self._closed:
            self._check_open()
        if type(batch_size) is not int or batch_size < 1:
            batch_size = check_int("batch_size", batch_size, minimum=1)
        if self._queues.held == 0:
            raise EmptyMemoryError(
                "cannot sample: the short-term memory is empty; add frames first (run the "
                "env inside MemoryWrapper, or ShortTermMemory.add)"
            )
        chosen = as_sampler(sampler) if sampler is not None else BALANCED if balanced else UNIFORM
        return Batch(*self._queues.sample(chosen, batch_size, self._rng if rng is None else rng))

    def all_frames(self) -> Batch:
        """Every frame held, key by key (oldest first within a key), with its label."""
        if self._queues.held == 0:
            raise EmptyMemoryError("the short-term memory is empty")
        return Batch(*self._queues.everything())

    # ------------------------------------------------------------------ combining
    def copy(self, *, storage: str | os.PathLike[str] | None = None) -> ShortTermMemory:
        """A deep copy (frames, counts and the random generator's state).

        The copy is kept in RAM unless ``storage`` names a new folder for it, whatever this
        memory's own storage: copy a memory larger than RAM to another folder.
        """
        self._check_open()
        folder = None if storage is None else StorageFolder.create(storage)
        frames = (self.queue(key) for key in self.keys)
        return files.build(ShortTermMemory, self._contents(), frames, folder)

    def merge(self, other: ShortTermMemory) -> ShortTermMemory:
        """Add ``other``'s frames after this memory's own, key by key; returns ``self``.

        With FIFO eviction this is the same as having added ``other``'s frames here in order,
        so merging is associative and the newest ``capacity`` frames of each key are kept.
        Two reservoirs merge by drawing from both in proportion to what each saw. New keys
        follow this memory's keys in ``other``'s order.
        """
        self._check_open()
        if not isinstance(other, ShortTermMemory):
            raise InvalidTypeError(f"can only merge a ShortTermMemory, got {type(other)}")
        if other.frame_shape is not None and self._frame_shape not in (None, other.frame_shape):
            raise InvalidValueError(
                f"cannot merge memories of frame shapes {self._frame_shape} and {other.frame_shape}"
            )
        if None not in (self.key_settings, other.key_settings) and (
            self.key_settings != other.key_settings
        ):
            raise InvalidValueError(
                f"cannot merge memories keyed differently: key settings {self.key_settings} "
                f"and {other.key_settings}"
            )
        first = other.frame_shape is not None and self._frame_shape is None
        if first:
            self._set_frame_shape(other.frame_shape)  # type: ignore[arg-type]
        mine = self.counts()
        room = sum(min(n, self.capacity - mine.get(key, 0)) for key, n in other.counts().items())
        try:  # a full disk refuses the merge before anything is merged
            self._queues.make_room(room)
        except OSError as err:
            if first:
                self._unset_frame_shape()
            raise OSError(err.errno, f"{err.strerror}; nothing was merged") from None
        if self.key_settings is None:
            self.key_settings = other.key_settings
        for key, their_seen in other.seen().items():
            theirs = (other.queue(key), their_seen)
            self._queues.merge_key(self._new_key(key), theirs, other._eviction)
        return self


def _preview(keys: list[Hashable], limit: int = 8) -> str:
    shown = ", ".join(short_repr(k, 40) for k in keys[:limit])
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]" if keys else "none (the memory is empty)"


__all__ = ["Batch", "EvictionName", "ShortTermMemory"]
