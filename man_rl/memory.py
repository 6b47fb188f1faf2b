"""The short-term memory: one bounded queue of screens per state, sampled class-balanced.

This is the paper's section 3.1: a queue with a maximum size for every object (here: every
state key), so that rare states weigh as much as common ones when the long-term memory learns.
The memory knows nothing of gym or torch: it takes ``uint8`` arrays and hashable keys.

A memory larger than RAM lives in a storage folder (``ShortTermMemory(capacity,
storage=DIR)``): the frames are in a memory-mapped sparse file there, so they occupy page cache
(reclaimable) rather than the process's anonymous memory. The folder holds three files:

* ``frames.u8``: the ring buffers, ``uint8`` of shape ``(slots, capacity, *frame_shape)``,
  extended (sparse: unwritten pages cost neither disk nor RAM) as keys arrive;
* ``meta.manrl``: keys, sizes, seen counters, capacity, eviction, frame shape and the random
  generator's state, in the checked container of :mod:`man_rl.fileformat`, replaced atomically
  by :meth:`ShortTermMemory.flush`;
* ``lock``: locked while a memory has the folder open, so two writers never share it.
"""

from __future__ import annotations

import mmap
import os
import shutil
import sys
import warnings
from collections.abc import Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from man_rl.errors import (
    CorruptFileError,
    EmptyMemoryError,
    InvalidTypeError,
    InvalidValueError,
    UnknownKeyError,
    UnsupportedVersionError,
)
from man_rl.fileformat import ArrayStream, read_bundle, write_bundle
from man_rl.keys import decode_key, encode_key, normalize_key
from man_rl.storage import FRAMES_NAME as _FRAMES_NAME
from man_rl.storage import StorageFolder as _Storage

Eviction = Literal["fifo", "reservoir"]
_FILE_KIND = "short_term_memory"
_STORAGE_KIND = "short_term_memory_storage"
_STORAGE_VERSION = 1
_EVICTIONS = ("fifo", "reservoir")
_FIRST_ROW = 16  # frames a key's row holds before it first grows (in RAM, large stores only)
# In RAM, rows are `capacity` long from the start while the whole store stays within this many
# bytes: np.zeros pages are committed only when written, so this costs address space, not RAM,
# and a row that never grows never copies its frames into fresh pages (the copies and their
# page faults were most of MemoryWrapper's overhead per step). Larger stores grow geometrically.
_FULL_ROWS_MAX_BYTES = 2**32
_PARALLEL_GATHER_BYTES = 2**20  # batches at least this large are gathered by torch
_FIRST_SLOTS = 4  # key slots allocated with the first key, unless reserve() asked for more


class Batch(NamedTuple):
    """A sampled batch: ``frames`` uint8 ``[B, *frame_shape]``, ``labels`` int64 ``[B]``."""

    frames: np.ndarray
    labels: np.ndarray


def available_memory_bytes() -> int | None:
    """Free RAM as the kernel reports it (``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def lazy_zeros(shape: tuple[int, ...]) -> np.ndarray:
    """A zeroed uint8 array whose pages are committed one by one, when first written.

    Large arrays come from a private anonymous memory map without transparent huge pages:
    numpy's own ``np.zeros`` asks for huge pages, which round every key's partly filled row
    up to 2 MiB of RAM and, measured on a 2-core VM, made a frame's first write cost
    ~50-100 us instead of ~5 us (each huge page is zeroed, and backed by the host, at once).
    """
    nbytes = int(np.prod(shape, dtype=np.int64))
    if nbytes < 2**22 or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.zeros(shape, dtype=np.uint8)
    buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # also where huge pages are on for every mapping
        buffer.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buffer, dtype=np.uint8).reshape(shape)


def _copy_held(source: np.ndarray, target: np.ndarray, sizes: np.ndarray) -> None:
    """Copy each row's held frames (``[:size]``) only: pages past them stay uncommitted."""
    for slot, size in enumerate(sizes[: len(source)]):
        if size:
            target[slot, :size] = source[slot, :size]


def _check_capacity(capacity: Any) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
        raise InvalidTypeError(f"capacity must be an int, got {capacity!r}")
    if capacity < 1:
        raise InvalidValueError(f"capacity must be >= 1 (frames kept per state), got {capacity}")
    return int(capacity)


def _check_shape(shape: Iterable[Any]) -> tuple[int, ...]:
    shape = tuple(shape)
    if (
        len(shape) not in (2, 3)
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)
        or min(shape) < 1
    ):
        raise InvalidValueError(f"frame_shape must be (H, W) or (H, W, C), got {shape}")
    return tuple(int(d) for d in shape)


