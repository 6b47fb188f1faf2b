"""Judge recalled samples against real frames: :func:`judge_samples` and its report.

Works on samples, so controls need no model (pass real frames, blurred frames, noise...).
Per state, with pixel distances as RMS differences in ``[0, 1]`` (:mod:`.distances`) and
``FLOOR = 1/255`` as the smallest distance that counts (so states whose real screens are all
the same stay finite: a ratio of two distances under the floor is 1):

- **accuracy**: share of samples the judge assigns to the state asked for; the aggregate is
  also given as a ratio to the judge's **ceiling** (its accuracy on held-out real frames).
- **fidelity**: mean distance of each sample to the nearest *train* real frame of its state,
  over the same for the state's held-out real frames (1: as close as real screens are to
  each other; a blur or noise is far above). ``None`` for states without held-out frames.
  ``mean_frame_fidelity`` is the fidelity of the state's mean real frame: the blur baseline.
- **diversity**: mean pairwise distance of the samples over that of the real frames (up to
  64 of each, evenly spaced); ``None`` where real frames do not vary (under the floor).
  Mode collapse is near 0, noise far above 1.
- **precision / recall** (k-NN manifolds, :mod:`.manifold`), **manifold coverage** and
  **FID / KID** in the judge's feature space, with real = train + held-out frames and
  features scaled so that real ones have unit mean square. Exact copies among the real
  frames are counted once in the real manifold (memories hold many copies of one screen,
  which would shrink its balls to points); samples are taken as they are. Where each state
  has one screen, recall is 0 for samples that cluster tighter than their distance to the
  screen (near-perfect recalls, say): read manifold coverage there. FID and KID from a few
  dozen samples are noisy (KID can be below 0); compare them between equal sample counts.
- **copies**: share of samples within the floor of a stored frame of any state.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> from man_rl.evaluation import train_judge
    >>> rng = np.random.default_rng(0)
    >>> stm = ShortTermMemory(capacity=10)
    >>> for key, level in [("dark", 40), ("light", 200)]:
    ...     for _ in range(6):
    ...         stm.add(key, rng.integers(level - 30, level + 30, (8, 8), dtype=np.uint8))
    >>> judge = train_judge(stm, steps=30, seed=0)
    >>> real = {key: judge.real_frames(stm, key)[1] for key in stm.keys}
    >>> report = judge_samples(judge, real, stm)
    >>> report.accuracy, report.fidelity, report.copies
    (1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.evaluation.distances import FLOOR, mean_pairwise_rms, nearest_rms
from man_rl.evaluation.judge import Judge
from man_rl.evaluation.manifold import fid, kid, manifold_figures
from man_rl.evaluation.reference import RealReference, RealState, ratio, spaced
from man_rl.keys import encode_key
from man_rl.ltm.common import check_seed
from man_rl.stm.memory import ShortTermMemory

#: A state whose fidelity is over this many times the median state's looks wrong.
OUTLIER_FACTOR = 3.0
MAX_POINTS = 10_000  # points per set in precision / recall / FID / KID (seeded subsample)


@dataclass(frozen=True)
class StateFigures:
    """The figures of one state (see the module docstring); ``None`` where undefined."""

    key: Hashable
    samples: int
    accuracy: float
    fidelity: float | None
    mean_frame_fidelity: float | None
    diversity: float | None
    copies: float
    real_frames: int
    held_out_frames: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, the key encoded with :func:`man_rl.keys.encode_key`."""
        out = dict(self.__dict__)
        out["key"] = encode_key(self.key)
        return out


def _mean(values: list[float | None]) -> float | None:
    given = [v for v in values if v is not None]
    return float(np.mean(given)) if given else None


