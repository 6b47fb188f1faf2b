"""Layouts and state spaces of environments: which keys exist, which can be reached, where they sit.

A MiniGrid layout follows the paper's Figures 7-8: one column per free cell ``(x, y)`` (reading
order: top row first, left to right) and one row per direction. A discrete env gets one row
of states.

Example:
    >>> layout = minigrid_layout("ManRL/Empty-4x4-v0")
    >>> layout.shape, layout.row_labels[1], layout.col_labels
    ((4, 4), 'down (1)', ('(1, 1)', '(2, 1)', '(1, 2)', '(2, 2)'))
    >>> len(reachable_states("MiniGrid-Empty-5x5-v0"))
    34
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from typing import Any

from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.layout import Layout

from .registration import register_envs

#: Row labels of MiniGrid's four directions (``agent_dir``), in order.
DIRECTION_LABELS: tuple[str, ...] = ("right (0)", "down (1)", "left (2)", "up (3)")
_DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
_ENDS_EPISODE = frozenset({"goal", "lava"})


def _resolve(env_or_id: Any) -> tuple[Any, bool]:
    """``(env, made_here)``: an env id is made (and must be closed by the caller)."""
    if isinstance(env_or_id, str):
        import gymnasium as gym

        register_envs()
        try:
            return gym.make(env_or_id), True
        except gym.error.Error as err:
            raise InvalidValueError(f"unknown environment id {env_or_id!r} ({err})") from None
    return env_or_id, False


def _minigrid_base(env: Any) -> Any:
    base = getattr(env, "unwrapped", env)
    if not all(hasattr(base, name) for name in ("agent_pos", "agent_dir", "grid", "width")):
        name = env.spec.id if getattr(env, "spec", None) is not None else type(base).__name__
        raise EnvCompatibilityError(
            f"{name} is not a MiniGrid env (no agent_pos / agent_dir / grid); use "
            "discrete_layout(n) or build a man_rl.layout.Layout for its keys"
        )
    return base


def _grid(base: Any) -> Any:
    """The env's grid; an env never reset gets the grid a seed-0 reset of a copy builds."""
    grid = base.grid
    if grid is None or grid.get(0, 0) is None:
        fresh = copy.deepcopy(base)
        fresh.reset(seed=0)
        grid = fresh.grid
    return grid


def _open(cell: Any) -> bool:
    return cell is None or cell.can_overlap()


def free_cells(env_or_id: Any) -> list[tuple[int, int]]:
    """Cells ``(x, y)`` of a MiniGrid env the agent can stand on, in reading order.

    Example:
        >>> free_cells("ManRL/Empty-4x4-v0")
        [(1, 1), (2, 1), (1, 2), (2, 2)]
    """
    env, made = _resolve(env_or_id)
    try:
        grid = _grid(_minigrid_base(env))
        return [
            (x, y) for y in range(grid.height) for x in range(grid.width) if _open(grid.get(x, y))
        ]
    finally:
        if made:
            env.close()


def minigrid_layout(env_or_id: Any) -> Layout:
    """Position (columns) x direction (rows) layout of a MiniGrid env or env id.

    Columns are the free cells ``(x, y)`` in reading order; rows are the four directions,
    labelled ``"right (0)"``, ``"down (1)"``, ``"left (2)"``, ``"up (3)"``. Keys are
    ``(x, y, direction)``, as :func:`man_rl.keys.minigrid_key` makes them.

    Example:
        >>> layout = minigrid_layout("MiniGrid-Empty-5x5-v0")
        >>> layout.shape, layout.cells[(2, 1, 3)], layout.row_title, layout.col_title
        ((4, 9), (3, 1), 'direction', 'position')
    """
    cells = free_cells(env_or_id)
    return Layout(
        cells={(x, y, d): (d, col) for col, (x, y) in enumerate(cells) for d in range(4)},
        row_labels=DIRECTION_LABELS,
        col_labels=tuple(f"({x}, {y})" for x, y in cells),
        row_title="direction",
        col_title="position",
    )


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


