"""The queues themselves: a frame pool, each key's ring of slots, and the eviction policy.

:class:`KeyQueues` is the data structure behind :class:`~man_rl.stm.memory.ShortTermMemory`
(which adds the public API: checks, keys, sampling policies, merging, files). Keys here are
class indices ``k``; a key's queue is the ring of slots ``rings.slots(k)``, read oldest
first from ``eviction.oldest(...)``.

Example:
    >>> import numpy as np
    >>> from man_rl.stm.eviction import FIFO
    >>> queues = KeyQueues(capacity=2, eviction=FIFO(), rng=np.random.default_rng(0))
    >>> queues.attach((1, 1))
    >>> k = queues.rings.add_key("a")
    >>> for value in (1, 2, 3):
    ...     queues.add(k, np.full((1, 1), value, np.uint8))
    >>> queues.queue(k)[:, 0, 0].tolist(), queues.held
    ([2, 3], 2)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from man_rl.stm.eviction import Eviction
from man_rl.stm.pool import FramePool
from man_rl.stm.rings import KeyRings
from man_rl.stm.sampling import Sampler

_MOST_BATCHES_AHEAD = 64
_MOST_SLOTS_AHEAD = 2**16
_NOT_ADDED = (
    "this add was not made: the memory is as it was before it, and still usable "
    "(flush() or close() keeps what it holds; free disk space to add more)"
)


@dataclass
class _Plan:
    """Batches drawn ahead: their slots and labels, for one sampler, rng and batch size."""

    sampler: Any
    rng: np.random.Generator
    batch: int
    held: int  # the plan holds while no frame takes a new place (slots never move)
    count: int
    slots: np.ndarray
    labels: np.ndarray
    raw: int = 0  # numbers a batch takes from the generator, moved on at each sample
    next: int = 0
    tensor: Any = None  # the slots as a torch tensor, where torch gathers


def _can_advance(rng: np.random.Generator) -> bool:
    """Whether ``advance`` moves ``rng`` exactly as its draws would (PCG64 and kin).

    ``advance`` drops a half-used 32-bit number that small ``integers`` draws leave behind,
    so a generator holding one is drawn from batch by batch instead.
    """
    bits = rng.bit_generator
    return hasattr(bits, "advance") and not bits.state.get("has_uint32", 0)


class KeyQueues:
    """One bounded queue of frames per key index, in a shared pool of slots.

    Args:
        capacity: frames kept per key.
        eviction: where a new frame of a full queue goes.
        rng: the generator the eviction draws from (reservoir).
    """

    def __init__(self, capacity: int, eviction: Eviction, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.eviction = eviction
        self.rng = rng
        self.rings = KeyRings()
        self.pool: FramePool | None = None
        self.held = 0
        self._plan: _Plan | None = None
        # an eviction that draws from the generator (reservoir) moves it under a plan's feet
        self._eviction_draws = bool(eviction.draws)

    def attach(
        self,
        frame_shape: tuple[int, ...],
        *,
        fd: int | None = None,
        slots: int = 0,
        name: str | None = None,
    ) -> None:
        """Make the pool for frames of ``frame_shape`` (in RAM, or over the file ``fd``).

        ``name`` is what a full disk's error names (the storage folder).
        """
        self.pool = FramePool(frame_shape, fd=fd, slots=slots, name=name)

    def make_room(self, frames: int) -> None:
        """Map (and reserve on disk) ``frames`` more slots, so adding them cannot run out."""
        if self.pool is not None and frames > 0:
            self.pool.make_room((len(self.pool) + frames) * self.pool.frame_bytes)

    def add(self, k: int, frame: np.ndarray) -> None:
        """Store ``frame`` in key ``k``'s queue, evicting as the policy says (the hot path)."""
        rings = self.rings
        size, seen = rings.sizes[k], rings.seen[k]
        if self._eviction_draws:
            self._plan = None
        place = self.eviction.position(size, seen, self.capacity, self.rng)
        if place == size:  # a new place in the ring
            try:
                slot = self.pool.allocate()  # type: ignore[union-attr]
            except OSError as err:  # a full disk: nothing changed, not even a new key
                if seen == 0 and k == rings.num_keys - 1:  # made for this add
                    rings.drop_last_key()
                raise OSError(err.errno, f"{err.strerror}; {_NOT_ADDED}") from None
            rings.set_slot(k, place, slot, capacity=self.capacity)
            rings.sizes[k] = size + 1
            self.held += 1
            self.pool.frames[slot] = frame  # type: ignore[union-attr]
        elif place >= 0:
            self.pool.frames[rings.slot(k, place)] = frame  # type: ignore[union-attr]
        rings.seen[k] = seen + 1

    def set(self, k: int, frames: np.ndarray, seen: int) -> None:
        """Make key ``k`` hold ``frames`` (oldest first) after ``seen`` adds, as adds would."""
        rings, size = self.rings, len(frames)
        old = rings.sizes[k]
        if size > old:
            first = self.pool.allocate(size - old)  # type: ignore[union-attr]
            new = np.arange(first, first + size - old, dtype=np.int64)
            rings.set_ring(k, np.concatenate([rings.slots(k), new]), capacity=self.capacity)
        self.held += size - old
        rings.sizes[k], rings.seen[k] = size, seen
        self.pool.frames[self.ordered_slots(k)] = frames  # type: ignore[union-attr]

    def merge_key(self, k: int, theirs: tuple[np.ndarray, int], their_eviction: Eviction) -> None:
        """Add another memory's ``(frames oldest first, seen)`` of a key to key ``k``."""
        mine = (self.queue(k), self.rings.seen[k])
        frames, seen = self.eviction.merge(mine, theirs, their_eviction, self.capacity, self.rng)
        self.set(k, frames, seen)

    def ordered_slots(self, k: int) -> np.ndarray:
        """Key ``k``'s slots, oldest frame first."""
        slots = self.rings.slots(k)
        start = self.eviction.oldest(len(slots), self.rings.seen[k], self.capacity)
        return np.concatenate([slots[start:], slots[:start]]) if start else slots

    def queue(self, k: int) -> np.ndarray:
        """Key ``k``'s frames, oldest first (a copy)."""
        return self.pool.frames[self.ordered_slots(k)]  # type: ignore[union-attr]

    def pieces(self) -> Iterator[np.ndarray]:
        """Every frame held (views, no copies), key by key, oldest first."""
        for k in range(self.rings.num_keys):
            for slot in self.ordered_slots(k).tolist():
                yield self.pool.frames[slot]  # type: ignore[union-attr]

    def everything(self) -> tuple[np.ndarray, np.ndarray]:
        """Every frame held, key by key, oldest first, and its key index (copies)."""
        num = self.rings.num_keys
        order = np.concatenate([self.ordered_slots(k) for k in range(num)])
        labels = np.repeat(np.arange(num, dtype=np.int64), self.rings.sizes_view())
        return self.pool.frames[order], labels  # type: ignore[union-attr]

    def sample(
        self, sampler: Sampler, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(frames, labels)`` of a batch the sampler draws.

        A run of samples from an unchanged memory (with the same sampler, generator and batch
        size) has its batches drawn ahead, 2, 4 ... 64 at a time, by ``draw_many`` from a copy
        of the generator; the generator itself moves on by one batch per sample (``advance``),
        so it ends where drawing batch by batch leaves it, and the batches are the same. The
        index work of a batch is then a small share of its gather (a batch of random frames is
        memory-bound, and the few numpy operations that pick them cost ~150 us after it has
        flushed the caches, measured). A frame taking a new place ends the run. (The batches
        drawn ahead are those of the generator as it was: draw from it elsewhere between two
        samples and the next batch differs from a batch drawn then.)
        """
        plan = self._plan
        if (  # the fast path: the next batch of a run
            plan is None
            or plan.next == plan.count
            or plan.held != self.held
            or plan.rng is not rng
            or plan.sampler is not sampler
            or plan.batch != batch
        ):
            plan = self._plan = self._draw(sampler, rng, batch, plan)
        if plan.tensor is not None:
            frames = self.pool.gather_tensor(plan.tensor[plan.next])  # type: ignore[union-attr]
        else:
            frames = self.pool.gather(plan.slots[plan.next])  # type: ignore[union-attr]
        labels = plan.labels[plan.next]
        plan.next += 1
        if plan.raw:
            rng.bit_generator.advance(plan.raw)
        return frames, labels

    def _draw(
        self, sampler: Any, rng: np.random.Generator, batch: int, last: _Plan | None
    ) -> _Plan:
        """The next run's batches: twice the last run's if it ran out unchanged, else one."""
        raw = sampler.raw_draws(batch)
        grown = (
            raw
            and _can_advance(rng)
            and last is not None
            and (last.sampler, last.rng, last.batch, last.held) == (sampler, rng, batch, self.held)
        )
        most = max(1, min(_MOST_BATCHES_AHEAD, _MOST_SLOTS_AHEAD // batch))
        count = min(2 * last.count, most) if grown else 1  # type: ignore[union-attr]
        sizes = self.rings.sizes_view()
        if count > 1:  # from a copy: the generator moves on as the batches are used
            copy = np.random.Generator(type(rng.bit_generator)())
            copy.bit_generator.state = rng.bit_generator.state
            labels, places = sampler.draw_many(sizes, batch, count, copy)
        else:
            raw = 0
            labels, places = (a[None] for a in sampler.draw(sizes, batch, rng))
        slots = self.rings.lookup(labels, places)
        labels = labels.astype(np.int64, copy=False)
        plan = _Plan(sampler, rng, batch, self.held, count, slots, labels, raw=raw)
        if self.pool.parallel(batch):  # type: ignore[union-attr]
            plan.tensor = sys.modules["torch"].from_numpy(slots)
        return plan


__all__ = ["KeyQueues"]
