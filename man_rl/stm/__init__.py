"""The short-term memory (the paper's section 3.1) and its parts.

:class:`ShortTermMemory` is the facade; its parts are a frame pool
(:mod:`~man_rl.stm.pool`), per-key rings of slots (:mod:`~man_rl.stm.rings`), an eviction
policy (:mod:`~man_rl.stm.eviction`), a sampler (:mod:`~man_rl.stm.sampling`), and the file
formats (:mod:`~man_rl.stm.persist`, :mod:`~man_rl.stm.folder`).

Example:
    >>> import numpy as np
    >>> stm = ShortTermMemory(2, eviction=Reservoir(), seed=0)
    >>> for i in range(5):
    ...     stm.add("a", np.full((1, 1), i, np.uint8))
    >>> stm.counts(), stm.seen(), stm.eviction
    ({'a': 2}, {'a': 5}, 'reservoir')
"""

from man_rl.stm.eviction import FIFO, Eviction, Reservoir, register_eviction
from man_rl.stm.fits import available_memory_bytes
from man_rl.stm.memory import Batch, ShortTermMemory
from man_rl.stm.sampling import Balanced, Sampler, Subset, Uniform

__all__ = [
    "FIFO",
    "Balanced",
    "Batch",
    "Eviction",
    "Reservoir",
    "Sampler",
    "ShortTermMemory",
    "Subset",
    "Uniform",
    "available_memory_bytes",
    "register_eviction",
]
