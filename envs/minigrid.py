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


def _ready(base: Any) -> Any:
    """``base`` itself once reset; a never-reset env: a copy of it after a seed-0 reset."""
    if base.grid is None or base.grid.get(0, 0) is None or base.agent_pos is None:
        base = copy.deepcopy(base)
        base.reset(seed=0)
    return base


def _frees_its_cell(base: Any, x: int, y: int) -> bool:
    """Whether the object at ``(x, y)`` can leave its cell with the episode going on.

    It can when the env moves it (Dynamic-Obstacles' balls, ``base.obstacles``), or when the
    env's own ``step`` lets the agent pick it up or toggle it open (a door, with the key of its
    colour in hand; a box, which opens to what it holds) and the cell is then free without the
    episode ending: a key or door in DoorKey, yes; the ball KeyCorridor asks for, anything in
    Fetch, the door Unlock asks to open, no. Tried on copies, the agent on a neighbouring cell
    inside the wall, facing the object.
    """
    obj = base.grid.get(x, y)
    if any(moving is obj for moving in getattr(base, "obstacles", ()) or ()):
        return True
    for direction, (dx, dy) in enumerate(_DIR_TO_VEC):
        nx, ny = x - dx, y - dy
        if not _inside(base.grid, nx, ny) or _is_wall(base.grid.get(nx, ny)):
            continue
        tries = [(base.actions.pickup, None), (base.actions.toggle, _key_for(obj))]
        return any(_frees_after(base, (nx, ny), direction, *t, (x, y)) for t in tries)
    return False


def _is_wall(cell: Any) -> bool:
    return cell is not None and cell.type == "wall"


def _key_for(obj: Any) -> Any:
    """A key of ``obj``'s colour (what opens a locked door of it)."""
    from minigrid.core.world_object import Key

    return Key(obj.color)


def _frees_after(
    base: Any,
    at: tuple[int, int],
    direction: int,
    action: int,
    carrying: Any,
    cell: tuple[int, int],
) -> bool:
    probe = copy.deepcopy(base)
    probe.agent_pos, probe.agent_dir = at, direction
    probe.carrying, probe.step_count = carrying, 0
    terminated = probe.step(action)[2]
    after = probe.grid.get(*cell)
    return not terminated and (after is None or after.can_overlap())


def _inside(grid: Any, x: int, y: int) -> bool:
    """Inside the outer wall: the agent never stands on the grid's border."""
    return 1 <= x < grid.width - 1 and 1 <= y < grid.height - 1


def _open_cells(base: Any) -> set[tuple[int, int]]:
    """Cells inside the outer wall the agent can stand on at some time in an episode.

    Empty and overlappable cells (floor, goal, lava, open doors), and doors and objects that
    leave their cell (:func:`_frees_its_cell`). Walls and fixed objects do not.
    """
    grid = base.grid
    cells = set()
    for y in range(1, grid.height - 1):
        for x in range(1, grid.width - 1):
            cell = grid.get(x, y)
            if cell is None or cell.can_overlap():
                cells.add((x, y))
            elif not _is_wall(cell) and _frees_its_cell(base, x, y):
                cells.add((x, y))
    return cells


def free_cells(env_or_id: Any) -> list[tuple[int, int]]:
    """Cells ``(x, y)`` of a MiniGrid env the agent can stand on, in reading order.

    Searched on the env's current grid (a never-reset env: the grid a seed-0 reset of a copy
    builds); see :func:`minigrid_reachable_states` for what counts as open.

    Example:
        >>> free_cells("ManRL/Empty-4x4-v0")
        [(1, 1), (2, 1), (1, 2), (2, 2)]
    """
    with resolved(env_or_id) as env:
        cells = _open_cells(_ready(_minigrid_base(env)))
        return sorted(cells, key=lambda cell: (cell[1], cell[0]))


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
    past it. Walls, the outer wall and fixed objects block; doors and objects the episode
    lets the agent open or carry off (a key or door in DoorKey; not the ball KeyCorridor asks
    for) and objects that move (Dynamic-Obstacles' balls) do not.
    MiniGrid-Empty-5x5-v0: 8 cells x 4 + 2 = 34; ``ManRL/Empty-4x4-v0``: 14 of its 16 states.

    Returns:
        The keys, sorted.

    Example:
        >>> states = minigrid_reachable_states("ManRL/Empty-4x4-v0")
        >>> len(states), (2, 2, 0) in states, (2, 2, 2) in states
        (14, True, False)
    """
    with resolved(env_or_id) as env:
        base = _ready(_minigrid_base(env))
        return sorted(_search(base, tuple(int(v) for v in base.agent_pos)))


def _search(base: Any, start: tuple[int, int]) -> set[tuple[int, int, int]]:
    grid, open_cells = base.grid, _open_cells(base)

    def inside(x: int, y: int) -> bool:
        return (x, y) in open_cells

    def passable(x: int, y: int) -> bool:
        cell = grid.get(x, y)
        return (x, y) in open_cells and (cell is None or cell.type not in _ENDS_EPISODE)

    def ends(x: int, y: int) -> bool:
        cell = grid.get(x, y)
        return (x, y) in open_cells and cell is not None and cell.type in _ENDS_EPISODE

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
