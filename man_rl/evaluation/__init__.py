"""How good a long-term memory is, judged against the real screens of a short-term memory.

Example:
    >>> from man_rl.evaluation import evaluate
    >>> callable(evaluate)
    True
"""

from man_rl.evaluation.metrics import (
    NearestFrame,
    NearestMean,
    Recognition,
    StateRecall,
    coverage,
    evaluate,
    per_state_recall,
    recall_accuracy,
    recall_all,
    recognition_accuracy,
    reference_classifier,
    spread,
)

__all__ = [
    "NearestFrame",
    "NearestMean",
    "Recognition",
    "StateRecall",
    "coverage",
    "evaluate",
    "per_state_recall",
    "recall_accuracy",
    "recall_all",
    "recognition_accuracy",
    "reference_classifier",
    "spread",
]