@dataclass(frozen=True)
class JudgeReport:
    """What :func:`judge_samples` returns: per-state figures and their aggregates."""

    states: list[StateFigures]
    ceiling: float | None
    accuracy: float
    precision: float
    recall: float
    coverage: float
    copies: float
    fid: float | None
    kid: float | None
    k: int
    judge_info: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_ratio(self) -> float | None:
        """:attr:`accuracy` over the judge's ceiling (``None`` without a ceiling)."""
        return self.accuracy / self.ceiling if self.ceiling else None

    @property
    def fidelity(self) -> float | None:
        """Mean fidelity over the states with held-out frames."""
        return _mean([s.fidelity for s in self.states])

    @property
    def mean_frame_fidelity(self) -> float | None:
        """Mean fidelity of the states' mean real frames (the blur baseline)."""
        return _mean([s.mean_frame_fidelity for s in self.states])

    @property
    def diversity(self) -> float | None:
        """Mean diversity over the states whose real frames vary."""
        return _mean([s.diversity for s in self.states])

    def worst(self, n: int = 10) -> list[StateFigures]:
        """The ``n`` worst-recalled states: lowest accuracy first, then highest fidelity."""
        return sorted(
            self.states,
            key=lambda s: (s.accuracy, -(s.fidelity if s.fidelity is not None else 0.0)),
        )[:n]

    def outliers(self, factor: float = OUTLIER_FACTOR) -> list[StateFigures]:
        """States whose fidelity is over ``factor`` x the median state's, worst first.

        The judge can accept a recall that looks wrong (the right cell drawn in the wrong
        colour): these are the states to look at first, whatever their accuracy.
        """
        values = [s.fidelity for s in self.states if s.fidelity is not None]
        if not values:
            return []
        bound = factor * float(np.median(values))
        found = [s for s in self.states if s.fidelity is not None and s.fidelity > bound]
        return sorted(found, key=lambda s: -(s.fidelity or 0.0))

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-able (``per_state`` in the order judged, ``worst_states``).

        ``outliers``: states whose fidelity is over :data:`OUTLIER_FACTOR` x the median.
        """
        return {
            "judge": {"ceiling": self.ceiling, **self.judge_info},
            "accuracy": self.accuracy,
            "accuracy_ratio": self.accuracy_ratio,
            "fidelity": self.fidelity,
            "mean_frame_fidelity": self.mean_frame_fidelity,
            "fidelity_states": sum(s.fidelity is not None for s in self.states),
            "diversity": self.diversity,
            "diversity_states": sum(s.diversity is not None for s in self.states),
            "precision": self.precision,
            "recall": self.recall,
            "manifold_coverage": self.coverage,
            "k": self.k,
            "copies": self.copies,
            "fid": self.fid,
            "kid": self.kid,
            "floor": FLOOR,
            "per_state": [s.to_dict() for s in self.states],
            "worst_states": [
                {"key": encode_key(s.key), "accuracy": s.accuracy, "fidelity": s.fidelity}
                for s in self.worst()
            ],
            "outlier_factor": OUTLIER_FACTOR,
            "outliers": [
                {"key": encode_key(s.key), "accuracy": s.accuracy, "fidelity": s.fidelity}
                for s in self.outliers()
            ],
        }


def _state_figures(
    real: RealState, train: np.ndarray, key: Hashable, samples: np.ndarray, hits: np.ndarray
) -> StateFigures:
    """The figures of one state from its real figures and its ``train`` real frames."""
    fidelity = None
    if real.gap is not None:
        fidelity = ratio(float(nearest_rms(samples, train).mean()), real.gap)
    diversity = None
    if real.spread >= FLOOR:
        diversity = mean_pairwise_rms(spaced(samples)) / real.spread
    return StateFigures(
        key=key,
        samples=len(samples),
        accuracy=float(hits.mean()),
        fidelity=fidelity,
        mean_frame_fidelity=real.mean_frame_fidelity,
        diversity=diversity,
        copies=0.0,
        real_frames=real.frames,
        held_out_frames=real.held_out,
    )


def _subsample(count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most :data:`MAX_POINTS` of ``count`` points (all of them, or seeded)."""
    if count <= MAX_POINTS:
        return np.arange(count)
    return np.sort(rng.choice(count, MAX_POINTS, replace=False))


