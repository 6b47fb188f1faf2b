"""Tests of man_rl.evaluation.metrics, on fake models whose recall is known exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.evaluation.metrics import (
    NearestFrame,
    NearestMean,
    coverage,
    evaluate,
    per_state_recall,
    recall_accuracy,
    recall_all,
    recognition_accuracy,
    reference_classifier,
    spread,
)
from man_rl.keys import encode_key
from man_rl.ltm.common import KeyIndex

SHAPE = (4, 6, 3)


def memory(keys=("a", "b", (1, 2, 0)), per_key=4, vary=False, seed=0) -> ShortTermMemory:
    """State i is a screen of brightness 30 + 90 i; with ``vary`` a bright pixel moves."""
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=20)
    for i, key in enumerate(keys):
        for _ in range(per_key):
            frame = np.full(SHAPE, 30 + 90 * i, np.uint8)
            if vary:
                frame[rng.integers(SHAPE[0]), rng.integers(SHAPE[1])] = 255
            stm.add(key, frame)
    return stm


class FakeModel:
    """Recalls by a rule: ``"true"`` a real frame of the state, ``"shifted"`` the next state's,
    ``"collapsed"`` always the state's first frame; its recogniser must never be used.
    """

    kind = "A"

    def __init__(self, stm: ShortTermMemory, rule: str = "true", keys=None):
        self.stm = stm
        self.rule = rule
        self.key_index = KeyIndex(keys if keys is not None else stm.keys)
        self.frame_shape = stm.frame_shape
        self.device = torch.device("cpu")

    @property
    def keys(self):
        return self.key_index.keys

    def generate(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = []
        for label in labels.tolist():
            key = self.keys[label]
            if self.rule == "shifted":
                key = self.keys[(label + 1) % len(self.keys)]
            queue = self.stm.queue(key)
            pick = (
                0
                if self.rule == "collapsed"
                else int(torch.randint(len(queue), (1,), generator=generator))
            )
            out.append(queue[pick])
        frames = torch.from_numpy(np.stack(out)).float() / 255
        return frames.permute(0, 3, 1, 2)

    def recognize(self, frames):
        raise AssertionError("metrics must not use the model's own recogniser for recall")


class FakeRecognizer(FakeModel):
    kind = "B"

    def __init__(self, stm, answers, keys=None):
        super().__init__(stm, keys=keys)
        self.answers = answers

    def recognize(self, frames):
        return self.answers(frames)


def test_reference_classifiers_classify_real_frames():
    stm = memory(vary=True)
    frames, labels = stm.all_frames()
    for classifier in (NearestMean(stm), NearestFrame(stm), reference_classifier(stm, "frame")):
        assert classifier.keys == stm.keys
        assert np.array_equal(classifier.predict(frames), labels)
    with pytest.raises(InvalidValueError, match="'mean' or 'frame'"):
        reference_classifier(stm, "model")


def test_spread_measures_variation():
    assert spread(np.zeros((5, 2, 2), np.uint8)) == 0.0
    assert spread(np.zeros((1, 2, 2), np.uint8)) == 0.0
    half = np.stack([np.zeros((2, 2)), np.full((2, 2), 255)]).astype(np.uint8)
    assert spread(half) == pytest.approx(0.5)


def test_recall_all_is_seeded_and_shaped():
    stm = memory(vary=True)
    model = FakeModel(stm)
    a = recall_all(model, stm.keys, 5, seed=3)
    assert list(a) == stm.keys
    assert all(frames.shape == (5, *SHAPE) and frames.dtype == np.uint8 for frames in a.values())
    b = recall_all(model, stm.keys, 5, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in stm.keys)


def test_recall_accuracy_and_error_judge_by_real_frames_only():
    stm = memory()
    perfect = per_state_recall(FakeModel(stm), stm, n=4)
    assert [s.key for s in perfect] == stm.keys
    assert all(s.accuracy == 1.0 and s.error == pytest.approx(0, abs=1e-6) for s in perfect)
    assert recall_accuracy(FakeModel(stm), stm, n=4) == 1.0
    assert recall_accuracy(FakeModel(stm, "shifted"), stm, n=4, method="frame") == 0.0
    wrong = per_state_recall(FakeModel(stm, "shifted"), stm, n=2)
    assert all(s.error > 0.05 for s in wrong)


def test_diversity_shows_mode_collapse():
    stm = memory(vary=True, per_key=10)
    varied = per_state_recall(FakeModel(stm), stm, n=30, seed=0)
    collapsed = per_state_recall(FakeModel(stm, "collapsed"), stm, n=30, seed=0)
    for good, bad in zip(varied, collapsed, strict=True):
        assert bad.recalled_spread == pytest.approx(0, abs=1e-9)
        assert good.real_spread > 0
        assert 0.5 < good.recalled_spread / good.real_spread < 1.5
    report = evaluate(FakeModel(stm, "collapsed"), stm)
    assert report["diversity"]["ratio"] == pytest.approx(0, abs=1e-6)


def test_only_states_the_model_and_memory_share_are_recalled():
    stm = memory()
    model = FakeModel(stm, keys=["a", "b", (1, 2, 0), "never seen"])
    assert [s.key for s in per_state_recall(model, stm, n=2)] == stm.keys
    with pytest.raises(EmptyMemoryError):
        per_state_recall(FakeModel(memory(keys=("x", "y")), keys=["z"]), stm)


def test_recognition_accuracy_counts_unknowns_and_novel_states():
    stm = memory()
    model_keys = ["a", "b"]  # (1, 2, 0) is a state this model never learnt

    def answers(frames):
        level = frames.reshape(len(frames), -1)[:, 0]
        return ["a" if v == 30 else None for v in level]

    result = recognition_accuracy(FakeRecognizer(stm, answers, keys=model_keys), stm)
    assert result.frames == 12
    assert result.accuracy == pytest.approx(0.5)  # every "a" right, every "b" unknown
    assert result.unknown == pytest.approx(0.5)
    assert result.novel_unknown == 1.0
    plain = recognition_accuracy(FakeRecognizer(stm, lambda f: ["a"] * len(f)), stm)
    assert plain.novel_unknown is None and plain.accuracy == pytest.approx(1 / 3)


def test_coverage():
    stm = memory(keys=("a", "b"))
    assert coverage(stm, ["a", "b", "c", "d"]) == 0.5
    assert coverage(stm, ["a"]) == 1.0
    with pytest.raises(InvalidValueError):
        coverage(stm, [])


def test_evaluate_is_a_json_able_summary():
    stm = memory(vary=True)
    report = evaluate(FakeModel(stm, keys=[*stm.keys, "unvisited"]), stm, n=3)
    assert json.loads(json.dumps(report)) == report
    assert report["model"] == "A" and report["recognition"] is None
    assert report["states"] == 4 and report["states_evaluated"] == 3
    assert report["coverage"] == 0.75
    assert report["recall_accuracy"] == 1.0
    assert [entry["key"] for entry in report["per_state"]] == [encode_key(k) for k in stm.keys]
    b_report = evaluate(FakeRecognizer(stm, lambda f: [None] * len(f)), stm, n=2)
    assert b_report["recognition"]["unknown"] == 1.0
