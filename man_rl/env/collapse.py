"""Spotting a state key that collapses: one key holding most frames while its screens differ.

A key function that cannot see what changes (fixed pixel cells too coarse for a paddle, a
key of the wrong part of the observation) files most screens under one key. Recall then
draws that key's average screen, and nothing says why. :class:`CollapseCheck` looks at a
memory now and then and warns once, with :class:`KeyCollapseWarning`, naming the fix.

**When it looks.** After ``first`` frames added (default 200), then at every doubling
(400, 800, ...) until it has warned once: the cost is one pass over the keys' counters at
each look, so it stays a vanishing share of collection however long it runs.

**What it calls a collapse.** The most-seen key holds at least ``share`` (default half) of
every frame the memory has seen, *and* its screens differ widely: over up to 16 of its held
frames, evenly spaced, the mean fraction of pixels that differ from the first one by more
than 16 grey levels is at least ``spread`` (default 0.2 %, a pole or a paddle's worth of a
large screen). A key that holds most frames of identical screens (a state the agent stands
in) is no collapse.

Example:
    >>> import numpy as np, warnings
    >>> from man_rl.stm import ShortTermMemory
    >>> memory = ShortTermMemory(50)
    >>> for i in range(40):                      # one key, screens with a moving bar
    ...     frame = np.zeros((20, 40), np.uint8)
    ...     frame[:, i : i + 2] = 255
    ...     memory.add("same", frame)
    >>> collapse_of(memory)[:2]
    ('same', 1.0)
    >>> check = CollapseCheck(first=40)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check.added(memory, 40)
    >>> caught[0].category.__name__, check.warned
    ('KeyCollapseWarning', True)
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np

_SAMPLE = 16  # frames of the biggest key compared
_GREY_STEP = 16  # a pixel differs when some channel differs by more than this


class KeyCollapseWarning(UserWarning):
    """One state key holds most frames while its screens differ: the key cannot see the game."""


def spread_of(frames: np.ndarray) -> float:
    """Mean fraction of pixels of ``frames[1:]`` differing from ``frames[0]`` (> 16 levels).

    Example:
        >>> frames = np.zeros((3, 2, 5), np.uint8)
        >>> frames[1, 0, 0] = frames[2, :, :2] = 200
        >>> spread_of(frames)                   # 1 of 10 pixels, then 4 of 10
        0.25
    """
    if len(frames) < 2:
        return 0.0
    first = frames[0].astype(np.int16)
    differs = np.abs(frames[1:].astype(np.int16) - first) > _GREY_STEP
    if differs.ndim == 4:  # colour: a pixel differs when any channel does
        differs = differs.any(axis=3)
    return float(differs.mean())


def collapse_of(memory: Any) -> tuple[Hashable, float, float] | None:
    """``(key, share, spread)`` of the memory's most-seen key; ``None`` for an empty memory.

    ``share``: its part of every frame seen; ``spread``: :func:`spread_of` up to 16 of its
    held frames, evenly spaced.
    """
    seen = memory.seen()
    if not seen:
        return None
    key = max(seen, key=seen.__getitem__)
    frames = memory.queue(key)
    picked = frames[np.linspace(0, len(frames) - 1, min(_SAMPLE, len(frames))).astype(int)]
    return key, seen[key] / sum(seen.values()), spread_of(picked)


class CollapseCheck:
    """Warn once when a memory's keys collapse (see the module docstring for the rule).

    Args:
        first: frames added before the first look (later looks at every doubling).
        share: the most-seen key's share of the frames seen that counts as most.
        spread: the share of differing pixels that counts as screens differing widely.
    """

    def __init__(self, first: int = 200, share: float = 0.5, spread: float = 0.002) -> None:
        self.next_look, self.share, self.spread = first, share, spread
        self.frames = 0
        self.warned = False

    def added(self, memory: Any, count: int = 1) -> None:
        """Count ``count`` frames added to ``memory``; look at it when a checkpoint is passed."""
        self.frames += count
        if self.warned or self.frames < self.next_look:
            return
        self.next_look = 2 * self.frames
        found = collapse_of(memory)
        if found is None:
            return
        key, share, spread = found
        if share >= self.share and spread >= self.spread:
            self.warned = True
            warnings.warn(
                f"the state key collapses: key {key!r} holds {share:.0%} of the "
                f"{sum(memory.seen().values())} frames seen, while its screens differ "
                f"({spread:.2%} of pixels on average), so recall can only draw their average. "
                "Give a key function that tells these states apart: MemoryWrapper(key_fn=...) "
                "or man-rl collect --key-fn MODULE:FUNC",
                KeyCollapseWarning,
                stacklevel=4,
            )


__all__ = ["CollapseCheck", "KeyCollapseWarning", "collapse_of", "spread_of"]
