"""The key index of a short-term memory: its keys, their counters and their rings of slots.

Each key owns a ring of up to ``capacity`` places; place ``p`` names the pool slot holding
that frame. The rings live in one flat array of ints, each in a block of its own that
doubles (up to ``capacity``) as the key's queue fills, so a batch's slots are found with one
vectorised lookup, ``flat[base[labels] + places]``. A block that outgrows its room moves to
the end of the array and leaves a gap; when the gaps outweigh the blocks in use the array is
packed, so the index costs at most ~4 ints per frame held plus a few per key, whatever the
capacity or the number of possible keys.

The arrays are :class:`array.array` of ``int64``: one item reads as a Python int in ~30 ns
(the memory's ``add`` reads a few per frame), and :meth:`KeyRings.view` shows one as numpy
without a copy for the vectorised reads of a batch.

Example:
    >>> rings = KeyRings()
    >>> k = rings.add_key("a")
    >>> rings.set_slot(k, 0, 7, capacity=4); rings.set_slot(k, 1, 3, capacity=4)
    >>> rings.sizes[k] = 2
    >>> rings.slots(k).tolist(), rings.lookup(np.array([0, 0]), np.array([1, 0])).tolist()
    ([7, 3], [3, 7])
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable

import numpy as np

_FIRST_BLOCK = 4  # ring places a key gets with its first frame


def _ints(n: int = 0) -> array:
    return array("q", bytes(8 * n))


def _grow(values: array, length: int) -> array:
    """``values`` with at least ``length`` items (zero-filled, geometric growth).

    An array whose buffer a live numpy view still exports cannot be resized; it is then
    copied into a new one (the view keeps the old one alive).
    """
    if length <= len(values):
        return values
    more = max(length, 2 * len(values), 8) - len(values)
    try:
        values.frombytes(bytes(8 * more))
        return values
    except BufferError:
        bigger = array("q", values)
        bigger.frombytes(bytes(8 * more))
        return bigger


def view(values: array, count: int | None = None) -> np.ndarray:
    """The first ``count`` items of ``values`` as an ``int64`` numpy array (no copy)."""
    n = len(values) if count is None else count
    if n == 0:
        return np.zeros(0, np.int64)
    return np.frombuffer(values, np.int64, n)


class KeyRings:
    """Keys in first-seen order, their counters, and the ring of slots each one owns.

    ``sizes[k]`` frames held and ``seen[k]`` frames ever added, for key index ``k``; both are
    ``array("q")`` with room for more keys than there are (read them up to :attr:`num_keys`).
    """

    def __init__(self) -> None:
        self.keys: list[Hashable] = []
        self.index: dict[Hashable, int] = {}
        self.sizes = _ints()
        self.seen = _ints()
        self._base = _ints()
        self._block = _ints()
        self._flat = _ints()
        self._end = 0

    @property
    def num_keys(self) -> int:
        """Number of keys."""
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        """Bytes of the index arrays (what the rings cost beside the frames)."""
        parts = (self.sizes, self.seen, self._base, self._block, self._flat)
        return sum(8 * len(a) for a in parts)

    def sizes_view(self) -> np.ndarray:
        """Frames held per key, as numpy (a view: do not keep it across adds)."""
        return view(self.sizes, self.num_keys)

    def seen_view(self) -> np.ndarray:
        """Frames ever added per key, as numpy (a view: do not keep it across adds)."""
        return view(self.seen, self.num_keys)

    def reserve(self, num_keys: int) -> None:
        """Room for the counters of ``num_keys`` keys (32 bytes each), so they never regrow."""
        self.sizes = _grow(self.sizes, num_keys)
        self.seen = _grow(self.seen, num_keys)
        self._base = _grow(self._base, num_keys)
        self._block = _grow(self._block, num_keys)

    def add_key(self, key: Hashable) -> int:
        """Append ``key`` (normalised, new); returns its index. Its ring starts empty."""
        k = len(self.keys)
        if k >= len(self.sizes):
            self.reserve(k + 1)
        self.keys.append(key)
        self.index[key] = k
        self.sizes[k] = self.seen[k] = self._block[k] = 0
        return k

    def drop_last_key(self) -> None:
        """Forget the last key added if it holds and has seen nothing (after a failed add)."""
        k = len(self.keys) - 1
        if k >= 0 and self.sizes[k] == 0 and self.seen[k] == 0 and self._block[k] == 0:
            del self.index[self.keys.pop()]

    def slot(self, k: int, place: int) -> int:
        """The slot at ``place`` of key ``k``'s ring."""
        return self._flat[self._base[k] + place]

    def set_slot(self, k: int, place: int, slot: int, *, capacity: int) -> None:
        """Make ``place`` of key ``k``'s ring name ``slot`` (growing the ring's block)."""
        if place >= self._block[k]:
            self._move(k, min(capacity, max(_FIRST_BLOCK, 2 * self._block[k], place + 1)))
        self._flat[self._base[k] + place] = slot

    def set_ring(self, k: int, slots: np.ndarray, *, capacity: int) -> None:
        """Make places ``0 .. len(slots) - 1`` of key ``k``'s ring name ``slots``."""
        if len(slots) > self._block[k]:
            self._move(k, min(capacity, max(_FIRST_BLOCK, len(slots))))
        base = self._base[k]
        view(self._flat)[base : base + len(slots)] = slots

    def slots(self, k: int) -> np.ndarray:
        """The slots of key ``k``'s ring, places ``0 .. size - 1`` (a copy)."""
        base = self._base[k]
        return view(self._flat)[base : base + self.sizes[k]].copy()

    def lookup(self, labels: np.ndarray, places: np.ndarray) -> np.ndarray:
        """Slots at ``places`` of the rings of keys ``labels`` (vectorised)."""
        return view(self._flat)[view(self._base, self.num_keys)[labels] + places]

    def _move(self, k: int, block: int) -> None:
        # The ring moves to the end of the flat array; its old block becomes a gap.
        if self._end + block > len(self._flat) and self._end > 2 * self._used_places():
            self._pack()
        kept = min(self._block[k], block)  # the places already named
        old = self._base[k]
        self._flat = _grow(self._flat, self._end + block)
        flat = view(self._flat)
        flat[self._end : self._end + kept] = flat[old : old + kept]
        self._base[k] = self._end
        self._block[k] = block
        self._end += block

    def _used_places(self) -> int:
        return int(view(self._block, self.num_keys).sum())

    def _pack(self) -> None:
        packed = _ints(max(8, 2 * self._used_places()))
        target, flat = view(packed), view(self._flat)
        end = 0
        for k in range(self.num_keys):
            block, base = self._block[k], self._base[k]
            target[end : end + block] = flat[base : base + block]
            self._base[k] = end
            end += block
        del target, flat
        self._flat, self._end = packed, end


__all__ = ["KeyRings", "view"]
