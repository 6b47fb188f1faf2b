"""Pictures of memories: recall grids, training curves, class balance, latent space.

Every function takes numpy arrays, mappings and :class:`~man_rl.layout.Layout` objects and
returns a matplotlib :class:`~matplotlib.figure.Figure` built with the object API (no pyplot
state, no backend chosen at import); :func:`save_figure` writes it to a PNG atomically.

Frames are ``uint8`` (or integers in 0..255, or floats in [0, 1]), grey ``(H, W)`` or colour
``(H, W, C)``; any size. Bad input raises :class:`~man_rl.errors.InvalidValueError` or
:class:`~man_rl.errors.InvalidTypeError` saying what to pass instead.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from man_rl.layout import flat_layout
    >>> frames = {k: np.full((8, 8), 60 * k, dtype=np.uint8) for k in range(4)}
    >>> fig = recall_grid(frames, flat_layout(range(5), columns=5), unseen=[4])
    >>> len(fig.axes), fig.axes[4].texts[0].get_text().split()
    (5, ['never', 'seen'])
    >>> path = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "grid.png", dpi=40)
    >>> path.stat().st_size > 0
    True
"""

from __future__ import annotations

from man_rl.plotting._common import save_figure
from man_rl.plotting.diagnostics import (
    class_balance,
    class_balance_from_memory,
    latent_scatter,
    training_curves,
)
from man_rl.plotting.grids import digit_grid, recall_grid, side_by_side
from man_rl.plotting.latent import latent_by_state
from man_rl.plotting.recall import infer_layout, recall_grid_figure

__all__ = [
    "class_balance",
    "class_balance_from_memory",
    "digit_grid",
    "infer_layout",
    "latent_by_state",
    "latent_scatter",
    "recall_grid",
    "recall_grid_figure",
    "save_figure",
    "side_by_side",
    "training_curves",
]