def layout_for(env_or_id: Any) -> Layout:
    """The default layout of an env (or env id).

    MiniGrid -> :func:`minigrid_layout`, ``Discrete`` -> :func:`discrete_layout`; anything
    else raises :class:`EnvCompatibilityError`.

    Example:
        >>> layout_for("FrozenLake-v1").shape
        (1, 16)
    """
    import gymnasium as gym

    env, made = _resolve(env_or_id)
    try:
        base = getattr(env, "unwrapped", env)
        if hasattr(base, "agent_pos") and hasattr(base, "agent_dir"):
            return minigrid_layout(env)
        space = getattr(env, "observation_space", None)
        if isinstance(space, gym.spaces.Discrete):
            return discrete_layout(int(space.n))
        name = env.spec.id if getattr(env, "spec", None) is not None else type(base).__name__
        raise EnvCompatibilityError(
            f"man_rl has no default layout for {name} (observation space {space}); build a "
            "man_rl.layout.Layout for your keys, e.g. man_rl.layout.flat_layout(keys)"
        )
    finally:
        if made:
            env.close()


def state_space(env_or_id: Any) -> list[Hashable]:
    """Every key of the env's default layout (reachable or not), in row-major layout order.

    Example:
        >>> len(state_space("ManRL/Empty-4x4-v0")), state_space("FrozenLake-v1")[:3]
        (16, [0, 1, 2])
    """
    return layout_for(env_or_id).keys


def reachable_states(env_or_id: Any) -> list[tuple[int, int, int]]:
    """Every ``(x, y, direction)`` an agent can be in, for MiniGrid Empty-like envs.

    Searches the env's current grid (a never-reset env: the grid a seed-0 reset of a copy
    builds) from the agent's cell with MiniGrid's moves. On a cell it can walk through, every
    direction can be reached by turning; a cell that ends the episode on entry (goal, lava)
    is seen only facing the directions it can be entered with, and the search does not go
    past it. Closed doors, walls and objects block. MiniGrid-Empty-5x5-v0: 8 cells x 4 + 2
    = 34; ``ManRL/Empty-4x4-v0``: 14 of its 16 states. ``Discrete`` envs: all ``n`` states,
    assumed reachable.

    Returns:
        The keys, sorted.

    Example:
        >>> states = reachable_states("ManRL/Empty-4x4-v0")
        >>> len(states), (2, 2, 0) in states, (2, 2, 2) in states
        (14, True, False)
    """
    import gymnasium as gym

    env, made = _resolve(env_or_id)
    try:
        base = getattr(env, "unwrapped", env)
        if not hasattr(base, "agent_pos") and isinstance(
            getattr(env, "observation_space", None), gym.spaces.Discrete
        ):
            return list(range(int(env.observation_space.n)))
        base = _minigrid_base(env)
        if base.agent_pos is None or base.grid is None or base.grid.get(0, 0) is None:
            base = copy.deepcopy(base)
            base.reset(seed=0)
        return sorted(_search(base.grid, tuple(int(v) for v in base.agent_pos)))
    finally:
        if made:
            env.close()


def _search(grid: Any, start: tuple[int, int]) -> set[tuple[int, int, int]]:
    def inside(x: int, y: int) -> bool:
        return 0 <= x < grid.width and 0 <= y < grid.height

    def passable(x: int, y: int) -> bool:
        cell = grid.get(x, y)
        return cell is None or (cell.can_overlap() and cell.type not in _ENDS_EPISODE)

    def ends(x: int, y: int) -> bool:
        cell = grid.get(x, y)
        return cell is not None and cell.can_overlap() and cell.type in _ENDS_EPISODE

    if passable(*start):
        frontier = [start]
    else:  # standing on a goal or lava cell: the agent came from a neighbour
        frontier = [
            (start[0] - dx, start[1] - dy)
            for dx, dy in _DIR_TO_VEC
            if inside(start[0] - dx, start[1] - dy) and passable(start[0] - dx, start[1] - dy)
        ]
    seen = set(frontier)
    states: set[tuple[int, int, int]] = set()
    while frontier:
        x, y = frontier.pop()
        states.update((x, y, d) for d in range(4))
        for d, (dx, dy) in enumerate(_DIR_TO_VEC):
            nx, ny = x + dx, y + dy
            if not inside(nx, ny):
                continue
            if ends(nx, ny):
                states.add((nx, ny, d))
            elif passable(nx, ny) and (nx, ny) not in seen:
                seen.add((nx, ny))
                frontier.append((nx, ny))
    return states


__all__ = [
    "DIRECTION_LABELS",
    "discrete_layout",
    "free_cells",
    "layout_for",
    "minigrid_layout",
    "reachable_states",
    "state_space",
]
