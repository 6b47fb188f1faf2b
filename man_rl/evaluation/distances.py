"""Pixel distances between screens: RMS difference in ``[0, 1]``, computed in chunks.

Every pixel figure of :mod:`man_rl.evaluation` is built from :func:`rms_distances`: the root
mean square of the pixel difference of two frames, pixels scaled to ``[0, 1]`` (so 0 is the
same screen and 1 is black against white everywhere). Distances under :data:`FLOOR`
(``1/255``, one grey level everywhere) count as "the same screen": ratios use it as their
smallest denominator, and a sample that close to a stored frame is a copy.

Example:
    >>> import numpy as np
    >>> black, white = np.zeros((1, 2, 2), np.uint8), np.full((1, 2, 2), 255, np.uint8)
    >>> rms_distances(black, np.concatenate([black, white])).round(3).tolist()
    [[0.0, 1.0]]
    >>> float(mean_pairwise_rms(np.concatenate([black, white, white]))).__round__(3)
    0.667
"""

from __future__ import annotations

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.stm.memory import ShortTermMemory

#: Smallest distance that counts as "another screen" (one grey level in every pixel).
FLOOR = 1.0 / 255.0

_ROWS = 256  # rows of ``a`` per chunk: bounds the temporary [rows, len(b)] products


def level_rows(frames: np.ndarray) -> np.ndarray:
    """uint8 frames ``[N, ...]`` as float64 rows ``[N, D]`` of grey levels (0..255).

    Products and sums of such integers stay exact in float64 (below 2**53 for any frame
    under 130 million values), so distances between equal frames come out exactly 0.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise InvalidTypeError(
            f"frames must be uint8 screens, got dtype {frames.dtype}; convert with "
            "np.clip(x * 255, 0, 255).astype(np.uint8) for float images in [0, 1]"
        )
    if frames.ndim < 2:
        raise InvalidValueError(f"frames must be [N, H, W(, C)], got shape {frames.shape}")
    return frames.reshape(len(frames), -1).astype(np.float64)


def _squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared difference of float64 rows, ``[len(a), len(b)]``, in chunks of ``a``."""
    if a.shape[1] != b.shape[1]:
        raise InvalidValueError(
            f"frames of different sizes cannot be compared: {a.shape[1]} and {b.shape[1]} "
            "values per frame"
        )
    b_norms = (b * b).sum(axis=1)
    out = np.empty((len(a), len(b)), dtype=np.float64)
    for start in range(0, len(a), _ROWS):
        chunk = a[start : start + _ROWS]
        out[start : start + _ROWS] = (
            (chunk * chunk).sum(axis=1)[:, None] - 2.0 * chunk @ b.T + b_norms[None]
        )
    return np.maximum(out, 0.0) / max(a.shape[1], 1)


def rms_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS pixel difference of every frame of ``a`` with every frame of ``b`` (uint8 frames).

    Returns float64 ``[len(a), len(b)]`` in ``[0, 1]`` (pixels scaled to ``[0, 1]``).
    """
    return np.sqrt(_squared(level_rows(a), level_rows(b))) / 255.0


def nearest_rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS distance of each frame of ``a`` to its nearest frame of ``b`` (``b`` not empty)."""
    if len(b) == 0:
        raise InvalidValueError("nearest_rms needs at least one reference frame in b")
    return rms_distances(a, b).min(axis=1)


def mean_pairwise_rms(frames: np.ndarray) -> float:
    """Mean RMS distance over all pairs of distinct positions in ``frames`` (0 for < 2)."""
    if len(frames) < 2:
        return 0.0
    d = rms_distances(frames, frames)
    n = len(frames)
    return float((d.sum() - np.trace(d)) / (n * (n - 1)))


def pooled_rows(frames: np.ndarray, side: int = 8) -> np.ndarray:
    """Frames averaged over blocks (at most ``side`` x ``side`` per channel), as float rows.

    Each block mean is weighted by its share of the pixels, so that the mean squared
    difference of two pooled rows is at most that of the full frames (Jensen): pooled
    distances are lower bounds of RMS distances, which prunes nearest-frame searches exactly.
    Frames are pooled a few hundred at a time, so the float copy stays small.
    """
    frames = np.asarray(frames)
    shape = frames.shape[1:] if frames.ndim == 4 else (*frames.shape[1:], 1)
    h, w, c = shape
    rows = np.array_split(np.arange(h), min(side, h))
    cols = np.array_split(np.arange(w), min(side, w))
    sizes = np.outer([len(r) for r in rows], [len(col) for col in cols])
    weights = np.sqrt(sizes * sizes.size / (h * w))[None, :, :, None]
    out = np.empty((len(frames), len(rows), len(cols), c), np.float64)
    for start in range(0, len(frames), _ROWS):
        x = frames[start : start + _ROWS].reshape(-1, h, w, c).astype(np.float64) / 255.0
        for i, r in enumerate(rows):
            band = x[:, r].mean(axis=1)
            for j, col in enumerate(cols):
                out[start : start + _ROWS, i, j] = band[:, col].mean(axis=1)
    return (out * weights).reshape(len(frames), -1)


