"""An env's layout, state space and reachable states, from whichever adapter understands it.

Example:
    >>> layout_for("FrozenLake-v1").shape, len(reachable_states("MiniGrid-Empty-5x5-v0"))
    ((1, 16), 34)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from man_rl.env.adapter import adapter_for
from man_rl.errors import EnvCompatibilityError
from man_rl.layout import Layout

from .resolve import resolved


def layout_for(env_or_id: Any) -> Layout:
    """The default layout of an env (or env id), from its adapter.

    MiniGrid -> position x direction, ``Discrete`` -> one row of states; an env whose
    adapter has no layout raises :class:`EnvCompatibilityError`.

    Example:
        >>> layout_for("MiniGrid-Empty-5x5-v0").shape
        (4, 9)
    """
    with resolved(env_or_id) as env:
        layout = adapter_for(env).layout(env)
        if layout is None:
            name = env.spec.id if getattr(env, "spec", None) is not None else type(env).__name__
            raise EnvCompatibilityError(
                f"man_rl has no default layout for {name}; build a man_rl.layout.Layout for "
                "your keys, e.g. man_rl.layout.flat_layout(keys)"
            )
        return layout


def state_space(env_or_id: Any) -> list[Hashable]:
    """Every key of the env's default layout (reachable or not), in row-major layout order.

    Example:
        >>> len(state_space("ManRL/Empty-4x4-v0")), state_space("FrozenLake-v1")[:3]
        (16, [0, 1, 2])
    """
    return layout_for(env_or_id).keys


def reachable_states(env_or_id: Any) -> list[Hashable] | None:
    """Every key an agent can reach in the env, sorted, or ``None`` where its adapter can't say.

    Example:
        >>> len(reachable_states("ManRL/Empty-4x4-v0")), reachable_states("FrozenLake-v1")[:2]
        (14, [0, 1])
    """
    with resolved(env_or_id) as env:
        states = adapter_for(env).reachable_states(env)
        return None if states is None else sorted(states)


__all__ = ["layout_for", "reachable_states", "state_space"]
