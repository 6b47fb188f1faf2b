"""The short-term memory: one bounded queue of screens per state, sampled class-balanced.

This is the paper's section 3.1: a queue with a maximum size for every object (here: every
state key), so that rare states weigh as much as common ones when the long-term memory learns.
The memory knows nothing of gym or torch: it takes ``uint8`` arrays and hashable keys.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from man_rl.errors import (
    CorruptFileError,
    EmptyMemoryError,
    InvalidTypeError,
    InvalidValueError,
    UnknownKeyError,
)
from man_rl.fileformat import read_bundle, write_bundle
from man_rl.keys import decode_key, encode_key, normalize_key

Eviction = Literal["fifo", "reservoir"]
_FILE_KIND = "short_term_memory"
_EVICTIONS = ("fifo", "reservoir")
_FIRST_ROW = 16  # frames a key's row holds before it first grows


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


def _check_capacity(capacity: Any) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
        raise InvalidTypeError(f"capacity must be an int, got {capacity!r}")
    if capacity < 1:
        raise InvalidValueError(f"capacity must be >= 1 (frames kept per state), got {capacity}")
    return int(capacity)


class ShortTermMemory:
    """One bounded FIFO queue of uint8 frames per state key, sampled class-balanced.

    Frames live in one contiguous ``uint8`` array of shape ``(key_slots, row_length,
    *frame_shape)``; each key owns one row used as a ring buffer, so a batch is gathered with a
    single index operation. Rows grow geometrically up to ``capacity`` and pages are only
    committed when written, so memory use stays at the bytes of the frames held.

    Args:
        capacity: frames kept per key (>= 1). A full queue drops its oldest frame (``"fifo"``).
        eviction: ``"fifo"`` (the paper's queue, default) or ``"reservoir"``, which keeps a
            uniform sample of every frame the key ever saw.
        frame_shape: ``(H, W)`` or ``(H, W, C)``, if known in advance (else the first frame's).
        expected_keys: how many states to expect; with ``frame_shape`` it lets the memory warn
            at construction when the worst case would not fit in free RAM.
        seed: seed of the memory's own random generator (sampling and reservoir eviction).

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
    """

    def __init__(
        self,
        capacity: int,
        *,
        eviction: Eviction = "fifo",
        frame_shape: tuple[int, ...] | None = None,
        expected_keys: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.capacity = _check_capacity(capacity)
        if eviction not in _EVICTIONS:
            raise InvalidValueError(f"eviction must be one of {_EVICTIONS}, got {eviction!r}")
        self.eviction: Eviction = eviction
        self._rng = np.random.default_rng(seed)
        self._keys: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._frame_shape: tuple[int, ...] | None = None
        self._store = np.zeros((0, 0), dtype=np.uint8)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._seen = np.zeros(0, dtype=np.int64)
        if frame_shape is not None:
            self._set_frame_shape(tuple(int(d) for d in frame_shape))
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
        return (
            f"ShortTermMemory(capacity={self.capacity}, eviction={self.eviction!r}, "
            f"keys={self.num_keys}, frames={len(self)}, frame_shape={self._frame_shape})"
        )

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
        if seen < self.capacity:
            position = seen
        elif self.eviction == "fifo":
            position = seen % self.capacity
        else:
            position = int(self._rng.integers(seen + 1))
            if position >= self.capacity:
                self._seen[slot] = seen + 1
                return
        if position >= self._store.shape[1]:
            self._grow_rows(position + 1)
        self._store[slot, position] = frame
        self._seen[slot] = seen + 1
        if seen < self.capacity:
            self._sizes[slot] = seen + 1

    def extend(self, keys: Iterable[Hashable], frames: Iterable[np.ndarray]) -> None:
        """Add many ``(key, frame)`` pairs in order."""
        for key, frame in zip(keys, frames, strict=True):
            self.add(key, frame)

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
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise InvalidValueError(f"frame_shape must be (H, W) or (H, W, C), got {shape}")
        self._frame_shape = shape
        self._store = np.zeros((0, min(self.capacity, _FIRST_ROW), *shape), dtype=np.uint8)

    def _new_key(self, key: Hashable) -> int:
        key = normalize_key(key)
        if key in self._index:  # e.g. np.int64(3) after 3
            return self._index[key]
        slot = len(self._keys)
        if slot == self._store.shape[0]:
            self._grow(max(4, 2 * slot), self._store.shape[1])
        self._keys.append(key)
        self._index[key] = slot
        return slot

    def _grow(self, slots: int, row_length: int) -> None:
        # Rows (one per key) and their length grow geometrically up to `capacity`, so a huge
        # capacity costs nothing up front. np.zeros gets lazily committed pages and only the
        # filled part of each row is copied, so unwritten parts of a row cost no RAM.
        store = np.zeros((slots, row_length, *self._store.shape[2:]), dtype=np.uint8)
        for slot, size in enumerate(self._sizes):
            store[slot, :size] = self._store[slot, :size]
        self._store = store
        self._sizes = np.concatenate([self._sizes, np.zeros(slots - len(self._sizes), np.int64)])
        self._seen = np.concatenate([self._seen, np.zeros(slots - len(self._seen), np.int64)])

    def _grow_rows(self, needed: int) -> None:
        if needed > self._store.shape[1]:
            length = min(self.capacity, max(needed, 2 * self._store.shape[1]))
            self._grow(self._store.shape[0], length)

    def check_fits(self, expected_keys: int, frame_shape: tuple[int, ...]) -> bool:
        """Warn (``ResourceWarning``) when the worst case would not fit in free RAM.

        The worst case is ``capacity x expected_keys x frame bytes``, as stable-baselines3's
        replay buffer checks. Returns whether it fits (``True`` when free RAM is unknown).
        """
        worst = self.capacity * int(expected_keys) * int(np.prod(frame_shape))
        free = available_memory_bytes()
        if free is not None and worst > free:
            warnings.warn(
                f"this memory may grow to {worst / 2**30:.2f} GiB ({self.capacity} frames x "
                f"{expected_keys} keys x {tuple(frame_shape)}) but only {free / 2**30:.2f} GiB "
                "of RAM is free; lower capacity or collect fewer states",
                ResourceWarning,
                stacklevel=3,
            )
            return False
        return True

    # ------------------------------------------------------------------ reading
    def queue(self, key: Hashable) -> np.ndarray:
        """The frames held for ``key``, oldest first (a copy)."""
        slot = self.index_of(key)
        size = int(self._sizes[slot])
        seen = int(self._seen[slot])
        row = self._store[slot, :size]
        if self.eviction == "fifo" and seen > self.capacity:
            start = seen % self.capacity
            return np.concatenate([row[start:], row[:start]])
        return row.copy()

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
        return Batch(self._store[labels, positions], labels.astype(np.int64, copy=False))

    def all_frames(self) -> Batch:
        """Every frame held, key by key (oldest first within a key), with its label."""
        frames = [self.queue(key) for key in self._keys]
        labels = [np.full(len(f), i, dtype=np.int64) for i, f in enumerate(frames)]
        if not frames:
            raise EmptyMemoryError("the short-term memory is empty")
        return Batch(np.concatenate(frames), np.concatenate(labels))

    # ------------------------------------------------------------------ combining
    def copy(self) -> ShortTermMemory:
        """A deep copy (frames, counts and the random generator's state)."""
        other = ShortTermMemory(self.capacity, eviction=self.eviction)
        other._rng.bit_generator.state = self._rng.bit_generator.state
        other._keys = list(self._keys)
        other._index = dict(self._index)
        other._frame_shape = self._frame_shape
        other._store = self._store.copy()
        other._sizes = self._sizes.copy()
        other._seen = self._seen.copy()
        return other

    def merge(self, other: ShortTermMemory) -> ShortTermMemory:
        """Add ``other``'s frames after this memory's own, key by key; returns ``self``.

        With FIFO eviction this is the same as having added ``other``'s frames here in order,
        so merging is associative and the newest ``capacity`` frames of each key are kept.
        New keys follow this memory's keys in ``other``'s order.
        """
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
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the memory to one checked, versioned file, atomically (no pickle)."""
        from man_rl import __version__

        queues = [self.queue(key) for key in self._keys]
        shape = self._frame_shape or (0, 0)
        frames = np.concatenate(queues) if queues else np.zeros((0, *shape), np.uint8)
        meta = {
            "man_rl_version": __version__,
            "capacity": self.capacity,
            "eviction": self.eviction,
            "frame_shape": list(self._frame_shape) if self._frame_shape else None,
            "keys": [encode_key(key) for key in self._keys],
            "rng_state": self._rng.bit_generator.state,
        }
        arrays = {
            "frames": frames,
            "sizes": self._sizes[: self.num_keys].copy(),
            "seen": self._seen[: self.num_keys].copy(),
        }
        write_bundle(path, _FILE_KIND, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ShortTermMemory:
        """Load a file written by :meth:`save`; damaged files raise :class:`CorruptFileError`."""
        bundle = read_bundle(path, _FILE_KIND)
        meta, arrays = bundle.meta, bundle.arrays
        try:
            memory = cls(meta["capacity"], eviction=meta["eviction"])
            keys = [decode_key(value) for value in meta["keys"]]
            frames, sizes, seen = arrays["frames"], arrays["sizes"], arrays["seen"]
            shape = meta["frame_shape"]
            if shape is not None:
                memory._set_frame_shape(tuple(shape))
            consistent = (
                len(sizes) == len(seen) == len(keys) == len(set(keys))
                and int(sizes.sum()) == len(frames)
                and bool(np.all(sizes <= memory.capacity))
                and bool(np.all(sizes >= 0))
                and bool(np.all(seen >= sizes))
                and (shape is None or tuple(frames.shape[1:]) == tuple(shape))
            )
            if not consistent:
                raise ValueError("keys, sizes and frames disagree")
            if keys:
                memory._grow(len(keys), max(1, int(sizes.max())))
            start = 0
            for slot, (key, size) in enumerate(zip(keys, sizes, strict=True)):
                memory._keys.append(normalize_key(key))
                memory._index[memory._keys[-1]] = slot
                memory._store[slot, :size] = frames[start : start + size]
                start += int(size)
            memory._sizes[: len(keys)] = sizes
            memory._seen[: len(keys)] = seen
            # Held frames are stored oldest first, so the ring's write position restarts there.
            for slot, size in enumerate(sizes):
                if memory.eviction == "fifo" and seen[slot] > memory.capacity:
                    memory._store[slot, :size] = np.roll(
                        memory._store[slot, :size], int(seen[slot]) % memory.capacity, axis=0
                    )
            memory._rng.bit_generator.state = meta["rng_state"]
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, CorruptFileError):
                raise
            raise CorruptFileError(
                f"{Path(path)} holds a short-term memory whose contents are inconsistent "
                f"({err}); re-create it or restore a copy"
            ) from None
        return memory


def _preview(keys: list[Hashable], limit: int = 8) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]" if keys else "none (the memory is empty)"


__all__ = ["Batch", "Eviction", "ShortTermMemory", "available_memory_bytes"]
