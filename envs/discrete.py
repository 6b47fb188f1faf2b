"""Envs with a ``Discrete`` observation space: the observation is the state key.

Example:
    >>> import gymnasium as gym
    >>> env = gym.make("FrozenLake-v1")
    >>> adapter = DiscreteAdapter()
    >>> adapter.matches(env), adapter.state_count(env), adapter.layout(env).shape
    (True, 16, (1, 16))
"""

from __future__ import annotations

from typing import Any

from man_rl.errors import InvalidValueError
from man_rl.layout import Layout


def is_discrete(env: Any) -> bool:
    """Whether ``env``'s observation space is ``Discrete``."""
    import gymnasium as gym

    return isinstance(getattr(env, "observation_space", None), gym.spaces.Discrete)


def discrete_key(env: Any, obs: Any, info: dict[str, Any] | None = None) -> int:
    """The observation itself, for ``Discrete`` observation spaces."""
    return int(obs)


def discrete_layout(n: int, columns: int | None = None) -> Layout:
    """Layout of ``n`` discrete states ``0 .. n-1``: positions only, ``columns`` per row.

    ``columns`` defaults to ``n`` (one row). Rows are labelled by their first state.

    Example:
        >>> layout = discrete_layout(16, columns=4)
        >>> layout.shape, layout.cells[5], layout.row_labels
        ((4, 4), (1, 1), ('0', '4', '8', '12'))
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidValueError(f"n must be an int >= 1, got {n!r}")
    columns = n if columns is None else columns
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise InvalidValueError(f"columns must be an int >= 1, got {columns!r}")
    columns = min(columns, n)
    rows = -(-n // columns)
    return Layout(
        cells={state: divmod(state, columns) for state in range(n)},
        row_labels=tuple(str(r * columns) for r in range(rows)),
        col_labels=tuple(str(c) for c in range(columns)),
        row_title="state" if rows == 1 else "first state",
        col_title="state" if rows == 1 else "offset",
    )


class DiscreteAdapter:
    """``Discrete`` observations: key = observation, ``n`` states, all assumed reachable."""

    name = "discrete"
    priority = 50

    def matches(self, env: Any) -> bool:
        """The env's observation space is ``Discrete``."""
        return is_discrete(env)

    def key(self, env: Any, obs: Any, info: dict[str, Any]) -> int:
        """:func:`discrete_key`."""
        return int(obs)

    def state_count(self, env: Any) -> int:
        """The observation space's ``n``."""
        return int(env.observation_space.n)

    def layout(self, env: Any) -> Layout:
        """One row of states (:func:`discrete_layout`)."""
        return discrete_layout(self.state_count(env))

    def reachable_states(self, env: Any) -> list[int]:
        """Every state ``0 .. n-1``, assumed reachable."""
        return list(range(self.state_count(env)))


__all__ = ["DiscreteAdapter", "discrete_key", "discrete_layout", "is_discrete"]
