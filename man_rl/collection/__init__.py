"""Collection: one :func:`collect`, one :class:`CollectResult`, whatever runs it.

Sources: a ``gym.Env``; :class:`Vector` (a gymnasium vector env in lock-step);
:class:`CollectorPool` (local worker processes, the fastest on a few cores);
:class:`RayTasks` (Ray). :func:`summarize` says what a memory holds.

Example:
    >>> import gymnasium as gym, minigrid
    >>> env = gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8)
    >>> result = collect(env, None, 100, seed=0, capacity=20)
    >>> result.steps, result.memory.num_keys > 1
    (100, True)
"""

from man_rl.collection.core import (
    DEFAULT_CAPACITY,
    CollectResult,
    EnvFactory,
    Policy,
    PolicyFactory,
    collect,
    epsilon_greedy,
    exploring_policy,
)
from man_rl.collection.processes import CollectorPool
from man_rl.collection.ray import RayTasks
from man_rl.collection.summary import CoverageSummary, summarize
from man_rl.collection.vector import Vector

__all__ = [
    "DEFAULT_CAPACITY",
    "CollectResult",
    "CollectorPool",
    "CoverageSummary",
    "EnvFactory",
    "Policy",
    "PolicyFactory",
    "RayTasks",
    "Vector",
    "collect",
    "epsilon_greedy",
    "exploring_policy",
    "summarize",
]