class _Contents(NamedTuple):
    """The checked contents of a memory file or a storage folder's metadata."""

    capacity: int
    eviction: Eviction
    frame_shape: tuple[int, ...] | None
    keys: list[Hashable]
    sizes: np.ndarray
    seen: np.ndarray
    rng_state: dict[str, Any]


def _parse_contents(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> _Contents:
    """Check a file's meta and counters; ``KeyError``/``TypeError``/``ValueError`` if bad."""
    capacity = _check_capacity(meta["capacity"])
    eviction = meta["eviction"]
    if eviction not in _EVICTIONS:
        raise ValueError(f"unknown eviction {eviction!r}")
    shape = meta["frame_shape"]
    shape = None if shape is None else _check_shape(shape)
    keys = [normalize_key(decode_key(value)) for value in meta["keys"]]
    sizes, seen = np.array(arrays["sizes"]), np.array(arrays["seen"])
    np.random.default_rng().bit_generator.state = meta["rng_state"]  # raises if malformed
    consistent = (
        sizes.dtype.kind in "iu"
        and seen.dtype.kind in "iu"
        and sizes.ndim == seen.ndim == 1
        and len(sizes) == len(seen) == len(keys) == len(set(keys))
        and bool(np.all(sizes >= 0))
        and bool(np.all(seen >= sizes))
        and bool(np.all(sizes <= capacity))
        # A FIFO queue holds min(seen, capacity); a reservoir merged from a smaller one may
        # hold fewer.
        and (eviction == "reservoir" or np.array_equal(sizes, np.minimum(seen, capacity)))
        and (shape is not None or not keys)
    )
    if not consistent:
        raise ValueError("keys, sizes and seen counters disagree")
    return _Contents(
        capacity,
        eviction,
        shape,
        keys,
        sizes.astype(np.int64),
        seen.astype(np.int64),
        meta["rng_state"],
    )


def _inconsistent(where: Path, err: Exception) -> CorruptFileError:
    return CorruptFileError(
        f"{where} holds a short-term memory whose contents are inconsistent ({err}); "
        "re-create it or restore a copy"
    )


class ShortTermMemory:
    """One bounded FIFO queue of uint8 frames per state key, sampled class-balanced.

    Frames live in one contiguous ``uint8`` array of shape ``(key_slots, row_length,
    *frame_shape)``; each key owns one row used as a ring buffer, so a batch is gathered with a
    single index operation. In RAM, pages are only committed when written, so memory use stays
    at the bytes of the frames held; rows are ``capacity`` long from the start unless the
    store would exceed a few GiB of address space, in which case they grow geometrically.
    :meth:`reserve` makes room for a known number of keys up front.

    With ``storage=DIR`` the array is a memory map of a sparse file in ``DIR`` (rows are
    ``capacity`` long from the start; unwritten pages cost nothing): the memory can be larger
    than RAM, and the process's anonymous memory stays at a few bytes per key. The API is the
    same; call :meth:`flush` to make the folder reopenable (:meth:`open`) at this point, and
    :meth:`close` (or a ``with`` block) when done.

    Args:
        capacity: frames kept per key (>= 1). A full queue drops its oldest frame (``"fifo"``).
        eviction: ``"fifo"`` (the paper's queue, default) or ``"reservoir"``, which keeps a
            uniform sample of every frame the key ever saw.
        frame_shape: ``(H, W)`` or ``(H, W, C)``, if known in advance (else the first frame's).
        expected_keys: how many states to expect: room for them is reserved (:meth:`reserve`),
            and with ``frame_shape`` the memory warns at construction when the worst case
            would not fit in free RAM (or, with ``storage``, on the folder's disk).
        seed: seed of the memory's own random generator (sampling and reservoir eviction).
        storage: a new or empty folder to keep the frames in (memory-mapped), or ``None`` to
            keep them in RAM. A folder that already holds a storage is refused: reopen it with
            :meth:`open`.

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
        eviction: Eviction = "fifo",
        frame_shape: tuple[int, ...] | None = None,
        expected_keys: int | None = None,
        seed: int | None = None,
        storage: str | os.PathLike[str] | None = None,
    ) -> None:
        self.capacity = _check_capacity(capacity)
        if eviction not in _EVICTIONS:
            raise InvalidValueError(f"eviction must be one of {_EVICTIONS}, got {eviction!r}")
        if frame_shape is not None:
            frame_shape = _check_shape(frame_shape)
        self.eviction: Eviction = eviction
        self._rng = np.random.default_rng(seed)
        self._keys: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._frame_shape: tuple[int, ...] | None = None
        self._store = np.zeros((0, 0), dtype=np.uint8)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._seen = np.zeros(0, dtype=np.int64)
        self._storage: _Storage | None = None
        self._closed = False
        self._reserved_keys = 0
        if expected_keys is not None:
            self.reserve(expected_keys)
        if storage is not None:
            self._storage = _Storage.create(storage)
        if frame_shape is not None:
            self._set_frame_shape(frame_shape)
        if self._storage is not None:
            self.flush()
        if expected_keys is not None and frame_shape is not None:
            self.check_fits(int(expected_keys), frame_shape)

    # ------------------------------------------------------------------ properties
    @property
    def keys(self) -> list[Hashable]:
        """State keys in class-index order (first seen first); ``labels`` index this list."""
        return list(self._keys)

    @property
    def frame_shape(self) -> tuple[int, ...] | None:
        """Shape of one frame, or ``None`` before the first frame."""
        return self._frame_shape

    @property
    def num_keys(self) -> int:
        """Number of distinct state keys seen."""
        return len(self._keys)

    @property
    def storage(self) -> Path | None:
        """The storage folder the frames live in, or ``None`` for a memory in RAM."""
        return None if self._storage is None else self._storage.folder

    @property
    def nbytes(self) -> int:
        """Bytes of the frames currently held."""
        per_frame = int(np.prod(self._frame_shape)) if self._frame_shape else 0
        return int(self._sizes.sum()) * per_frame

    def __len__(self) -> int:
        return int(self._sizes.sum())

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._index
        except TypeError:
            return False

    def __repr__(self) -> str:
        where = "" if self._storage is None else f", storage={str(self._storage.folder)!r}"
        return (
            f"ShortTermMemory(capacity={self.capacity}, eviction={self.eviction!r}, "
            f"keys={self.num_keys}, frames={len(self)}, frame_shape={self._frame_shape}{where})"
        )

    def __enter__(self) -> ShortTermMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> ShortTermMemory:
        return self.copy()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the frames held only: most of a memory's rows may be unwritten room."""
        if self._storage is not None:
            raise InvalidTypeError(
                f"a memory kept in {self._storage.folder} is not pickled (it may be larger "
                "than RAM): flush() it and reopen the folder with ShortTermMemory.open where "
                "it is needed, or pickle memory.copy()"
            )
        state = self.__dict__.copy()
        held = self.num_keys
        state["_sizes"], state["_seen"] = self._sizes[:held].copy(), self._seen[:held].copy()
        if self._store.ndim > 2:
            state["_store"] = np.ascontiguousarray(self._store[:held, : self._longest_row()])
        return state

    def counts(self) -> dict[Hashable, int]:
        """Frames held per key, in key order."""
        return {
            key: int(n) for key, n in zip(self._keys, self._sizes[: self.num_keys], strict=True)
        }

    def seen(self) -> dict[Hashable, int]:
        """Frames ever added per key (held or evicted), in key order."""
        return {key: int(n) for key, n in zip(self._keys, self._seen[: self.num_keys], strict=True)}

    def index_of(self, key: Hashable) -> int:
        """Class index of ``key``; :class:`UnknownKeyError` when the memory never saw it."""
        try:
            return self._index[key]
        except (KeyError, TypeError):
            raise UnknownKeyError(
                f"state key {key!r} is not in this memory; known keys: {_preview(self._keys)}"
            ) from None

    # ------------------------------------------------------------------ writing
    def add(self, key: Hashable, frame: np.ndarray) -> None:
        """Store a copy of ``frame`` in ``key``'s queue, evicting per the eviction rule."""
        if self._closed:
            self._check_open()
        try:
            slot = self._index.get(key)
        except TypeError:
            normalize_key(key)  # raises the clear unhashable-key error
            raise
        if (
            not isinstance(frame, np.ndarray)
            or frame.dtype != np.uint8
            or frame.shape != self._frame_shape
        ):
            self._check_frame(frame)
        if slot is None:
            slot = self._new_key(key)
        seen = int(self._seen[slot])
        if self.eviction == "fifo":
            position = seen % self.capacity
            fills = seen < self.capacity
        else:
            # Append while there is room (a reservoir merged from a smaller one may hold
            # fewer than capacity after seeing more), then replace at random.
            size = int(self._sizes[slot])
            fills = size < self.capacity
            position = size if fills else int(self._rng.integers(seen + 1))
            if position >= self.capacity:
                self._seen[slot] = seen + 1
                return
        if position >= self._store.shape[1]:
            self._grow_rows(position + 1)
        self._store[slot, position] = frame
        self._seen[slot] = seen + 1
        if fills:
            self._sizes[slot] = position + 1

    def extend(self, keys: Iterable[Hashable], frames: Iterable[np.ndarray]) -> None:
        """Add many ``(key, frame)`` pairs in order."""
        for key, frame in zip(keys, frames, strict=True):
            self.add(key, frame)

    def _check_open(self) -> None:
        if self._closed:
            folder = self._storage.folder if self._storage is not None else "its folder"
            raise InvalidValueError(
                f"this short-term memory was closed; reopen {folder} with ShortTermMemory.open"
            )

    def _check_frame(self, frame: Any) -> None:
        if not isinstance(frame, np.ndarray):
            raise InvalidTypeError(f"frame must be a numpy uint8 array, got {type(frame).__name__}")
        if frame.dtype != np.uint8:
            raise InvalidTypeError(
                f"frame must have dtype uint8 (0-255 pixels), got {frame.dtype}; convert "
                "images in [0, 1] with (frame * 255).astype(np.uint8)"
            )
        if frame.ndim not in (2, 3):
            raise InvalidValueError(f"frame must be (H, W) or (H, W, C), got shape {frame.shape}")
        if self._frame_shape is None:
            self._set_frame_shape(frame.shape)
        elif frame.shape != self._frame_shape:
            raise InvalidValueError(
                f"frame shape {frame.shape} differs from this memory's frame shape "
                f"{self._frame_shape}; all frames in one memory share a shape (resize them, "
                "or use one memory per shape)"
            )

    def _set_frame_shape(self, shape: tuple[int, ...]) -> None:
        self._frame_shape = _check_shape(shape)
        self._store = np.zeros((0, self._row_length(0, 0), *self._frame_shape), dtype=np.uint8)

    def _row_length(self, slots: int, needed: int) -> int:
        """How long rows are for ``slots`` key slots when the longest must hold ``needed``.

        ``capacity`` while the whole store fits in the address-space budget (and always on
        disk, where a sparse file's unwritten pages cost nothing and rows then never move);
        beyond the budget, rows are only as long as needed and grow geometrically.
        """
        if self._storage is not None:
            return self.capacity
        slots = max(slots, self._reserved_keys, _FIRST_SLOTS)
        free = available_memory_bytes()
        limit = _FULL_ROWS_MAX_BYTES if free is None else min(_FULL_ROWS_MAX_BYTES, free // 2)
        if slots * self.capacity * int(np.prod(self._frame_shape)) <= limit:
            return self.capacity
        current = self._store.shape[1] if self._store.ndim > 2 else 0
        if current < self.capacity:  # rows that grew geometrically never shrink
            needed = max(needed, current)
        return min(self.capacity, max(needed, _FIRST_ROW))

    def reserve(self, num_keys: int) -> None:
        """Make room for ``num_keys`` keys now, so that adding them never moves held frames.

        Like reserving a list's size: it costs no RAM until frames are written (pages are
        committed when touched), only address space. :class:`MemoryWrapper` reserves the
        number of states of envs whose state count it knows (MiniGrid).

        Example:
            >>> import numpy as np
            >>> stm = ShortTermMemory(capacity=10, frame_shape=(4, 4))
            >>> stm.reserve(100)
            >>> stm.add("a", np.zeros((4, 4), np.uint8)); len(stm), stm.num_keys
            (1, 1)
        """
        if isinstance(num_keys, bool) or not isinstance(num_keys, (int, np.integer)):
            raise InvalidTypeError(f"num_keys must be an int, got {num_keys!r}")
        if num_keys < 0:
            raise InvalidValueError(f"num_keys must be >= 0, got {num_keys}")
        self._check_open()
        self._reserved_keys = max(self._reserved_keys, int(num_keys))
        if self._frame_shape is not None and num_keys > self._store.shape[0]:
            self._grow(int(num_keys), self._row_length(int(num_keys), self._longest_row()))

    def _longest_row(self) -> int:
        return int(self._sizes.max(initial=0))

    def _new_key(self, key: Hashable) -> int:
        key = normalize_key(key)
        if key in self._index:  # e.g. np.int64(3) after 3
            return self._index[key]
        slot = len(self._keys)
        if slot == self._store.shape[0]:
            slots = max(_FIRST_SLOTS, 2 * slot, self._reserved_keys)
            self._grow(slots, self._row_length(slots, self._longest_row()))
        self._keys.append(key)
        self._index[key] = slot
        return slot

    def _grow(self, slots: int, row_length: int) -> None:
        """Re-allocate for ``slots`` key slots of ``row_length`` frames (>= every row's size)."""
        if self._storage is not None:
            # More key slots on disk: extend the (sparse) file and map it again; nothing moves.
            self._store = self._storage.map((slots, *self._store.shape[1:]))
        else:
            store = lazy_zeros((slots, row_length, *self._store.shape[2:]))
            _copy_held(self._store, store, self._sizes)
            self._store = store
        self._sizes = np.concatenate([self._sizes, np.zeros(slots - len(self._sizes), np.int64)])
        self._seen = np.concatenate([self._seen, np.zeros(slots - len(self._seen), np.int64)])

    def _grow_rows(self, needed: int) -> None:
        current = self._store.shape[1]
        if needed > current:
            slots = self._store.shape[0]
            self._grow(slots, self._row_length(slots, max(needed, 2 * current)))

    def check_fits(self, expected_keys: int, frame_shape: tuple[int, ...]) -> bool:
        """Warn (``ResourceWarning``) when the worst case would not fit in free RAM.

        The worst case is ``capacity x expected_keys x frame bytes``, as stable-baselines3's
        replay buffer checks; a storage memory compares it with the free space of its folder's
        disk instead. Returns whether it fits (``True`` when free RAM is unknown).
        """
        worst = self.capacity * int(expected_keys) * int(np.prod(frame_shape))
        if self._storage is not None:
            free: int | None = shutil.disk_usage(self._storage.folder).free
            where = f"disk space is free in {self._storage.folder}"
        else:
            free = available_memory_bytes()
            where = "RAM is free"
        if free is not None and worst > free:
            warnings.warn(
                f"this memory may grow to {worst / 2**30:.2f} GiB ({self.capacity} frames x "
                f"{expected_keys} keys x {tuple(frame_shape)}) but only {free / 2**30:.2f} GiB "
                f"of {where}; lower capacity or collect fewer states",
                ResourceWarning,
                stacklevel=3,
            )
            return False
        return True

    # ------------------------------------------------------------------ reading
    def _held(self, slot: int) -> Iterator[np.ndarray]:
        """Views of the frames held in ``slot``, oldest first (one or two pieces, no copy)."""
        size = int(self._sizes[slot])
        seen = int(self._seen[slot])
        row = self._store[slot]
        if self.eviction == "fifo" and seen > self.capacity:
            start = seen % self.capacity
            yield row[start:size]
            yield row[:start]
        else:
            yield row[:size]

    def queue(self, key: Hashable) -> np.ndarray:
        """The frames held for ``key``, oldest first (a copy)."""
        self._check_open()
        pieces = list(self._held(self.index_of(key)))
        return np.concatenate(pieces) if len(pieces) > 1 else pieces[0].copy()

    def sample(
        self,
        batch_size: int,
        *,
        balanced: bool = True,
        rng: np.random.Generator | None = None,
    ) -> Batch:
        """Draw ``batch_size`` frames with replacement; labels index :attr:`keys`.

        ``balanced=True`` draws a key uniformly, then one of its frames uniformly (the paper's
        answer to class imbalance); ``balanced=False`` draws uniformly over all frames held.
        """
        self._check_open()
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise InvalidTypeError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise InvalidValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(self) == 0:
            raise EmptyMemoryError(
                "cannot sample: the short-term memory is empty; add frames first (run the "
                "env inside MemoryWrapper, or ShortTermMemory.add)"
            )
        rng = self._rng if rng is None else rng
        num = self.num_keys
        sizes = self._sizes[:num]
        if balanced:
            labels = rng.integers(num, size=batch_size)
            positions = (rng.random(batch_size) * sizes[labels]).astype(np.int64)
        else:
            ends = np.cumsum(sizes)
            flat = rng.integers(ends[-1], size=batch_size)
            labels = np.searchsorted(ends, flat, side="right")
            positions = flat - (ends[labels] - sizes[labels])
        return Batch(self._gather(labels, positions), labels.astype(np.int64, copy=False))

    def _gather(self, labels: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``store[labels, positions]``; large batches copied by torch's threads in parallel.

        A batch of random frames is bound by memory latency: one thread copies ~1M frames of
        64x64x3 per second here, and torch's ``index_select`` on two cores ~1.7M (measured).
        Only where torch is already imported: sampling never pays torch's import (~1 s and
        ~180 MB), e.g. in a collection process. The batches are the same either way.
        """
        store = self._store
        torch = sys.modules.get("torch")
        if torch is None or len(labels) * store[0, 0].nbytes < _PARALLEL_GATHER_BYTES:
            return store[labels, positions]

        rows = torch.from_numpy(store.reshape(store.shape[0] * store.shape[1], -1))
        index = torch.from_numpy(labels * store.shape[1] + positions)
        frames = torch.index_select(rows, 0, index).numpy()
        return frames.reshape(len(labels), *store.shape[2:])

    def all_frames(self) -> Batch:
        """Every frame held, key by key (oldest first within a key), with its label."""
        frames = [self.queue(key) for key in self._keys]
        labels = [np.full(len(f), i, dtype=np.int64) for i, f in enumerate(frames)]
        if not frames:
            raise EmptyMemoryError("the short-term memory is empty")
        return Batch(np.concatenate(frames), np.concatenate(labels))

    # ------------------------------------------------------------------ combining
    def copy(self, *, storage: str | os.PathLike[str] | None = None) -> ShortTermMemory:
        """A deep copy (frames, counts and the random generator's state).

        The copy is kept in RAM unless ``storage`` names a new folder for it, whatever this
        memory's own storage: copy a memory larger than RAM to another folder.

        Example:
            >>> import numpy as np
            >>> stm = ShortTermMemory(3)
            >>> stm.add("a", np.zeros((2, 2), np.uint8))
            >>> twin = stm.copy()
            >>> twin.add("a", np.ones((2, 2), np.uint8))
            >>> stm.counts(), twin.counts()
            ({'a': 1}, {'a': 2})
        """
        self._check_open()
        if self._storage is None and storage is None:
            other = ShortTermMemory(self.capacity, eviction=self.eviction)
            other._rng.bit_generator.state = self._rng.bit_generator.state
            other._keys = list(self._keys)
            other._index = dict(self._index)
            other._frame_shape = self._frame_shape
            other._reserved_keys = self._reserved_keys
            if self._store.ndim > 2:
                other._store = lazy_zeros(self._store.shape)
                _copy_held(self._store, other._store, self._sizes)
            other._sizes = self._sizes.copy()
            other._seen = self._seen.copy()
            return other
        num = self.num_keys
        contents = _Contents(
            self.capacity,
            self.eviction,
            self._frame_shape,
            list(self._keys),
            self._sizes[:num].copy(),
            self._seen[:num].copy(),
            self._rng.bit_generator.state,
        )
        target = None if storage is None else _Storage.create(storage)
        try:
            other = ShortTermMemory._from_contents(contents, target, slots=num)
            for slot in range(num):  # ring layout kept: copy the filled part of each row
                size = int(self._sizes[slot])
                other._store[slot, :size] = self._store[slot, :size]
            other.flush()
        except BaseException:
            if target is not None:
                target.discard()
            raise
        return other

    def merge(self, other: ShortTermMemory) -> ShortTermMemory:
        """Add ``other``'s frames after this memory's own, key by key; returns ``self``.

        With FIFO eviction this is the same as having added ``other``'s frames here in order,
        so merging is associative and the newest ``capacity`` frames of each key are kept.
        New keys follow this memory's keys in ``other``'s order.
        """
        self._check_open()
        if not isinstance(other, ShortTermMemory):
            raise InvalidTypeError(f"can only merge a ShortTermMemory, got {type(other)}")
        if other.frame_shape is not None and self._frame_shape not in (None, other.frame_shape):
            raise InvalidValueError(
                f"cannot merge memories of frame shapes {self._frame_shape} and {other.frame_shape}"
            )
        for key in other.keys:
            queue = other.queue(key)
            if self.eviction == "reservoir" and other.eviction == "reservoir":
                self._merge_reservoir(key, queue, other._seen[other.index_of(key)])
                continue
            for frame in queue:
                self.add(key, frame)
        return self

    def _merge_reservoir(self, key: Hashable, frames: np.ndarray, seen: int) -> None:
        if key not in self._index:
            for frame in frames:
                self.add(key, frame)
            slot = self._index[normalize_key(key)]
            self._seen[slot] = seen
            return
        slot = self._index[key]
        mine = self.queue(key)
        my_seen = int(self._seen[slot])
        total = my_seen + int(seen)
        pool = np.concatenate([mine, frames])
        # Each held frame stands for seen/held frames of its stream.
        weights = np.concatenate(
            [np.full(len(mine), my_seen / len(mine)), np.full(len(frames), seen / len(frames))]
        )
        keep = min(self.capacity, len(pool))
        chosen = self._rng.choice(len(pool), size=keep, replace=False, p=weights / weights.sum())
        self._grow_rows(keep)
        self._store[slot, :keep] = pool[np.sort(chosen)]
        self._sizes[slot] = keep
        self._seen[slot] = total

    # ------------------------------------------------------------------ files
    def _meta(self) -> dict[str, Any]:
        from man_rl import __version__

        return {
            "man_rl_version": __version__,
            "capacity": self.capacity,
            "eviction": self.eviction,
            "frame_shape": list(self._frame_shape) if self._frame_shape else None,
            "keys": [encode_key(key) for key in self._keys],
            "rng_state": self._rng.bit_generator.state,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the memory to one checked, versioned file, atomically (no pickle).

        The frames are streamed from the ring buffers to the file, never gathered in one
        array, so saving a storage memory larger than RAM takes little memory.
        """
        self._check_open()
        num = self.num_keys
        shape = self._frame_shape or (0, 0)
        pieces = (piece for slot in range(num) for piece in self._held(slot))
        arrays = {
            "frames": ArrayStream((len(self), *shape), np.uint8, pieces),
            "sizes": self._sizes[:num].copy(),
            "seen": self._seen[:num].copy(),
        }
        write_bundle(path, _FILE_KIND, self._meta(), arrays)

    def flush(self) -> None:
        """Make the storage folder hold this memory as it is now (a no-op in RAM).

        First the frames map is written to disk (msync, fsync), then the metadata (keys,
        sizes, seen counters, random state) replaces the old one atomically. What it
        guarantees: once ``flush`` returns, the folder reopens (:meth:`open`) to exactly this
        memory, even after a crash, ``kill -9`` or power loss. After a crash between flushes
        the folder reopens, whole and consistent, to the last flush's keys and counters; a
        frame added since then that went into a free place is simply not counted, but one that
        replaced an evicted frame of a full queue was written in place, so that place may hold
        the newer frame (always one of the same key, never another key's; torn between the two
        only if a kill hit that very write, or power failed before all its pages reached the
        disk). Flush at the points you would want to resume from; :meth:`close` flushes.

        Example:
            >>> import numpy as np, tempfile
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     stm = ShortTermMemory(3, storage=folder)
            ...     stm.add("a", np.zeros((2, 2), np.uint8))
            ...     stm.flush()
            ...     stm.close()
            ...     ShortTermMemory.open(folder).counts()
            {'a': 1}
        """
        if self._storage is None:
            return
        self._check_open()
        self._storage.sync()
        meta = self._meta()
        meta["storage_version"] = _STORAGE_VERSION
        meta["slots"] = int(self._store.shape[0])
        num = self.num_keys
        arrays = {"sizes": self._sizes[:num].copy(), "seen": self._seen[:num].copy()}
        write_bundle(self._storage.meta_path, _STORAGE_KIND, meta, arrays)

    def close(self) -> None:
        """Flush a storage memory and release its folder (map and lock); a no-op in RAM.

        A closed storage memory refuses further use; reopen the folder with :meth:`open`.
        ``with ShortTermMemory(..., storage=DIR) as stm:`` closes it at the end of the block.
        When the flush fails (a full disk, say) the memory stays open, so it can be retried.
        """
        if self._storage is None or self._closed:
            return
        self.flush()
        self._closed = True
        self._store = np.zeros((0, *self._store.shape[1:]), np.uint8)
        self._storage.close()

    @classmethod
    def open(cls, storage: str | os.PathLike[str]) -> ShortTermMemory:
        """Reopen a storage folder as it was at its last :meth:`flush` (or :meth:`close`).

        A folder that is not a man_rl storage, or whose metadata or frames file is damaged or
        too short, raises :class:`CorruptFileError` naming it; a folder written by a newer
        man_rl raises :class:`UnsupportedVersionError`; a folder that is open in another memory
        (here or in another process) is refused.

        Example:
            >>> import numpy as np, tempfile
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     with ShortTermMemory(3, storage=folder) as stm:
            ...         stm.add((1, 2), np.zeros((4, 4, 3), np.uint8))
            ...     with ShortTermMemory.open(folder) as again:
            ...         again.keys, again.frame_shape
            ([(1, 2)], (4, 4, 3))
        """
        attached = _Storage.attach(storage)
        folder = attached.folder
        try:
            try:
                bundle = read_bundle(attached.meta_path, _STORAGE_KIND)
            except CorruptFileError as err:
                raise CorruptFileError(
                    f"storage folder {folder} is damaged: {err}; restore it or re-create it"
                ) from None
            meta = bundle.meta
            version = meta.get("storage_version")
            if isinstance(version, int) and version > _STORAGE_VERSION:
                raise UnsupportedVersionError(
                    f"storage folder {folder} has storage version {version}, newer than this "
                    f"man_rl reads ({_STORAGE_VERSION}); upgrade man_rl to open it"
                )
            try:
                if version != _STORAGE_VERSION:
                    raise ValueError(f"storage version {version!r}")
                contents = _parse_contents(meta, bundle.arrays)
                slots = meta["slots"]
                if not isinstance(slots, int) or isinstance(slots, bool):
                    raise TypeError(f"slots {slots!r}")
                if slots < len(contents.keys) or (slots and contents.frame_shape is None):
                    raise ValueError(f"{slots} slots for {len(contents.keys)} keys")
                row = contents.capacity * int(np.prod(contents.frame_shape or (0,)))
                if attached.frames_bytes() < slots * row:
                    raise ValueError(
                        f"{_FRAMES_NAME} holds {attached.frames_bytes()} bytes, fewer than the "
                        f"{slots * row} its metadata needs"
                    )
            except (KeyError, TypeError, ValueError, OverflowError) as err:
                raise _inconsistent(folder, err) from None
            return cls._from_contents(contents, attached, slots=slots)
        except BaseException:
            attached.close()
            raise

    @classmethod
    def _from_contents(
        cls, contents: _Contents, storage: _Storage | None, *, slots: int
    ) -> ShortTermMemory:
        """A memory with ``contents``' keys and counters and room for ``slots`` keys."""
        memory = cls(contents.capacity, eviction=contents.eviction)
        memory._storage = storage
        if contents.frame_shape is not None:
            memory._set_frame_shape(contents.frame_shape)
        if slots:
            memory._grow(slots, max(1, int(contents.sizes.max(initial=0))))
        num = len(contents.keys)
        memory._keys = list(contents.keys)
        memory._index = {key: slot for slot, key in enumerate(memory._keys)}
        memory._sizes[:num] = contents.sizes
        memory._seen[:num] = contents.seen
        memory._rng.bit_generator.state = contents.rng_state
        return memory

    def _place(self, slot: int, held: np.ndarray) -> None:
        """Put ``held`` (oldest first) into ``slot``'s ring where :meth:`add` expects it."""
        size, seen = len(held), int(self._seen[slot])
        row = self._store[slot]
        if self.eviction == "fifo" and seen > self.capacity:
            # The ring is full (size == capacity) and its oldest frame sits at seen % capacity.
            start = seen % self.capacity
            row[start:size] = held[: size - start]
            row[:start] = held[size - start :]
        else:
            row[:size] = held

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, storage: str | os.PathLike[str] | None = None
    ) -> ShortTermMemory:
        """Load a file written by :meth:`save`; damaged files raise :class:`CorruptFileError`.

        With ``storage`` (a new or empty folder) the memory is built there: the file is
        verified by streaming and its frames are copied from a read-only map of it straight
        into the storage's map, so a file larger than RAM loads too.

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     stm = ShortTermMemory(3)
            ...     stm.add("a", np.zeros((2, 2), np.uint8))
            ...     stm.save(pathlib.Path(tmp) / "m.manrl")
            ...     with ShortTermMemory.load(pathlib.Path(tmp) / "m.manrl",
            ...                               storage=pathlib.Path(tmp) / "disk") as disk:
            ...         disk.counts(), disk.storage.name
            ({'a': 1}, 'disk')
        """
        bundle = read_bundle(path, _FILE_KIND, mmap=storage is not None)
        try:
            contents = _parse_contents(bundle.meta, bundle.arrays)
            frames = bundle.arrays["frames"]
            shape = contents.frame_shape
            if not (
                frames.dtype == np.uint8
                and frames.ndim >= 1
                and len(frames) == int(contents.sizes.sum())
                and (shape is None or tuple(frames.shape[1:]) == shape)
            ):
                raise ValueError("keys, sizes and frames disagree")
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise _inconsistent(Path(path), err) from None
        target = None if storage is None else _Storage.create(storage)
        try:
            memory = cls._from_contents(contents, target, slots=len(contents.keys))
            start = 0
            for slot, size in enumerate(contents.sizes.tolist()):
                memory._place(slot, frames[start : start + size])
                start += size
            memory.flush()
        except BaseException:
            if target is not None:
                target.discard()
            raise
        return memory


def _preview(keys: list[Hashable], limit: int = 8) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]" if keys else "none (the memory is empty)"


__all__ = ["Batch", "Eviction", "ShortTermMemory", "available_memory_bytes"]
