"""man_rl: short- and long-term memories of what an RL agent saw (Memory Association Networks).

``MemoryWrapper`` writes each state's screen into a ``ShortTermMemory`` (one bounded queue per
state, sampled class-balanced); ``TypeA`` and ``TypeB`` are the paper's long-term memories,
which learn to recall a state's screen (and, for Type B, to recognise the state of a screen).

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=10)
    >>> stm.add((1, 1, 0), np.zeros((8, 8, 3), dtype=np.uint8))
    >>> stm.counts()
    {(1, 1, 0): 1}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from man_rl.env.wrapper import MemoryWrapper
from man_rl.errors import ManRLError
from man_rl.stm.memory import ShortTermMemory
from man_rl.version import __version__

if TYPE_CHECKING:
    from man_rl.ltm import TypeA, TypeB

_LAZY = {"TypeA": "man_rl.ltm", "TypeB": "man_rl.ltm"}


def __getattr__(name: str) -> Any:
    # The long-term memories import torch; load it only when they are asked for.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'man_rl' has no attribute {name!r}")


__all__ = ["ManRLError", "MemoryWrapper", "ShortTermMemory", "TypeA", "TypeB", "__version__"]