def _check_samples(
    judge: Judge, samples: Mapping[Hashable, np.ndarray]
) -> tuple[list[Hashable], list[np.ndarray]]:
    if not samples:
        raise InvalidValueError("judge_samples needs samples of at least one state")
    keys = list(samples)
    for key in keys:
        judge.index_of(key)  # an UnknownKeyError naming a state the judge never saw
    parts = [np.asarray(samples[key]) for key in keys]
    if any(len(part) == 0 for part in parts):
        raise InvalidValueError("every state given must have at least one sample")
    return keys, parts


def judge_samples(
    judge: Judge,
    samples: Mapping[Hashable, np.ndarray],
    memory: ShortTermMemory,
    *,
    k: int = 3,
    seed: int = 0,
    reference: RealReference | None = None,
) -> JudgeReport:
    """Score ``samples`` (``key -> uint8 frames [n, H, W(, C)]``) with ``judge``.

    Args:
        judge: trained on ``memory`` (checked: :meth:`Judge.check_memory`).
        samples: the frames to judge per state, e.g. :func:`~man_rl.evaluation.recall_all`'s.
        memory: the real frames the judge was trained on.
        k: neighbours of the precision / recall manifolds.
        seed: seeds the subsets of KID and any subsample of more than 10 000 points.
        reference: the real frames' figures (:class:`~.reference.RealReference`), kept
            between calls that judge with the same judge; built here when not given.
    """
    rng = np.random.default_rng(check_seed(seed))
    keys, parts = _check_samples(judge, samples)
    if reference is None:
        reference = RealReference(judge, memory)  # checks the memory against the judge
    else:
        reference.check(judge)
        judge.check_memory(memory)
    sizes = [len(part) for part in parts]
    everything = np.concatenate(parts)
    features, predicted = judge.embed(everything)
    hits = predicted == np.repeat([judge.index_of(key) for key in keys], sizes)
    ends = np.cumsum(sizes)[:-1]
    states, real_features, real_counts = [], [], []
    for key, part, part_hits in zip(keys, parts, np.split(hits, ends), strict=True):
        real = reference.state(key)
        train = judge.real_frames(memory, key)[0]
        states.append(_state_figures(real, train, key, part, part_hits))
        real_features.append(real.features)
        real_counts.append(real.counts)
    copied = np.isfinite(reference.stored().nearest(everything, FLOOR))
    states = [
        StateFigures(**{**s.__dict__, "copies": float(c.mean())})
        for s, c in zip(states, np.split(copied, ends), strict=True)
    ]
    # precision / recall: distinct real frames (copies of a screen counted once) and samples
    distinct_real = np.concatenate(real_features).astype(np.float64)
    real_labels = np.repeat(np.arange(len(keys)), [len(f) for f in real_features])
    # one scale for both sets (real features of unit mean square), so the figures do not
    # depend on how large the judge's activations happen to be
    scale = float(np.sqrt(np.mean(distinct_real**2))) or 1.0
    pick_real, pick_fake = _subsample(len(distinct_real), rng), _subsample(len(features), rng)
    fake = features[pick_fake].astype(np.float64) / scale
    manifold = manifold_figures(
        distinct_real[pick_real] / scale,
        fake,
        k,
        real_labels=real_labels[pick_real],
        generated_labels=np.repeat(np.arange(len(keys)), sizes)[pick_fake],
    )
    # FID / KID: every real frame, repeats included (they are part of the distribution)
    all_real = np.repeat(distinct_real, np.concatenate(real_counts), axis=0) / scale
    all_real = all_real[_subsample(len(all_real), rng)]
    enough = len(all_real) >= 2 and len(fake) >= 2
    return JudgeReport(
        states=states,
        ceiling=judge.ceiling,
        accuracy=float(hits.mean()),
        precision=manifold.precision,
        recall=manifold.recall,
        coverage=manifold.coverage,
        copies=float(copied.mean()),
        fid=fid(all_real, fake) if enough else None,
        kid=kid(all_real, fake, rng) if enough else None,
        k=k,
        judge_info={"states": len(judge.keys), **judge.info},
    )


__all__ = ["JudgeReport", "StateFigures", "judge_samples"]
