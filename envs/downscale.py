"""Cell sizes chosen per game: Go-Explore's dynamic downscaling of the pixel-cell key.

Fixed cells (11 x 8 at 8 grey levels) suit some games and blind others: a CartPole pole or a
Breakout paddle is a sliver of one cell, so the key barely moves with it. Go-Explore
(Ecoffet et al. 2021, "First return, then explore", section "dynamic downscaling") picks the
cell width, height and grey levels per game instead, from frames of the game, so the
number of cells suits it. :class:`DynamicCellKey` does that once per env:

1. **Frames.** It plays ``frames`` steps of uniform random actions in a fresh copy of the env
   (``gym.make(env.spec)``, reset with ``seed``) and keeps each screen shrunk to at most
   ``96`` pixels a side (area averaging, grey): a few hundred KB, however long the collection.
   The copy's screens are the same kind (render or image observation) as the frame given.
2. **Objective.** For every candidate -- widths ``4, 6, 8, 11, 16, 22, 32, 44, 64`` with the
   height that keeps cells about square, times ``2, 4, 8, 16, 32`` grey levels -- it counts
   the keys ``n`` the frames get and their shares ``p``, and scores the candidate as
   Go-Explore does: ``H(p) / log(n)`` (how evenly frames spread over the keys, 0 .. 1)
   divided by ``sqrt(|n / target - 1| + 1)`` (how far ``n`` is from ``target =
   frames / frames_per_key`` keys). The best score wins; a tie goes to fewer cells x levels.
   A key holding most of the frames scores low (uneven), and so does one key per frame (far
   from the target), so the winner is the scale at which what moves (the pole, the car, the
   paddle) moves the key and little else does.
3. **Fixed.** The chosen :class:`~man_rl.envs.cells.CellKey` keys every frame from then on;
   :class:`~man_rl.env.wrapper.MemoryWrapper` saves its :meth:`~CellKey.settings` with the
   memory (``ShortTermMemory.key_settings``), and a wrapper writing into a memory that has
   them keys the same way (``restore``), so a resumed collection adds to the same keys.

An env that cannot be made again (no ``spec``, e.g. an env class built by hand) keeps the
fixed default ``CellKey()``; its collapse, if any, is what the wrapper's warning reports.

Example:
    >>> import gymnasium as gym
    >>> env = gym.make("CartPole-v1", render_mode="rgb_array")
    >>> _ = env.reset(seed=0)
    >>> key = DynamicCellKey(frames=60).choose(env, env.render())
    >>> (key.width, key.height) != (11, 8), key == DynamicCellKey.restore(key.settings())
    (True, True)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.keys import KeyFn

from .cells import CellKey, _area_weights, grey

WIDTHS = (4, 6, 8, 11, 16, 22, 32, 44, 64)
LEVELS = (2, 4, 8, 16, 32)
_BASE = 96  # calibration screens are shrunk to at most this many pixels a side


def candidate_sizes(frame_shape: Sequence[int]) -> list[tuple[int, int]]:
    """``(width, height)`` candidates for frames of ``frame_shape``: cells about square.

    Example:
        >>> candidate_sizes((400, 600, 3))[:3]
        [(4, 3), (6, 4), (8, 5)]
    """
    rows, cols = int(frame_shape[0]), int(frame_shape[1])
    sizes = []
    for width in WIDTHS:
        width = min(width, cols)
        height = min(rows, max(1, round(width * rows / cols)))
        if (width, height) not in sizes:
            sizes.append((width, height))
    return sizes


def score(counts: np.ndarray, target: float) -> float:
    """Go-Explore's objective: evenness of the keys' shares over distance from ``target`` keys.

    Example:
        >>> round(score(np.array([5, 5, 5, 5]), target=4), 3), score(np.array([20]), 4)
        (1.0, 0.0)
    """
    n = len(counts)
    if n < 2:
        return 0.0
    p = counts / counts.sum()
    evenness = float(-(p * np.log(p)).sum() / math.log(n))
    return evenness / math.sqrt(abs(n / target - 1.0) + 1.0)


def choose_cells(frames: Iterable[np.ndarray], frames_per_key: float = 8.0) -> CellKey:
    """The :class:`CellKey` that best scores on ``frames`` (uint8 screens of one game).

    Each frame is shrunk as it comes, so ``frames`` may be a generator of large screens.

    Example:
        >>> frames = [np.zeros((30, 40), np.uint8) for _ in range(16)]
        >>> for i, frame in enumerate(frames):
        ...     frame[:, 2 * i : 2 * i + 4] = 255          # a bar moving right
        >>> key = choose_cells(frames, frames_per_key=2)
        >>> len({key(None, f, {}) for f in frames}) > 4
        True
    """
    shape: tuple[int, ...] = ()
    shrunk = []
    for frame in frames:
        frame = np.asarray(frame)
        if not shrunk:
            shape = frame.shape
            to_rows = _area_weights(shape[0], min(shape[0], _BASE))
            to_cols = _area_weights(shape[1], min(shape[1], _BASE))
        shrunk.append(to_rows @ grey(frame) @ to_cols.T)
    if not shrunk:
        raise InvalidValueError("choose_cells needs at least one frame")
    base = np.stack(shrunk)
    target = max(2.0, len(base) / frames_per_key)
    best: tuple[float, int, CellKey] | None = None
    for width, height in candidate_sizes(shape):
        rows = _area_weights(base.shape[1], min(height, base.shape[1]))
        cols = _area_weights(base.shape[2], min(width, base.shape[2]))
        means = (rows @ base @ cols.T).reshape(len(base), -1)
        for levels in LEVELS:
            cells = np.minimum((means * (levels / 256.0)).astype(np.uint8), levels - 1)
            counts = np.array(list(Counter(map(bytes, cells)).values()))
            candidate = (score(counts, target), -width * height * levels)
            if best is None or candidate > best[:2]:
                best = (*candidate, CellKey(width=width, height=height, levels=levels))
    assert best is not None
    return best[2]


def random_frames(env: Any, frame: np.ndarray, count: int, seed: int) -> Iterator[np.ndarray]:
    """``count`` screens of a random walk in a fresh copy of ``env``, one at a time.

    The screens are rendered, or the observations when ``frame`` has their shape. Raises
    :class:`~man_rl.errors.EnvCompatibilityError` when ``env`` cannot be made again.
    """
    import gymnasium as gym

    spec = getattr(env, "spec", None)
    if spec is None:
        raise EnvCompatibilityError("the env has no spec, so it cannot be made again")
    try:
        copy = gym.make(spec)
    except Exception as err:  # registered in another process, a missing entry point, ...
        raise EnvCompatibilityError(f"gym.make({spec.id!r}) failed: {err}") from None
    try:
        obs, _ = copy.reset(seed=seed)
        copy.action_space.seed(seed)
        use_obs = np.shape(obs) == np.shape(frame)
        for _ in range(count):
            yield np.asarray(obs if use_obs else copy.render())
            obs, _, terminated, truncated, _ = copy.step(copy.action_space.sample())
            if terminated or truncated:
                obs, _ = copy.reset()
    finally:
        copy.close()


class DynamicCellKey:
    """The pixel-cell key with cell size and grey levels chosen per env (dynamic downscaling).

    A key *chooser*: :class:`~man_rl.env.wrapper.MemoryWrapper` calls :meth:`choose` once,
    with its env and first frame, and keys every frame with the :class:`CellKey` it returns
    (or with :meth:`restore` of the settings its memory already holds). Called directly as
    a key function it chooses at the first frame of each game (env id and frame shape) and
    keeps that choice. This is the key of :class:`CellAdapter`, the
    fallback of every pixel env, and ``--key-fn man_rl.envs:DynamicCellKey`` on the
    command line.

    Args:
        frames: random-walk screens the choice is made on (default 200).
        frames_per_key: the target is ``frames / frames_per_key`` keys (default 8).
        seed: the random walk's seed (default 0), so every copy of an env chooses the same.

    Example:
        >>> import numpy as np
        >>> key = DynamicCellKey(frames=50)
        >>> key.choose(None, np.zeros((8, 8), np.uint8))   # no env to copy: the fixed key
        CellKey(width=11, height=8, levels=8)
    """

    from_frame: ClassVar[bool] = True

    def __init__(self, frames: int = 200, frames_per_key: float = 8.0, seed: int = 0) -> None:
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
            raise InvalidValueError(f"DynamicCellKey frames must be an int >= 2, got {frames!r}")
        if not frames_per_key >= 1:
            raise InvalidValueError(
                f"DynamicCellKey frames_per_key must be >= 1, got {frames_per_key!r}"
            )
        self.frames, self.frames_per_key, self.seed = frames, frames_per_key, seed
        self._chosen: dict[tuple[Any, ...], CellKey] = {}

    def __repr__(self) -> str:
        return (
            f"DynamicCellKey(frames={self.frames}, frames_per_key={self.frames_per_key}, "
            f"seed={self.seed})"
        )

    def choose(self, env: Any, frame: np.ndarray) -> CellKey:
        """The cell key for ``env``, whose screens look like ``frame``."""
        try:
            return choose_cells(
                random_frames(env, frame, self.frames, self.seed), self.frames_per_key
            )
        except EnvCompatibilityError:
            return CellKey()

    @staticmethod
    def restore(settings: dict[str, Any]) -> CellKey:
        """The cell key saved as ``settings`` (:meth:`CellKey.settings`)."""
        return CellKey.from_settings(settings)

    def __call__(self, env: Any, obs: Any, info: dict[str, Any] | None = None) -> str:
        """The key of frame ``obs``, choosing the cells at the first frame of each game.

        A game is its env id and frame shape; the choice is kept for later calls.
        """
        spec = getattr(env, "spec", None)
        game = (getattr(spec, "id", None), np.shape(obs))
        if game not in self._chosen:
            self._chosen[game] = self.choose(env, np.asarray(obs))
        return self._chosen[game](env, obs, info)


def _is_image_space(space: Any) -> bool:
    shape = getattr(space, "shape", None)
    if getattr(space, "dtype", None) != np.uint8 or shape is None or len(shape) not in (2, 3):
        return False
    return len(shape) == 2 or shape[2] in (1, 3, 4)


class CellAdapter:
    """The fallback of every pixel env: cells of the frame, sized for the game.

    Matches any env whose observation is a uint8 image or whose ``render_mode`` is
    ``"rgb_array"``, and is asked last (the highest ``priority``), so a specific adapter
    (MiniGrid, Atari RAM, ...) wins where there is one. The number of keys, their layout and
    which are reachable are not known (``None``): recall grids of cell keys are plain grids
    of the keys seen.

    Args:
        cell_key: the key function (default :class:`~man_rl.envs.downscale.DynamicCellKey`
            ``()``: cell size and grey levels chosen per game, Go-Explore's dynamic
            downscaling; give a :class:`CellKey` for fixed cells).

    Example:
        >>> import gymnasium as gym
        >>> env = gym.make("CartPole-v1", render_mode="rgb_array")
        >>> adapter = CellAdapter(CellKey())
        >>> _ = env.reset(seed=0)
        >>> adapter.matches(env), len(adapter.key(env, env.render(), {})), adapter.layout(env)
        (True, 95, None)
    """

    name = "cells"
    priority = 1000

    def __init__(self, cell_key: KeyFn | None = None) -> None:
        self.key: KeyFn = cell_key if cell_key is not None else DynamicCellKey()

    def matches(self, env: Any) -> bool:
        """An image observation, or ``render_mode="rgb_array"``."""
        renders = getattr(env, "render_mode", None) == "rgb_array"
        return renders or _is_image_space(getattr(env, "observation_space", None))

    def state_count(self, env: Any) -> None:
        """Not known (``levels ** (width * height)`` possible keys, few of them seen)."""
        return None

    def layout(self, env: Any) -> None:
        """None: draw the keys seen as a plain grid."""
        return None

    def reachable_states(self, env: Any) -> None:
        """Not known."""
        return None


__all__ = [
    "LEVELS",
    "WIDTHS",
    "CellAdapter",
    "DynamicCellKey",
    "candidate_sizes",
    "choose_cells",
    "score",
]
