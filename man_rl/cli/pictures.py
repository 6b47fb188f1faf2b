"""Pictures the commands draw: the position x direction recall grid of a trained model."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from matplotlib.figure import Figure

from man_rl.layout import Layout, flat_layout
from man_rl.memory import ShortTermMemory

DIRECTIONS = ("right (0)", "down (1)", "left (2)", "up (3)")


def infer_layout(keys: Sequence[Hashable]) -> Layout:
    """Position x direction for MiniGrid-like ``(x, y, dir)`` keys, else a plain grid."""
    if keys and all(
        isinstance(k, tuple) and len(k) == 3 and all(isinstance(v, int) for v in k) for k in keys
    ):
        directions = sorted({k[2] for k in keys})
        positions = sorted({(k[0], k[1]) for k in keys}, key=lambda p: (p[1], p[0]))
        return Layout(
            cells={k: (directions.index(k[2]), positions.index((k[0], k[1]))) for k in keys},
            row_labels=tuple(DIRECTIONS[d] if 0 <= d < 4 else str(d) for d in directions),
            col_labels=tuple(str(p) for p in positions),
            row_title="direction",
            col_title="position",
        )
    return flat_layout(keys, columns=min(10, max(1, len(keys))))


def env_layout(env_id: str) -> tuple[Layout, set[Hashable] | None]:
    """The layout of ``env_id`` and, where known, the set of its reachable states."""
    from man_rl.envs import layout_for, reachable_states

    layout = layout_for(env_id)
    try:
        reachable = set(reachable_states(env_id))
    except ValueError:
        reachable = None
    return layout, reachable


def recall_grid_figure(
    model: Any,
    *,
    memory: ShortTermMemory | None = None,
    env_id: str | None = None,
    samples: int = 1,
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Recall every state ``model`` knows and draw the grid (real screens beside, if given).

    With ``env_id`` the grid shows the env's whole state space: states the model never saw
    are marked "never seen", states no episode can reach "unreachable".
    """
    from man_rl.plotting import recall_grid

    known = model.keys
    layout, reachable = env_layout(env_id) if env_id else (infer_layout(known), None)
    recalled = {key: model.recall(key, samples, seed=seed) for key in known if key in layout.cells}
    real = None
    if memory is not None:
        real = {key: memory.queue(key)[-1] for key in memory.keys if key in layout.cells}
    unseen = {}
    for key in layout.cells:
        if reachable is not None and key not in reachable:
            unseen[key] = "unreachable"
        elif key not in recalled:
            unseen[key] = "never seen"
    return recall_grid(recalled, layout, real=real, unseen=unseen, samples=samples, title=title)
