"""MiniGrid: the state key ``(x, y, direction)``, the position x direction layout, reachable states.

A MiniGrid layout follows the paper's Figures 7-8: one column per free cell ``(x, y)`` (reading
order: top row first, left to right) and one row per direction. :class:`MiniGridAdapter`
offers all of it to the core (``man_rl.adapters`` entry point ``minigrid``).

Example:
    >>> layout = minigrid_layout("ManRL/Empty-4x4-v0")
    >>> layout.shape, layout.row_labels[1], layout.col_labels
    ((4, 4), 'down (1)', ('(1, 1)', '(2, 1)', '(1, 2)', '(2, 2)'))
    >>> len(minigrid_reachable_states("MiniGrid-Empty-5x5-v0"))
    34
"""

from __future__ import annotations

import copy
from typing import Any

from man_rl.errors import EnvCompatibilityError
from man_rl.layout import Layout

from .resolve import resolved

#: Row labels of MiniGrid's four directions (``agent_dir``), in order.
DIRECTION_LABELS: tuple[str, ...] = ("right (0)", "down (1)", "left (2)", "up (3)")
_DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
_ENDS_EPISODE = frozenset({"goal", "lava"})


def is_minigrid(env: Any) -> bool:
    """Whether ``env`` (possibly wrapped) is a MiniGrid env: an agent position and direction."""
    base = getattr(env, "unwrapped", env)
    return all(hasattr(base, name) for name in ("agent_pos", "agent_dir", "grid", "width"))


def minigrid_key(env: Any, obs: Any = None, info: dict[str, Any] | None = None) -> tuple:
    """``(x, y, direction)`` of a MiniGrid agent, read from the unwrapped env."""
    base = env.unwrapped
    x, y = base.agent_pos
    return (int(x), int(y), int(base.agent_dir))


def _minigrid_base(env: Any) -> Any:
    base = getattr(env, "unwrapped", env)
    if not is_minigrid(base):
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
    # a door opens, and an object that can be picked up (a key, a ball, a box) does not hold its
    # cell for good: it is carried off or, as Dynamic-Obstacles' balls do, moves on
    return cell is None or cell.can_overlap() or cell.can_pickup() or cell.type == "door"


def free_cells(env_or_id: Any) -> list[tuple[int, int]]:
    """Cells ``(x, y)`` of a MiniGrid env the agent can stand on, in reading order.

    Example:
        >>> free_cells("ManRL/Empty-4x4-v0")
        [(1, 1), (2, 1), (1, 2), (2, 2)]
    """
    with resolved(env_or_id) as env:
        grid = _grid(_minigrid_base(env))
        return [
            (x, y) for y in range(grid.height) for x in range(grid.width) if _open(grid.get(x, y))
        ]


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


def minigrid_reachable_states(env_or_id: Any) -> list[tuple[int, int, int]]:
    """Every ``(x, y, direction)`` an agent can be in, for MiniGrid Empty-like envs.

    Searches the env's current grid (a never-reset env: the grid a seed-0 reset of a copy
    builds) from the agent's cell with MiniGrid's moves. On a cell it can walk through, every
    direction can be reached by turning; a cell that ends the episode on entry (goal, lava)
    is seen only facing the directions it can be entered with, and the search does not go
    past it. Walls and fixed objects block; doors (they open) and objects that can be picked
    up or that move (keys, balls, boxes) do not. MiniGrid-Empty-5x5-v0: 8 cells x 4 + 2
    = 34; ``ManRL/Empty-4x4-v0``: 14 of its 16 states.

    Returns:
        The keys, sorted.

    Example:
        >>> states = minigrid_reachable_states("ManRL/Empty-4x4-v0")
        >>> len(states), (2, 2, 0) in states, (2, 2, 2) in states
        (14, True, False)
    """
    with resolved(env_or_id) as env:
        base = _minigrid_base(env)
        if base.agent_pos is None or base.grid is None or base.grid.get(0, 0) is None:
            base = copy.deepcopy(base)
            base.reset(seed=0)
        return sorted(_search(base.grid, tuple(int(v) for v in base.agent_pos)))


def _search(grid: Any, start: tuple[int, int]) -> set[tuple[int, int, int]]:
    def inside(x: int, y: int) -> bool:
        return 0 <= x < grid.width and 0 <= y < grid.height

    def passable(x: int, y: int) -> bool:
        cell = grid.get(x, y)
        return _open(cell) and (cell is None or cell.type not in _ENDS_EPISODE)

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


class MiniGridAdapter:
    """MiniGrid envs: keys ``(x, y, direction)``, position x direction layout, reachable states.

    The state count is ``(width - 2) * (height - 2) * 4`` (every cell inside the outer wall,
    four directions); the reachable states are searched on the env's grid.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0")
        >>> adapter = MiniGridAdapter()
        >>> _ = env.reset(seed=0)
        >>> adapter.matches(env), adapter.key(env, None, {}), adapter.state_count(env)
        (True, (1, 1, 0), 36)
    """

    name = "minigrid"
    priority = 10

    def matches(self, env: Any) -> bool:
        """MiniGrid-like: the unwrapped env has ``agent_pos``, ``agent_dir`` and a ``grid``."""
        return is_minigrid(env)

    def key(self, env: Any, obs: Any, info: dict[str, Any]) -> tuple:
        """:func:`minigrid_key`."""
        return minigrid_key(env)

    def state_count(self, env: Any) -> int:
        """Cells inside the outer wall times four directions."""
        base = env.unwrapped
        return (base.width - 2) * (base.height - 2) * 4

    def layout(self, env: Any) -> Layout:
        """:func:`minigrid_layout`."""
        return minigrid_layout(env)

    def reachable_states(self, env: Any) -> list[tuple[int, int, int]]:
        """:func:`minigrid_reachable_states`."""
        return minigrid_reachable_states(env)


__all__ = [
    "DIRECTION_LABELS",
    "MiniGridAdapter",
    "free_cells",
    "is_minigrid",
    "minigrid_key",
    "minigrid_layout",
    "minigrid_reachable_states",
]
