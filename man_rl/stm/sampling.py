"""Sampling: which frames a batch draws, as ``(labels, ring places)`` from the keys' sizes.

- :class:`Balanced` (the paper's answer to class imbalance): a key uniformly, then one of
  its frames uniformly, so a state visited twice weighs as much as one visited a thousand
  times;
- :class:`Uniform`: every frame held equally likely, so common states dominate;
- :class:`Subset`: balanced over a chosen subset of each key's frames (training that leaves
  frames out to check recall on them).

A sampler sees only the number of frames each key holds; the memory turns the places into
frames. Both draw with replacement.

Example:
    >>> import numpy as np
    >>> labels, places = Balanced().draw(np.array([1, 100]), 6, np.random.default_rng(0))
    >>> labels.tolist(), bool(np.all(places < np.array([1, 100])[labels]))
    ([1, 0, 0, 0, 1, 1], True)
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError


class Sampler(Protocol):
    """Draws ``batch`` ``(label, place)`` pairs from keys holding ``sizes`` frames each.

    ``draw_many`` gives ``count`` batches at once as ``[count, batch]`` arrays, the same as
    ``count`` calls of ``draw``; ``raw_draws(batch)`` is the number of 64-bit numbers one batch
    takes from the generator (0: it cannot say). Where it can say, the memory draws the
    batches of a run of samples ahead, in one go, from a copy of the generator, and moves the
    generator itself on by one batch at each sample. A sampler of your own needs only
    ``draw``: :func:`as_sampler` gives it the other two.
    """

    def draw(
        self, sizes: np.ndarray, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(labels int64 [batch], places int64 [batch])``, each place < its key's size."""
        ...

    def draw_many(
        self, sizes: np.ndarray, batch: int, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` batches, ``[count, batch]`` each, the same as ``count`` calls of draw."""
        ...

    def raw_draws(self, batch: int) -> int:
        """64-bit numbers one batch takes from the generator (0: unknown)."""
        ...


class DrawOnly:
    """A sampler that has only ``draw``, with ``draw_many`` by calls and ``raw_draws`` 0."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler

    def draw(
        self, sizes: np.ndarray, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped sampler's draw."""
        return self.sampler.draw(sizes, batch, rng)

    def draw_many(
        self, sizes: np.ndarray, batch: int, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` calls of draw, stacked."""
        drawn = [self.draw(sizes, batch, rng) for _ in range(count)]
        return np.stack([d[0] for d in drawn]), np.stack([d[1] for d in drawn])

    def raw_draws(self, batch: int) -> int:
        """Unknown: the memory draws one batch at a time."""
        return 0


def as_sampler(sampler: Any) -> Sampler:
    """``sampler`` with every method of :class:`Sampler` (one with only ``draw`` wrapped).

    Example:
        >>> class First:
        ...     def draw(self, sizes, batch, rng):
        ...         return np.zeros(batch, np.int64), np.zeros(batch, np.int64)
        >>> as_sampler(First()).raw_draws(4), as_sampler(Balanced()).raw_draws(4)
        (0, 8)
    """
    if all(callable(getattr(sampler, name, None)) for name in ("draw", "draw_many", "raw_draws")):
        return sampler
    if callable(getattr(sampler, "draw", None)):
        return DrawOnly(sampler)
    raise InvalidTypeError(
        f"sampler must have draw(sizes, batch, rng) -> (labels, places), got {sampler!r}"
    )


class Balanced:
    """A key uniformly, then one of its frames uniformly."""

    def draw(
        self, sizes: np.ndarray, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels uniform over keys; places uniform within each key."""
        labels, places = self.draw_many(sizes, batch, 1, rng)
        return labels[0], places[0]

    def draw_many(
        self, sizes: np.ndarray, batch: int, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` batches, ``[count, batch]`` each, the same as ``count`` calls of draw."""
        # One draw of 2 x batch floats per batch is ~4x faster than integers() + random(),
        # and floor(u * n) < n for every u < 1 and integer n < 2**53.
        u = rng.random((count, 2 * batch))
        labels = (u[:, :batch] * len(sizes)).astype(np.int64)
        places = (u[:, batch:] * sizes[labels]).astype(np.int64)
        return labels, places

    def raw_draws(self, batch: int) -> int:
        """One double per label and one per place."""
        return 2 * batch


class Uniform:
    """Every frame held equally likely."""

    def draw(
        self, sizes: np.ndarray, batch: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A frame uniformly over all frames held."""
        labels, places = self.draw_many(sizes, batch, 1, rng)
        return labels[0], places[0]

    def draw_many(
        self, sizes: np.ndarray, batch: int, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` batches, ``[count, batch]`` each, the same as ``count`` calls of draw."""
        ends = np.cumsum(sizes)
        flat = (rng.random((count, batch)) * ends[-1]).astype(np.int64)
        labels = np.searchsorted(ends, flat, side="right")
        return labels, flat - (ends[labels] - sizes[labels])

    def raw_draws(self, batch: int) -> int:
        """One double per frame."""
        return batch


class Subset(Balanced):
    """Balanced over the frames ``allowed`` marks; keys with none allowed are never drawn.

    ``allowed[i][j]`` is for key ``i``'s ``j``-th frame (oldest first).

    The masks describe the memory as it was when they were made: a memory whose keys' sizes
    have changed since is refused, as the places would name other frames.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> subset = Subset([np.array([True, False, True]), np.array([False])])
        >>> labels, places = subset.draw(np.array([3, 1]), 8, rng)
        >>> sorted(set(labels.tolist())), sorted(set(places.tolist()))
        ([0], [0, 2])
    """

    def __init__(self, allowed: list[np.ndarray]) -> None:
        masks = [np.asarray(mask, bool) for mask in allowed]
        self.sizes = np.array([len(mask) for mask in masks], np.int64)
        counts = np.array([int(mask.sum()) for mask in masks], np.int64)
        if not counts.any():
            raise InvalidValueError("Subset needs at least one allowed frame")
        self.keys = np.flatnonzero(counts)
        self.counts = counts[self.keys]
        self.starts = np.cumsum(self.counts) - self.counts
        self.places = np.concatenate([np.flatnonzero(masks[i]) for i in self.keys])

    def draw_many(
        self, sizes: np.ndarray, batch: int, count: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A key with allowed frames uniformly, then one of its allowed frames uniformly."""
        if not np.array_equal(np.asarray(sizes), self.sizes):
            raise InvalidValueError(
                "the memory changed since this Subset was made (its keys hold other numbers "
                "of frames); make the Subset again from the memory as it is now"
            )
        u = rng.random((count, 2 * batch))
        chosen = (u[:, :batch] * len(self.keys)).astype(np.int64)
        offsets = (u[:, batch:] * self.counts[chosen]).astype(np.int64)
        return self.keys[chosen], self.places[self.starts[chosen] + offsets]


BALANCED = Balanced()
UNIFORM = Uniform()

__all__ = [
    "BALANCED",
    "UNIFORM",
    "Balanced",
    "DrawOnly",
    "Sampler",
    "Subset",
    "Uniform",
    "as_sampler",
]
