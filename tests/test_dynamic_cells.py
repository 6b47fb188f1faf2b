"""Cells sized per game (dynamic downscaling), saved with the memory, and the collapse warning."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

from man_rl import MemoryWrapper, ShortTermMemory
from man_rl.env import KeyCollapseWarning
from man_rl.envs import CellKey, DynamicCellKey
from man_rl.envs.cells import _area_weights, grey
from man_rl.envs.downscale import choose_cells, score
from man_rl.errors import InvalidValueError

STEPS = 300


def walk(env: gym.Env, steps: int = STEPS, **kwargs) -> MemoryWrapper:
    """A seeded random walk of ``steps`` steps in ``env`` wrapped in a MemoryWrapper."""
    wrapped = MemoryWrapper(env, capacity=STEPS + 50, **kwargs)
    wrapped.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(steps):
        _, _, terminated, truncated, _ = wrapped.step(env.action_space.sample())
        if terminated or truncated:
            wrapped.reset()
    return wrapped


def distances(memory: ShortTermMemory) -> tuple[float, float]:
    """Mean RMS grey distance of frames under one key and of frames under different keys."""
    frames, labels = memory.all_frames()
    rows, cols = frames.shape[1], frames.shape[2]
    down_r, down_c = _area_weights(rows, rows // 4), _area_weights(cols, cols // 4)
    x = np.stack([(down_r @ grey(f) @ down_c.T).ravel() for f in frames])
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0) / x.shape[1])
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return float(d[same & off].mean()), float(d[~same].mean())


def breakout() -> gym.Env:
    ale_py = pytest.importorskip("ale_py")
    gym.register_envs(ale_py)
    return gym.make("ALE/Breakout-v5", render_mode="rgb_array")


@pytest.mark.parametrize(
    "make",
    [
        lambda: gym.make("CartPole-v1", render_mode="rgb_array"),
        lambda: gym.make("MountainCar-v0", render_mode="rgb_array"),
        breakout,
    ],
    ids=["CartPole", "MountainCar", "Breakout"],
)
def test_the_cell_fallback_follows_what_moves(make):
    env = make()
    # CartPole and MountainCar get it as their adapter's key; Breakout has RAM keys of its own
    key_fn = DynamicCellKey() if "ALE" in env.spec.id else None
    memory = walk(env, key_fn=key_fn).memory
    counts = np.array(list(memory.counts().values()))
    within, between = distances(memory)
    assert len(counts) >= 10, memory.counts()
    assert counts.max() / counts.sum() < 0.5  # no key holds most frames
    assert within < 0.5 * between, (within, between)
    chosen = CellKey.from_settings(memory.key_settings)
    assert (chosen.width, chosen.height, chosen.levels) != (11, 8, 8)  # not the fixed cells


def test_fixed_cells_collapse_on_cartpole_and_the_warning_says_so():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    with pytest.warns(KeyCollapseWarning, match=r"key_fn=.*--key-fn") as caught:
        memory = walk(env, key_fn=CellKey()).memory
    assert len([w for w in caught if w.category is KeyCollapseWarning]) == 1
    counts = np.array(list(memory.counts().values()))
    assert counts.max() / counts.sum() > 0.5  # the collapse, measured


def test_a_constant_key_on_changing_screens_warns_once():
    env = gym.make("MountainCar-v0", render_mode="rgb_array")
    with pytest.warns(KeyCollapseWarning) as caught:
        walk(env, steps=450, key_fn=lambda env, obs, info: "all")  # looks at 200 and 400
    assert [w.category for w in caught].count(KeyCollapseWarning) == 1


def test_no_warning_where_keys_do_not_collapse():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyCollapseWarning)
        cartpole = walk(gym.make("CartPole-v1", render_mode="rgb_array"))  # dynamic cells
        # one key, but its screens are all alike (left into the wall): a state stood in
        lake = MemoryWrapper(
            gym.make("FrozenLake-v1", render_mode="rgb_array", is_slippery=False),
            key_fn=lambda env, obs, info: "room",
            capacity=300,
        )
        lake.reset(seed=0)
        for _ in range(250):
            lake.step(0)
    for wrapped in (cartpole, lake):
        assert wrapped._collapse.frames >= 250 and not wrapped._collapse.warned


class Refusing(DynamicCellKey):
    """A chooser that must not choose: the memory's settings are enough."""

    def choose(self, env, frame):
        raise AssertionError("chose again instead of restoring the memory's settings")


def test_the_chosen_cells_are_saved_and_a_resumed_memory_keys_the_same(tmp_path):
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    first = walk(env, steps=60)
    settings = first.memory.key_settings
    assert settings["kind"] == "cells"
    first.memory.save(tmp_path / "m.manrl")
    loaded = ShortTermMemory.load(tmp_path / "m.manrl")
    assert loaded.key_settings == settings
    again = walk(gym.make("CartPole-v1", render_mode="rgb_array"), 60, memory=loaded)
    assert again.memory.key_settings == settings
    resumed = MemoryWrapper(env, memory=loaded, key_fn=Refusing())
    _, info = resumed.reset(seed=0)
    assert info["state_key"] == CellKey.from_settings(settings)(None, resumed.render(), {})
    assert first.memory.key_settings == loaded.copy().key_settings  # copies keep them


def test_memories_keyed_differently_do_not_merge():
    a, b = ShortTermMemory(2), ShortTermMemory(2)
    a.key_settings, b.key_settings = CellKey(4, 3, 8).settings(), CellKey(8, 5, 8).settings()
    with pytest.raises(InvalidValueError, match="keyed differently"):
        a.merge(b)
    c = ShortTermMemory(2)
    assert c.merge(b).key_settings == b.key_settings  # an unkeyed memory takes them


def test_the_objective_prefers_even_keys_near_the_target():
    assert score(np.array([10, 10, 10, 10]), 4) > score(np.array([37, 1, 1, 1]), 4)
    assert score(np.array([10, 10, 10, 10]), 4) > score(np.ones(40, int), 4)
    assert score(np.array([40]), 4) == 0.0
    frames = [np.zeros((40, 60, 3), np.uint8) for _ in range(32)]
    for i, frame in enumerate(frames):  # a small dark pole swinging on white
        frame[:] = 255
        frame[10:30, i + 10 : i + 12] = 0
    key = choose_cells(frames)
    assert 2 <= len({key(None, f, {}) for f in frames}) <= 16


def test_direct_calls_choose_per_game_and_a_handmade_env_keeps_the_fixed_cells():
    key = DynamicCellKey(frames=40)
    cartpole = gym.make("CartPole-v1", render_mode="rgb_array")
    cartpole.reset(seed=0)
    frame = cartpole.render()
    assert key(cartpole, frame, {}) == key.choose(cartpole, frame)(None, frame, {})
    assert len(key._chosen) == 1
    assert key.choose(cartpole.unwrapped.__class__(), frame) == CellKey()  # no spec
    with pytest.raises(InvalidValueError, match="frames"):
        DynamicCellKey(frames=1)
    with pytest.raises(InvalidValueError, match="cell-key settings"):
        DynamicCellKey.restore({"kind": "ram"})


def test_the_command_line_names_the_chooser():
    from man_rl.cli.common import key_fn_from_spec

    assert isinstance(key_fn_from_spec("man_rl.envs:DynamicCellKey"), DynamicCellKey)
