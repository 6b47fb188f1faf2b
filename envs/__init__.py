"""Environment adapters and envs of our own (``man_rl.envs``).

- :class:`MiniGridAdapter` (:mod:`.minigrid`): keys ``(x, y, direction)``, the position x
  direction layout of the paper's Figures 7-8, reachable states by search;
- :class:`DiscreteAdapter` (:mod:`.discrete`): the observation is the key;
- :class:`AtariAdapter` (:mod:`.atari`): binned RAM bytes of a few ALE games
  (:class:`RamKey`, the AtariARI annotations); :func:`register_atari` registers ale-py's ids;
- :class:`CellAdapter` (:mod:`.downscale`): the fallback of every pixel env, Go-Explore's
  downscaled grey cells of the frame (:class:`CellKey`), sized per game
  (:class:`DynamicCellKey`, :mod:`.downscale`);
- :func:`layout_for`, :func:`state_space`, :func:`reachable_states`: whichever adapter
  matches an env (or env id) answers;
- :func:`register_envs`: MiniGrid's ids and ``ManRL/Empty-4x4-v0``, the paper's 16-state grid;
- :func:`random_walk_memory`: a memory of a random walk in an env.

The adapters reach the core through the ``man_rl.adapters`` entry points in
``pyproject.toml``; the core never imports this package.

Example:
    >>> import gymnasium as gym
    >>> from man_rl.envs import register_envs, reachable_states
    >>> register_envs()
    ('ManRL/Empty-4x4-v0',)
    >>> len(reachable_states(gym.make("ManRL/Empty-4x4-v0")))
    14
"""

from __future__ import annotations

from .atari import (
    ATARI_KEYS,
    AtariAdapter,
    RamAxis,
    RamKey,
    atari_game,
    preprocessed_atari,
    register_atari,
)
from .cells import CellKey
from .discrete import DiscreteAdapter, discrete_key, discrete_layout
from .downscale import CellAdapter, DynamicCellKey
from .layouts import layout_for, reachable_states, state_space
from .minigrid import (
    DIRECTION_LABELS,
    MiniGridAdapter,
    free_cells,
    minigrid_key,
    minigrid_layout,
    minigrid_reachable_states,
)
from .registration import EMPTY_4X4_ID, ENV_IDS, register_envs
from .walks import random_walk_memory

__all__ = [
    "ATARI_KEYS",
    "DIRECTION_LABELS",
    "EMPTY_4X4_ID",
    "ENV_IDS",
    "AtariAdapter",
    "CellAdapter",
    "CellKey",
    "DiscreteAdapter",
    "DynamicCellKey",
    "MiniGridAdapter",
    "RamAxis",
    "RamKey",
    "atari_game",
    "discrete_key",
    "discrete_layout",
    "free_cells",
    "layout_for",
    "minigrid_key",
    "minigrid_layout",
    "minigrid_reachable_states",
    "preprocessed_atari",
    "random_walk_memory",
    "reachable_states",
    "register_atari",
    "register_envs",
    "state_space",
]
