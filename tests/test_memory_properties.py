"""Queue invariants of ShortTermMemory under any sequence of operations (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from man_rl import ShortTermMemory

CAPACITY = 3
KEYS = st.sampled_from([0, 1, "a", (2, 3), ("b", 0)])


def frame(value: int) -> np.ndarray:
    return np.full((2, 3), value % 256, np.uint8)


class MemoryMachine(RuleBasedStateMachine):
    """Compares the memory with a reference: per key, the list of every value ever added."""

    def __init__(self):
        super().__init__()
        self.memory = ShortTermMemory(CAPACITY, seed=0)
        self.history: dict = {}
        self.counter = 0
        self.folder = Path(tempfile.mkdtemp())

    def _reference_add(self, key, value):
        self.history.setdefault(key, []).append(value)

    @rule(key=KEYS)
    def add(self, key):
        self.counter += 1
        self.memory.add(key, frame(self.counter))
        self._reference_add(key, self.counter % 256)

    @rule(keys=st.lists(KEYS, max_size=6))
    def merge(self, keys):
        other = ShortTermMemory(CAPACITY)
        for key in keys:
            self.counter += 1
            other.add(key, frame(self.counter))
        # Merging adds, key by key in other's key order, the frames other holds.
        for key in other.keys:
            for f in other.queue(key):
                self._reference_add(key, int(f[0, 0]))
        self.memory.merge(other)

    @rule()
    def save_and_load(self):
        path = self.folder / "m.manrl"
        self.memory.save(path)
        self.memory = ShortTermMemory.load(path)

    @rule(batch=st.integers(1, 20), balanced=st.booleans())
    def sample(self, batch, balanced):
        if len(self.memory) == 0:
            return
        frames, labels = self.memory.sample(batch, balanced=balanced)
        assert frames.shape == (batch, 2, 3) and labels.shape == (batch,)
        for f, label in zip(frames, labels, strict=True):
            key = self.memory.keys[label]
            assert int(f[0, 0]) in self.history[key][-CAPACITY:]

    @invariant()
    def bounded_fifo_and_key_order(self):
        assert self.memory.keys == list(self.history)
        for key, values in self.history.items():
            held = self.memory.queue(key)[:, 0, 0].tolist()
            assert held == values[-CAPACITY:]
        assert len(self.memory) == sum(min(CAPACITY, len(v)) for v in self.history.values())


MemoryMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestMemoryMachine = MemoryMachine.TestCase


def test_balanced_sampling_passes_chi_square():
    """Balanced draws are uniform over keys however unequal the queues (chi-square test)."""
    stm = ShortTermMemory(200, seed=0)
    sizes = [200, 50, 5, 1, 120, 17]
    for key, size in enumerate(sizes):
        for i in range(size):
            stm.add(key, frame(i))
    draws = 60_000
    _, labels = stm.sample(draws, rng=np.random.default_rng(123))
    observed = np.bincount(labels, minlength=len(sizes))
    expected = draws / len(sizes)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    # 5 degrees of freedom: the 0.999 quantile is 20.5.
    assert chi2 < 20.5, (chi2, observed)


def test_balanced_frames_within_a_key_are_uniform():
    stm = ShortTermMemory(10, seed=0)
    for i in range(10):
        stm.add("k", frame(i))
    frames, _ = stm.sample(50_000, rng=np.random.default_rng(7))
    observed = np.bincount(frames[:, 0, 0], minlength=10)
    expected = 5_000
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 27.9, observed  # 9 dof, 0.999 quantile


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)])
def test_merge_is_associative(order):
    memories = []
    for m in range(3):
        stm = ShortTermMemory(4)
        for i in range(7):
            stm.add((m + i) % 3, frame(10 * m + i))
        memories.append(stm)
    a, b, c = (memories[i] for i in order)
    left = a.copy().merge(b).merge(c)
    right = a.copy().merge(b.copy().merge(c))
    assert left.keys == right.keys
    for key in left.keys:
        assert np.array_equal(left.queue(key), right.queue(key))
        assert len(left.queue(key)) <= 4
