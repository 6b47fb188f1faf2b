"""Eviction: what a full queue does with a new frame (the paper's FIFO, or a reservoir).

A policy answers three questions about one key's ring of ``capacity`` places, given how many
frames it holds (``size``) and how many it was ever given (``seen``):

- :meth:`~Eviction.position`: where a new frame goes: ``size`` (a new place), a place to
  overwrite, or ``-1`` (the frame is dropped);
- :meth:`~Eviction.oldest`: the place of the oldest frame, so the ring reads oldest first;
- :meth:`~Eviction.merge`: the frames (oldest first) and ``seen`` of a key after merging
  another memory's frames of it.

Example:
    >>> fifo = FIFO()
    >>> [fifo.position(size=min(seen, 3), seen=seen, capacity=3, rng=None) for seen in range(5)]
    [0, 1, 2, 0, 1]
    >>> fifo.oldest(size=3, seen=5, capacity=3)
    2
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.registry import Registry


class Eviction(Protocol):
    """What a short-term memory asks its eviction policy.

    ``name`` is what a memory file records; a policy of your own must be registered
    (:func:`register_eviction`) so that a memory saved with it loads again.
    """

    name: ClassVar[str]
    #: Whether :meth:`position` draws from the memory's generator (the memory then plans
    #: no batches ahead of a frame's arrival).
    draws: ClassVar[bool]

    def position(self, size: int, seen: int, capacity: int, rng: np.random.Generator) -> int:
        """Ring place for the next frame, ``size`` for a new place, or ``-1`` to drop it."""
        ...

    def oldest(self, size: int, seen: int, capacity: int) -> int:
        """Ring place of the oldest frame held."""
        ...

    def consistent(self, sizes: np.ndarray, seen: np.ndarray, capacity: int) -> bool:
        """Whether counters read from a file are ones this policy can produce."""
        ...

    def merge(
        self,
        mine: tuple[np.ndarray, int],
        theirs: tuple[np.ndarray, int],
        their_policy: Eviction,
        capacity: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, int]:
        """``(frames oldest first, seen)`` of a key after adding ``theirs`` to ``mine``."""
        ...


class FIFO:
    """The paper's queue: a full queue drops its oldest frame.

    Merging is adding the other's frames in order, so the newest ``capacity`` frames are kept.
    """

    name: ClassVar[str] = "fifo"
    draws: ClassVar[bool] = False

    def position(self, size: int, seen: int, capacity: int, rng: np.random.Generator) -> int:
        """``seen % capacity``: a new place while filling, then the oldest frame's place."""
        return seen % capacity

    def oldest(self, size: int, seen: int, capacity: int) -> int:
        """Place ``seen % capacity`` once the ring has wrapped, else 0."""
        return seen % capacity if seen > capacity else 0

    def consistent(self, sizes: np.ndarray, seen: np.ndarray, capacity: int) -> bool:
        """A FIFO queue holds ``min(seen, capacity)`` frames."""
        return bool(np.array_equal(sizes, np.minimum(seen, capacity)))

    def merge(
        self,
        mine: tuple[np.ndarray, int],
        theirs: tuple[np.ndarray, int],
        their_policy: Eviction,
        capacity: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, int]:
        """The newest ``capacity`` of both, in order: exactly as adding their frames here."""
        frames = np.concatenate([mine[0], theirs[0]])[-capacity:]
        return frames, mine[1] + len(theirs[0])


