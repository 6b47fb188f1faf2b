"""How good a long-term memory is, judged against the real screens of a short-term memory.

- :mod:`.judge` (its network in :mod:`.network`): a small CNN trained on a split of the
  memory's real frames (never on a model), its ceiling on the held-out frames, its
  features; saved without pickle.
- :mod:`.distances`: RMS pixel distances and the floor under which screens are the same.
- :mod:`.manifold`: k-NN precision / recall, FID and KID of feature vectors.
- :mod:`.figures`: :func:`judge_samples`, every figure of samples given as arrays (so
  controls need no model); :mod:`.reference` keeps the real frames' side of it between
  calls with one judge.
- :mod:`.metrics`: :func:`evaluate` of a model (recall, judge, recognition, coverage).
- :mod:`.target`: :class:`RecallTarget`, the judge as a stopping rule for
  ``fit(memory, until=...)``.
- :mod:`.unvisited`: the paper's Figures 7-8 run (a model over every state, trained on a
  greedy agent's screens) beside man_rl's answer, judged over visited and unvisited states.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=8)
    >>> for key, level in [("dark", 30), ("light", 220)]:
    ...     for i in range(4):
    ...         stm.add(key, np.full((6, 6), level + i, np.uint8))
    >>> judge = train_judge(stm, steps=40, seed=0)
    >>> report = judge_samples(judge, {"dark": stm.queue("light")}, stm)
    >>> report.accuracy, report.states[0].key
    (0.0, 'dark')
"""

from man_rl.evaluation.distances import FLOOR, NearestFrame, rms_distances
from man_rl.evaluation.figures import JudgeReport, StateFigures, judge_samples
from man_rl.evaluation.judge import Judge, JudgeSplit, train_judge
from man_rl.evaluation.manifold import fid, kid, precision_recall
from man_rl.evaluation.metrics import (
    Recognition,
    coverage,
    evaluate,
    per_state_recall,
    recall_accuracy,
    recall_all,
    recognition_accuracy,
)
from man_rl.evaluation.reference import RealReference
from man_rl.evaluation.target import RecallTarget
from man_rl.evaluation.unvisited import CoverageStudy, VisitReport, coverage_study, judge_by_visit

__all__ = [
    "FLOOR",
    "CoverageStudy",
    "Judge",
    "JudgeReport",
    "JudgeSplit",
    "NearestFrame",
    "RealReference",
    "RecallTarget",
    "Recognition",
    "StateFigures",
    "VisitReport",
    "coverage",
    "coverage_study",
    "evaluate",
    "fid",
    "judge_by_visit",
    "judge_samples",
    "kid",
    "per_state_recall",
    "precision_recall",
    "recall_accuracy",
    "recall_all",
    "recognition_accuracy",
    "rms_distances",
    "train_judge",
]
