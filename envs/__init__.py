"""Environment adapters: our registered envs, layouts and state spaces (``man_rl.envs``).

Example:
    >>> import gymnasium as gym
    >>> from man_rl.envs import register_envs, reachable_states
    >>> register_envs()
    ('ManRL/Empty-4x4-v0',)
    >>> len(reachable_states(gym.make("ManRL/Empty-4x4-v0")))
    14
"""

from __future__ import annotations

from .layouts import (
    DIRECTION_LABELS,
    discrete_layout,
    free_cells,
    layout_for,
    minigrid_layout,
    reachable_states,
    state_space,
)
from .registration import EMPTY_4X4_ID, ENV_IDS, register_envs

__all__ = [
    "DIRECTION_LABELS",
    "EMPTY_4X4_ID",
    "ENV_IDS",
    "discrete_layout",
    "free_cells",
    "layout_for",
    "minigrid_layout",
    "reachable_states",
    "register_envs",
    "state_space",
]
