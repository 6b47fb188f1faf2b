"""Tests of MemoryTrainer: a long-term memory trained beside an agent, for any RL library."""

from __future__ import annotations

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.env import make_memory_vec_env
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.integrations.trainer import MemoryTrainer, figure_pixels
from man_rl.ltm import TypeA
from man_rl.ltm.training import TERMS


def test_the_loop_grows_the_model_with_the_states_a_vector_env_meets():
    env = make_memory_vec_env(
        "MiniGrid-Empty-5x5-v0", 2, vectorization_mode="sync", capacity=10, tile_size=4
    )
    trainer = MemoryTrainer(env.memory, "B", steps=2, judge_every=2, judge_steps=20, seed=0)
    rng = np.random.default_rng(0)
    env.reset(seed=[0, 1])
    updates = []
    for step in range(1, 161):
        env.step(rng.integers(0, 3, size=2))  # left, right, forward
        if step % 40 == 0:
            updates.append(trainer.update(env_steps=2 * step))
    env.close()
    known = [u.scalars["memory/states_known"] for u in updates]
    assert known == sorted(known) and known[-1] == env.memory.num_keys > known[0] >= 2
    assert trainer.model.keys == env.memory.keys
    assert sum(u.scalars["memory/states_added"] for u in updates[1:]) == known[-1] - known[0]
    assert [u.call for u in updates] == [1, 2, 3, 4]
    assert [u.env_steps for u in updates] == [80, 160, 240, 320]
    assert [u.scalars["memory/train_steps"] for u in updates] == [2.0, 4.0, 6.0, 8.0]
    for update in updates:
        assert {f"memory/{t}" for t in TERMS} <= set(update.scalars)
        assert all(np.isfinite(v) for v in update.scalars.values())
    judged = [u for u in updates if u.grid is not None]
    assert [u.call for u in judged] == [1, 3]  # every 2nd call, the first included
    for update in judged:
        assert update.grid.dtype == np.uint8 and update.grid.ndim == 3
        assert update.grid.shape[2] == 3 and min(update.grid.shape[:2]) > 50
        assert 0.0 <= update.scalars["memory/judge_accuracy"] <= 1.0
        assert update.scalars["memory/judge_seconds"] > 0
        assert update.report.states and len(update.report.states) <= len(trainer.model.keys)
    assert "memory/judge_accuracy_added" in judged[1].scalars  # grown by then
    assert all("memory/judge_accuracy" not in u.scalars for u in updates if u.grid is None)


def test_the_loop_waits_for_enough_states_and_trains_a_given_model():
    memory = ShortTermMemory(capacity=4)
    trainer = MemoryTrainer(memory, "B", steps=1, judge_every=None)
    memory.add("one", np.zeros((6, 6), np.uint8))
    assert trainer.update() is None and trainer.model is None  # Type B needs two states
    memory.add("two", np.full((6, 6), 200, np.uint8))
    assert trainer.update().scalars["memory/states_known"] == 2.0
    model = TypeA.for_memory(memory, seed=3)
    model.fit(memory, steps=2, seed=0, progress=False)
    again = MemoryTrainer(memory, model, steps=3, judge_every=None, prefix="ltm")
    assert again.update(env_steps=7).scalars["ltm/train_steps"] == 5.0
    assert again.model is model


def test_bad_settings_are_refused():
    memory = ShortTermMemory(capacity=2)
    with pytest.raises(InvalidTypeError, match=r"env\.memory"):
        MemoryTrainer({"not": "a memory"})
    with pytest.raises(InvalidValueError, match="'C'"):
        MemoryTrainer(memory, "C")
    model = TypeA(["a"], (4, 4), seed=0)
    with pytest.raises(InvalidValueError, match="built already"):
        MemoryTrainer(memory, model, model_options={"latent_dim": 4})
    with pytest.raises(InvalidValueError, match="judge_every"):
        MemoryTrainer(memory, judge_every=0)


def test_figure_pixels_draws_the_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    fig.patch.set_facecolor((1.0, 0.0, 0.0))
    pixels = figure_pixels(fig)
    assert pixels.shape == (50, 100, 3) and pixels.dtype == np.uint8
    assert (pixels[..., 0] == 255).all() and (pixels[..., 1] == 0).all()