def nearest_rms_pruned(
    a: np.ndarray, b: np.ndarray, below: float, *, pooled_b: np.ndarray | None = None
) -> np.ndarray:
    """Nearest RMS distance from each frame of ``a`` to ``b`` where under ``below``, else inf.

    Exact: pooled lower bounds (:func:`pooled_rows`, of ``b`` given as ``pooled_b`` when
    already at hand) only skip pairs that are further apart.
    """
    out = np.full(len(a), np.inf)
    if len(a) == 0 or len(b) == 0:
        return out
    pooled_b = pooled_rows(b) if pooled_b is None else pooled_b
    step = _ROWS // 4
    for start in range(0, len(a), step):
        part = a[start : start + step]
        bound = np.sqrt(_squared(pooled_rows(part), pooled_b))
        for i in np.flatnonzero((bound < below).any(axis=1)):
            candidates = np.flatnonzero(bound[i] < below)
            out[start + i] = nearest_rms(part[i : i + 1], b[candidates])[0]
    return np.where(out < below, out, np.inf)


def distinct(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first of each set of equal frames, and how many frames are equal to it."""
    first: dict[bytes, int] = {}
    counts: list[int] = []
    keep: list[int] = []
    for i, frame in enumerate(np.asarray(frames)):
        code = frame.tobytes()
        slot = first.get(code)
        if slot is None:
            first[code] = len(keep)
            keep.append(i)
            counts.append(1)
        else:
            counts[slot] += 1
    return np.array(keep, np.int64), np.array(counts, np.int64)


class StoredFrames:
    """The distinct frames of a memory's states, kept as pooled rows, for copy searches.

    Only the pooled rows (at most 192 numbers per colour frame) are held; the frames a
    search needs are read back from the memory one state at a time, so the cost in RAM is
    small next to the memory's own.

    Args:
        memory: where :meth:`add`'s frames come from (their ``memory.queue(key)`` order).

    Example:
        >>> from man_rl import ShortTermMemory
        >>> stm = ShortTermMemory(capacity=3)
        >>> for level in (0, 0, 90):
        ...     stm.add("s", np.full((4, 4), level, np.uint8))
        >>> stored = StoredFrames(stm)
        >>> stored.add("s", stm.queue("s"))[1].tolist()
        [2, 1]
        >>> probes = np.stack([np.full((4, 4), 90, np.uint8), np.full((4, 4), 99, np.uint8)])
        >>> np.isfinite(stored.nearest(probes)).tolist()
        [True, False]
    """

    def __init__(self, memory: ShortTermMemory) -> None:
        self.memory = memory
        self.keys: list[object] = []
        self._pooled: list[np.ndarray] = []
        self._places: list[np.ndarray] = []

    def add(self, key: object, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index ``frames`` (all of ``key``'s, in queue order); ``(distinct frames, counts)``."""
        keep, counts = distinct(frames)
        self._pooled.append(pooled_rows(frames[keep]))
        self._places.append(np.stack([np.full(len(keep), len(self.keys)), keep], axis=1))
        self.keys.append(key)
        return frames[keep], counts

    def nearest(self, samples: np.ndarray, below: float = FLOOR) -> np.ndarray:
        """Nearest RMS distance of each sample to a stored frame where under ``below``, else inf.

        Exact, as :func:`nearest_rms_pruned`.
        """
        out = np.full(len(samples), np.inf)
        if not self._pooled or len(samples) == 0:
            return out
        pooled, places = np.concatenate(self._pooled), np.concatenate(self._places)
        cache: dict[int, np.ndarray] = {}
        step = _ROWS // 4
        for start in range(0, len(samples), step):
            part = samples[start : start + step]
            bound = np.sqrt(_squared(pooled_rows(part), pooled))
            for i in np.flatnonzero((bound < below).any(axis=1)):
                for owner in np.unique(places[bound[i] < below, 0]).tolist():
                    if owner not in cache:
                        cache.clear()  # one state's frames at a time
                        cache[owner] = self.memory.queue(self.keys[owner])
                    rows = places[(bound[i] < below) & (places[:, 0] == owner), 1]
                    found = nearest_rms(part[i : i + 1], cache[owner][rows])[0]
                    out[start + i] = min(out[start + i], found)
        return np.where(out < below, out, np.inf)


class NearestFrame:
    """Classifies a frame as the state of its nearest real frame in pixels (1-nearest neighbour).

    A quick pixel-space check; the evaluation's classifier is :class:`~.judge.Judge`.

    Args:
        memory: the real frames; :attr:`keys` are its keys, ``predict`` indexes them.
        max_per_key: real frames kept per state (the newest), which bounds the cost.

    Example:
        >>> from man_rl import ShortTermMemory
        >>> stm = ShortTermMemory(capacity=2)
        >>> stm.add("dark", np.zeros((2, 2), np.uint8))
        >>> stm.add("light", np.full((2, 2), 200, np.uint8))
        >>> judge = NearestFrame(stm)
        >>> [judge.keys[i] for i in judge.predict(np.full((1, 2, 2), 180, np.uint8))]
        ['light']
    """

    def __init__(self, memory: ShortTermMemory, max_per_key: int = 50) -> None:
        if isinstance(max_per_key, bool) or not isinstance(max_per_key, int) or max_per_key < 1:
            raise InvalidValueError(f"max_per_key must be an int >= 1, got {max_per_key!r}")
        self.keys = memory.keys
        parts = [memory.queue(key)[-max_per_key:] for key in self.keys]
        if not parts:
            raise InvalidValueError("NearestFrame needs a memory with frames; collect some")
        self.frames = np.concatenate(parts)
        self.labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Index into :attr:`keys` of the state of each frame's nearest real frame."""
        return self.labels[rms_distances(frames, self.frames).argmin(axis=1)]


__all__ = [
    "FLOOR",
    "NearestFrame",
    "StoredFrames",
    "distinct",
    "level_rows",
    "mean_pairwise_rms",
    "nearest_rms",
    "nearest_rms_pruned",
    "pooled_rows",
    "rms_distances",
]
