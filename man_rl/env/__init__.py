"""The env side: the wrapper that writes screens to a short-term memory, and env adapters.

- :class:`MemoryWrapper` (:mod:`.wrapper`): a Gymnasium wrapper storing each state's screen;
- :mod:`.vector`: the same for vector envs, whose sub-envs may run in other processes;
- :mod:`.collapse`: the one warning (:class:`KeyCollapseWarning`) when a key function files
  most screens, differing widely, under one key;
- :mod:`.adapter`: the :class:`EnvAdapter` protocol (state keys, state count, layout,
  reachable states) and how an env finds its adapter.

Example:
    >>> import gymnasium as gym
    >>> env = MemoryWrapper(gym.make("FrozenLake-v1", render_mode="rgb_array"), capacity=2)
    >>> _, info = env.reset(seed=0)
    >>> info["state_key"], adapter_for(env).name
    (0, 'discrete')
"""

from man_rl.env.adapter import (
    EnvAdapter,
    adapter_for,
    adapters,
    default_key_fn,
    find_adapter,
    register_adapter,
    unregister_adapter,
)
from man_rl.env.collapse import KeyCollapseWarning
from man_rl.env.vector import StateFrameInfo, VectorMemoryWrapper, make_memory_vec_env
from man_rl.env.wrapper import FrameSource, MemoryWrapper, StateObserver

__all__ = [
    "EnvAdapter",
    "FrameSource",
    "KeyCollapseWarning",
    "MemoryWrapper",
    "StateFrameInfo",
    "StateObserver",
    "VectorMemoryWrapper",
    "adapter_for",
    "adapters",
    "default_key_fn",
    "find_adapter",
    "make_memory_vec_env",
    "register_adapter",
    "unregister_adapter",
]