class Reservoir:
    """Keeps a uniform sample of every frame the key ever saw (reservoir sampling, R).

    A reservoir merged from another holds each side's frames in proportion to what each side
    saw; merged from a FIFO memory, the other's frames are added one by one.
    """

    name: ClassVar[str] = "reservoir"
    draws: ClassVar[bool] = True  # from the memory's generator, as frames come

    def position(self, size: int, seen: int, capacity: int, rng: np.random.Generator) -> int:
        """A new place while there is room, then place ``j ~ U{0..seen}`` if ``j < capacity``."""
        # Append while there is room (a reservoir merged from a smaller one may hold fewer
        # than capacity after seeing more), then replace at random.
        if size < capacity:
            return size
        j = int(rng.integers(seen + 1))
        return j if j < capacity else -1

    def oldest(self, size: int, seen: int, capacity: int) -> int:
        """A reservoir keeps no time order: place 0."""
        return 0

    def consistent(self, sizes: np.ndarray, seen: np.ndarray, capacity: int) -> bool:
        """Any sizes up to ``min(seen, capacity)``."""
        return True

    def merge(
        self,
        mine: tuple[np.ndarray, int],
        theirs: tuple[np.ndarray, int],
        their_policy: Eviction,
        capacity: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, int]:
        """A weighted draw from both reservoirs, or the other's frames added one by one."""
        held, seen = mine
        if their_policy.name != "reservoir" or len(held) == 0:
            frames = list(held)
            for frame in theirs[0]:
                place = self.position(len(frames), seen, capacity, rng)
                if place == len(frames):
                    frames.append(frame)
                elif place >= 0:
                    frames[place] = frame
                seen += 1
            stacked = np.stack(frames) if frames else theirs[0][:0]
            if their_policy.name == "reservoir":  # `mine` was empty: take their counter
                seen = theirs[1]
            return stacked, seen
        other, other_seen = theirs
        pool = np.concatenate([held, other])
        # Each held frame stands for seen/held frames of its stream.
        weights = np.concatenate(
            [np.full(len(held), seen / len(held)), np.full(len(other), other_seen / len(other))]
        )
        keep = min(capacity, len(pool))
        chosen = rng.choice(len(pool), size=keep, replace=False, p=weights / weights.sum())
        return pool[np.sort(chosen)], seen + other_seen


#: Every eviction policy a memory can be built and loaded with, by name.
EVICTIONS: Registry[type] = Registry(
    "eviction policy",
    group="man_rl.evictions",
    how="man_rl.stm.register_eviction(PolicyClass)",
    name_of=lambda cls: cls.name,
)
_MEMBERS = ("name", "draws", "position", "oldest", "consistent", "merge")


def register_eviction(policy: type) -> None:
    """Make policy class ``policy`` (an :class:`Eviction`) usable by name, and loadable.

    Example:
        >>> class KeepFirst(FIFO):
        ...     name = "keep-first"
        ...     def position(self, size, seen, capacity, rng):
        ...         return size if size < capacity else -1
        ...     def oldest(self, size, seen, capacity):
        ...         return 0
        >>> register_eviction(KeepFirst)
        >>> from man_rl import ShortTermMemory
        >>> ShortTermMemory(capacity=2, eviction="keep-first").eviction
        'keep-first'
    """
    missing = [name for name in _MEMBERS if not hasattr(policy, name)]
    if not isinstance(policy, type) or missing:
        raise InvalidValueError(
            f"{policy!r} is not an Eviction policy class"
            + (f": it lacks {missing}" if missing and isinstance(policy, type) else "")
        )
    EVICTIONS.register(policy.name, policy)


register_eviction(Reservoir)
register_eviction(FIFO)


def eviction_policy(eviction: str | Eviction) -> Eviction:
    """The policy named ``eviction``, or ``eviction`` itself (a registered class's instance).

    Names: ``"fifo"``, ``"reservoir"`` and any policy registered with
    :func:`register_eviction`.
    """
    if isinstance(eviction, str):
        if eviction not in EVICTIONS:
            raise InvalidValueError(
                f"eviction must be one of {EVICTIONS.names()} or a registered policy's name, "
                f"got {eviction!r}; add one with man_rl.stm.register_eviction(PolicyClass)"
            )
        return EVICTIONS.get(eviction)()
    name = getattr(eviction, "name", None)
    if isinstance(name, str) and name in EVICTIONS and EVICTIONS.get(name) is type(eviction):
        return eviction
    raise InvalidValueError(
        f"eviction must be one of {EVICTIONS.names()} or an instance of a registered Eviction "
        f"policy, got {eviction!r}; register its class first "
        "(man_rl.stm.register_eviction(PolicyClass)) so a memory saved with it loads again"
    )


__all__ = [
    "EVICTIONS",
    "FIFO",
    "Eviction",
    "Reservoir",
    "eviction_policy",
    "register_eviction",
]
