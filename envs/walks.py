"""Screens of an env visited by a uniformly random policy: a quick short-term memory to try.

Example:
    >>> stm = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=200, capacity=5, seed=0)
    >>> stm.frame_shape, stm.num_keys > 10
    ((40, 40, 3), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from man_rl.collection import collect
from man_rl.stm import ShortTermMemory

from .minigrid import is_minigrid
from .registration import register_envs

#: MiniGrid's actions that move the agent: left, right, forward (the rest do nothing there).
MINIGRID_MOVES = 3


def random_walk_memory(
    env_id: str = "MiniGrid-Empty-5x5-v0",
    *,
    steps: int = 3000,
    capacity: int = 50,
    seed: int = 0,
    memory: ShortTermMemory | None = None,
    **make_kwargs: Any,
) -> ShortTermMemory:
    """Screens of ``env_id`` under a uniformly random policy, one queue per state.

    The env is made with ``render_mode="rgb_array"`` and ``make_kwargs`` (MiniGrid's
    ``tile_size`` defaults to 8 here) and reset whenever an episode ends. In MiniGrid the
    policy picks among the three moves (left, right, forward); elsewhere among all actions.
    ``MiniGrid-Empty-5x5-v0`` needs about 3000 steps to visit all of its 34 states.
    """
    import gymnasium as gym

    register_envs()
    if "minigrid" in str(gym.spec(env_id).entry_point).lower():
        make_kwargs.setdefault("tile_size", 8)
    env = gym.make(env_id, render_mode="rgb_array", **make_kwargs)
    try:
        policy = None
        if is_minigrid(env):
            rng = np.random.default_rng(seed)
            policy = lambda obs, info: int(rng.integers(MINIGRID_MOVES))  # noqa: E731
        target = memory if memory is not None else ShortTermMemory(capacity)
        return collect(env, policy, steps, memory=target, seed=seed).memory
    finally:
        env.close()


__all__ = ["MINIGRID_MOVES", "random_walk_memory"]
