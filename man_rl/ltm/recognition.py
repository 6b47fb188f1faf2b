"""Type B's recognition: which state's prior a screen's encoding falls in, or "unknown".

Type B gives state ``i`` the prior ``N(lam * e_i, I)`` over the first ``K`` latent
coordinates (``K`` states); a screen is recognised by the prior mean nearest to its
encoding's mean over those coordinates, and is "unknown" (``None``) when that mean lies
outside every prior's 3-sigma ball. With ``lam = 6`` the balls never overlap: their centres
are ``6 * sqrt(2)`` apart.

Example:
    >>> import numpy as np
    >>> from man_rl.ltm import TypeB
    >>> model = TypeB(["a", "b"], (4, 4), seed=0)
    >>> frames = np.zeros((3, 4, 4), np.uint8)
    >>> prior_distances(model, frames).shape, len(recognize(model, frames))
    ((3, 2), 3)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import torch

from man_rl.ltm.common import check_non_negative, frames_as_batch
from man_rl.ltm.networks import frames_to_tensor

#: Radius of the ball around each prior mean inside which an encoding is recognised.
DEFAULT_RADIUS = 3.0


def prior_distances(model: Any, frames: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Distance of each frame's encoding mean to each state's prior mean: ``[N, K]``.

    The distance is measured over the latent's one-hot part (its first ``K`` coordinates,
    ``K`` the number of states); the zero padding after it holds detail *within* a state
    and has the same ``N(0, 1)`` prior for every state, so it says nothing about which
    state a screen shows.
    """
    batch = frames_as_batch(frames, model.frame_shape)
    num_keys, lam = len(model.key_index), model.config.lam
    out = []
    with torch.no_grad():
        for start in range(0, len(batch), batch_size):
            chunk = frames_to_tensor(batch[start : start + batch_size], model.device)
            mu = model.encode(chunk)[1][:, :num_keys].double()
            # ||mu - lam e_i||^2 = ||mu||^2 - 2 lam mu_i + lam^2, for every i at once
            squared = mu.square().sum(1, keepdim=True) - 2 * lam * mu + lam**2
            out.append(squared.clamp_min(0).sqrt().float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, num_keys))


def recognize(
    model: Any, frames: np.ndarray, *, radius: float = DEFAULT_RADIUS
) -> list[Hashable | None]:
    """The state key of each frame, or ``None`` ("unknown") for a screen of no known state.

    ``frames``: uint8 ``[N, *frame_shape]`` (or a single frame, giving a list of one).
    A frame is given the state whose prior mean is nearest to its encoding's mean (the
    prior means all have the same norm, so this is also the prior giving the mean the
    highest density). It is ``None`` when that distance (see :func:`prior_distances`) is
    more than ``radius`` = 3: outside the 3-sigma ball of every unit-variance prior.
    """
    radius = check_non_negative("radius", radius)
    distances = prior_distances(model, frames)
    if len(distances) == 0:
        return []
    nearest = distances.argmin(axis=1)
    inside = distances[np.arange(len(distances)), nearest] <= radius
    keys = model.key_index.keys
    pairs = zip(nearest.tolist(), inside.tolist(), strict=True)
    return [keys[i] if ok else None for i, ok in pairs]


__all__ = ["DEFAULT_RADIUS", "prior_distances", "recognize"]
