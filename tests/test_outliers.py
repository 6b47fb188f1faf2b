"""States that look wrong though the judge accepts them are named first (issue 23)."""

from __future__ import annotations

import numpy as np

from man_rl import ShortTermMemory
from man_rl.evaluation import judge_samples, train_judge
from man_rl.evaluation.metrics import outlier_line
from man_rl.report.content import state_entries


def memory() -> ShortTermMemory:
    """Six states: a bright block at a place of its own, a little noise in every frame."""
    rng = np.random.default_rng(0)
    stm = ShortTermMemory(capacity=10, seed=0)
    for state in range(6):
        for _ in range(10):
            frame = rng.integers(40, 48, (16, 16), dtype=np.uint8)
            frame[2 * state : 2 * state + 4, 4:8] = 220
            stm.add(f"s{state}", frame)
    return stm


def judged(stm, wrong: str | None):
    judge = train_judge(stm, steps=80, seed=0)
    samples = {key: judge.real_frames(stm, key)[0] for key in stm.keys}
    if wrong is not None:
        drawn = samples[wrong].copy()
        drawn[:, 10:16, 10:16] = 255  # a patch no real screen has, as a wrong colour would be
        samples[wrong] = drawn
    return judge_samples(judge, samples, stm)


def test_a_state_drawn_wrong_is_named_first_though_the_judge_accepts_it():
    stm = memory()
    report = judged(stm, "s3")
    bad = next(s for s in report.states if s.key == "s3")
    assert bad.accuracy == 1.0  # the judge is satisfied
    assert [s.key for s in report.outliers()] == ["s3"]
    assert report.to_dict()["outliers"][0]["key"] == "s3"
    assert state_entries(stm, report)[0].key == "s3"  # first on the report page
    line = outlier_line(report.to_dict())
    assert line is not None and "s3 fidelity" in line


def test_real_screens_have_no_outliers():
    stm = memory()
    report = judged(stm, None)
    assert report.outliers() == [] and outlier_line(report.to_dict()) is None
