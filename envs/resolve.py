"""Env ids or envs: the helpers of ``man_rl.envs`` take either.

Example:
    >>> with resolved("FrozenLake-v1") as env:
    ...     env.spec.id
    'FrozenLake-v1'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from man_rl.errors import InvalidValueError

from .registration import register_envs


@contextmanager
def resolved(env_or_id: Any) -> Iterator[Any]:
    """The env itself, or the env an id makes (closed again when the block ends)."""
    if not isinstance(env_or_id, str):
        yield env_or_id
        return
    import gymnasium as gym

    register_envs()
    if env_or_id.startswith("ALE/"):
        from .atari import register_atari

        register_atari()  # says how to install ale-py when it is missing
    try:
        env = gym.make(env_or_id)
    except gym.error.Error as err:
        raise InvalidValueError(f"unknown environment id {env_or_id!r} ({err})") from None
    try:
        yield env
    finally:
        env.close()


__all__ = ["resolved"]
