"""Agents that act in the environments whose screens man_rl remembers (``man_rl.agents``).

- :class:`QTableAgent`: tabular Q-learning on state keys, saved as a pickle-free ``.npz``.
- :class:`DQNAgent`: a stable-baselines3 DQN on MiniGrid positions, SB3 zip loaded without
  unpickling (imported on first use: it needs torch).
- :func:`make_policy`: ``"pretrained"``, ``"random"`` or a saved file -> ``policy(obs, info)``.
- Shipped pretrained agents (``pretrained/``, SHA-256 checked on load): tabular for
  ``MiniGrid-Empty-5x5-v0`` and ``ManRL/Empty-4x4-v0``, DQN for ``MiniGrid-Empty-5x5-v0``.

Example:
    >>> import gymnasium as gym, minigrid
    >>> from man_rl.agents import make_policy
    >>> env = gym.make("MiniGrid-Empty-5x5-v0")
    >>> obs, info = env.reset(seed=0)
    >>> make_policy("pretrained", env)(obs, info)  # key computed from the env: forward
    2
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .policies import (
    AgentPolicy,
    EvalResult,
    Policy,
    evaluate,
    load_agent,
    make_policy,
    random_policy,
)
from .tabular import QTableAgent, TrainResult
from .zoo import pretrained_envs, pretrained_path

if TYPE_CHECKING:
    from .dqn import DQNAgent, PositionObservation, position_features

_LAZY = {"DQNAgent", "PositionObservation", "position_features"}


def __getattr__(name: str) -> Any:
    # The DQN adapter imports torch and stable-baselines3; load it when asked for.
    if name in _LAZY:
        from . import dqn

        return getattr(dqn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AgentPolicy",
    "DQNAgent",
    "EvalResult",
    "Policy",
    "PositionObservation",
    "QTableAgent",
    "TrainResult",
    "evaluate",
    "load_agent",
    "make_policy",
    "position_features",
    "pretrained_envs",
    "pretrained_path",
    "random_policy",
]
