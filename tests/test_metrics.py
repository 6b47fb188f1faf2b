"""Tests of man_rl.evaluation.metrics, on fake models whose recall is known exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import EmptyMemoryError, InvalidValueError
from man_rl.evaluation import train_judge
from man_rl.evaluation.metrics import (
    NearestFrame,
    coverage,
    evaluate,
    per_state_recall,
    recall_accuracy,
    recall_all,
    recognition_accuracy,
)
from man_rl.keys import encode_key
from man_rl.ltm.common import KeyIndex

SHAPE = (6, 6, 3)


def memory(keys=("a", "b", (1, 2, 0)), per_key=6, vary=False, seed=0) -> ShortTermMemory:
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


@pytest.fixture(scope="module")
def varied():
    stm = memory(vary=True, per_key=10)
    return stm, train_judge(stm, seed=0, steps=80)


def test_nearest_frame_classifies_real_frames():
    stm = memory(vary=True)
    frames, labels = stm.all_frames()
    classifier = NearestFrame(stm)
    assert classifier.keys == stm.keys
    assert np.array_equal(classifier.predict(frames), labels)
    with pytest.raises(InvalidValueError, match="max_per_key"):
        NearestFrame(stm, max_per_key=0)


def test_recall_all_is_seeded_and_shaped():
    stm = memory(vary=True)
    model = FakeModel(stm)
    a = recall_all(model, stm.keys, 5, seed=3)
    assert list(a) == stm.keys
    assert all(frames.shape == (5, *SHAPE) and frames.dtype == np.uint8 for frames in a.values())
    b = recall_all(model, stm.keys, 5, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in stm.keys)


def test_recall_accuracy_is_the_judges_and_reuses_a_given_judge(varied, monkeypatch):
    stm, judge = varied
    assert judge.ceiling == 1.0
    assert recall_accuracy(FakeModel(stm), stm, judge=judge, n=4) == 1.0
    assert recall_accuracy(FakeModel(stm, "shifted"), stm, judge=judge, n=4) == 0.0
    import man_rl.evaluation.metrics as metrics

    def no_training(*args, **kwargs):
        raise AssertionError("a judge was given: none must be trained")

    monkeypatch.setattr(metrics, "train_judge", no_training)
    evaluate(FakeModel(stm), stm, judge=judge, n=2)
    with pytest.raises(InvalidValueError, match="must be a Judge"):
        recall_accuracy(FakeModel(stm), stm, judge="judge.manrl")


def test_a_judge_is_trained_when_none_is_given():
    stm = memory(per_key=5)
    assert recall_accuracy(FakeModel(stm), stm, n=3) == 1.0


def test_per_state_figures_show_mode_collapse_and_wrong_states(varied):
    stm, judge = varied
    good = per_state_recall(FakeModel(stm), stm, judge=judge, n=30, seed=0)
    collapsed = per_state_recall(FakeModel(stm, "collapsed"), stm, judge=judge, n=30, seed=0)
    wrong = per_state_recall(FakeModel(stm, "shifted"), stm, judge=judge, n=5)
    assert [s.key for s in good] == stm.keys
    for g, c, w in zip(good, collapsed, wrong, strict=True):
        assert g.accuracy == 1.0 and w.accuracy == 0.0
        assert 0.7 < g.diversity < 1.3 and c.diversity == 0.0
        assert g.copies == 1.0  # the fake recalls stored frames
        assert w.fidelity > 5 * g.fidelity
    report = evaluate(FakeModel(stm, "collapsed"), stm, judge=judge)
    assert report["diversity"] == pytest.approx(0, abs=1e-6)
    assert report["diversity_states"] == 3


def test_only_states_the_model_and_memory_share_are_recalled(varied):
    stm, judge = varied
    model = FakeModel(stm, keys=["a", "b", (1, 2, 0), "never seen"])
    assert [s.key for s in per_state_recall(model, stm, judge=judge, n=2)] == stm.keys
    with pytest.raises(EmptyMemoryError):
        per_state_recall(FakeModel(memory(keys=("x", "y")), keys=["z"]), stm)


def test_recognition_accuracy_counts_unknowns_and_novel_states():
    stm = memory(per_key=4)
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


def test_evaluate_is_a_json_able_summary(varied):
    stm, judge = varied
    report = evaluate(FakeModel(stm, keys=[*stm.keys, "unvisited"]), stm, judge=judge, n=3)
    assert json.loads(json.dumps(report)) == report
    assert report["model"] == "A" and report["recognition"] is None
    assert report["states"] == 4 and report["states_evaluated"] == 3
    assert report["coverage"] == 0.75
    assert report["recall_accuracy"] == report["accuracy"] == 1.0
    assert report["accuracy_ratio"] == 1.0 and report["judge"]["ceiling"] == 1.0
    assert report["judge"]["states_with_held_out"] == 3
    for name in ["fidelity", "mean_frame_fidelity", "precision", "recall", "copies", "fid"]:
        assert isinstance(report[name], float), name
    assert [entry["key"] for entry in report["per_state"]] == [encode_key(k) for k in stm.keys]
    assert len(report["worst_states"]) == 3
    b_report = evaluate(FakeRecognizer(stm, lambda f: [None] * len(f)), stm, judge=judge, n=2)
    assert b_report["recognition"]["unknown"] == 1.0
