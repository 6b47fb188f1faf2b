"""What a short-term memory holds: states seen, frames per state, states never seen.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(4)
    >>> for key in "aab":
    ...     stm.add(key, np.zeros((2, 2), np.uint8))
    >>> summarize(stm, known_states="abc").lines()[-1]
    "states never seen: 1 'c'"
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from man_rl.stm.memory import ShortTermMemory


@dataclass
class CoverageSummary:
    """States seen and frames per state; ``never_seen`` when the state space is known."""

    states_seen: int
    frames: int
    min_per_state: int
    median_per_state: float
    max_per_state: int
    never_seen: list[Hashable] | None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"states seen: {self.states_seen}",
            f"frames held: {self.frames} (per state: min {self.min_per_state}, "
            f"median {self.median_per_state:g}, max {self.max_per_state})",
        ]
        if self.never_seen is not None:
            shown = ", ".join(map(repr, self.never_seen[:10]))
            more = " ..." if len(self.never_seen) > 10 else ""
            out.append(f"states never seen: {len(self.never_seen)} {shown}{more}".rstrip())
        return out


def summarize(
    memory: ShortTermMemory, known_states: Iterable[Hashable] | None = None
) -> CoverageSummary:
    """Summarise what ``memory`` holds, and which of ``known_states`` it never saw."""
    counts = np.array(list(memory.counts().values()) or [0])
    never = None
    if known_states is not None:
        never = [key for key in known_states if key not in memory]
    return CoverageSummary(
        states_seen=memory.num_keys,
        frames=len(memory),
        min_per_state=int(counts.min()),
        median_per_state=float(np.median(counts)),
        max_per_state=int(counts.max()),
        never_seen=never,
    )


__all__ = ["CoverageSummary", "summarize"]
