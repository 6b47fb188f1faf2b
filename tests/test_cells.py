"""The pixel-cell key (Go-Explore's cells) and the fallback adapter of every pixel env."""

from __future__ import annotations

import pickle
import re
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest

from man_rl import MemoryWrapper
from man_rl.env.adapter import adapter_for, register_adapter, unregister_adapter
from man_rl.envs import CellAdapter, CellKey
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.plotting.grids import recall_grid
from man_rl.plotting.recall import infer_layout

DEFAULT_FORMAT = re.compile(r"^([0-7]{11}/){7}[0-7]{11}$")


def block_frame(levels: np.ndarray, cell: tuple[int, int] = (10, 10)) -> np.ndarray:
    """An RGB frame of ``levels`` (grey levels of 8) as blocks at the middle of each bin."""
    grey = ((levels + 0.5) * 32).astype(np.uint8)
    frame = np.kron(grey, np.ones(cell, np.uint8))
    return np.repeat(frame[:, :, None], 3, axis=2)


@pytest.fixture
def levels():
    return np.random.default_rng(0).integers(0, 8, size=(8, 11))


class Column(gym.Env):
    """A tiny image env: a white column of 4 pixels at ``pos`` moves left or right."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self):
        self.observation_space = gym.spaces.Box(0, 255, (16, 44, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.pos = 0

    def _obs(self):
        frame = np.zeros((16, 44, 3), np.uint8)
        frame[:, 4 * self.pos : 4 * self.pos + 4] = 255
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return self._obs(), {}

    def step(self, action):
        self.pos = (self.pos + (1 if action else -1)) % 11
        return self._obs(), 0.0, False, False, {}


class Rendered(gym.Env):
    """A non-image observation, frames from ``render()`` (which counts its calls)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode="rgb_array"):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.renders = 0
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 0.0, False, False, {}

    def render(self):
        self.renders += 1
        return np.full((8, 11, 3), 255 if self.t % 2 else 0, np.uint8)


def test_the_key_is_deterministic_and_in_the_documented_format(levels):
    frame = block_frame(levels)
    key = CellKey()
    assert key(None, frame, {}) == key(None, frame.copy(), {})
    assert DEFAULT_FORMAT.match(key(None, frame, {}))
    np.testing.assert_array_equal(CellKey.cells_of(key(None, frame, {})), levels)
    assert pickle.loads(pickle.dumps(key))(None, frame, {}) == key(None, frame, {})


def test_a_changed_frame_changes_the_key(levels):
    frame = block_frame(levels)
    changed = frame.copy()
    changed[30:40, 50:60] = 255 - changed[30:40, 50:60]  # one cell flipped
    assert CellKey()(None, changed, {}) != CellKey()(None, frame, {})


def test_tiny_noise_leaves_the_key_alone(levels):
    frame = block_frame(levels)
    rng = np.random.default_rng(1)
    noisy = np.clip(frame + rng.integers(-4, 5, frame.shape), 0, 255).astype(np.uint8)
    assert CellKey()(None, noisy, {}) == CellKey()(None, frame, {})


def test_cells_are_area_averages_of_grey():
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (21, 33), dtype=np.uint8)  # 3 x 3 pixels per cell
    cells = CellKey(width=11, height=7, levels=16).cells(frame)
    means = frame.reshape(7, 3, 11, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(cells, np.floor(means * 16 / 256).astype(int))
    # frames that do not divide evenly are averaged over fractional pixels
    odd = CellKey().cells(np.full((210, 160, 3), 255, np.uint8))
    assert odd.shape == (8, 11) and (odd == 7).all()


def test_grey_rgb_rgba_and_one_channel_agree():
    grey = np.full((16, 22), 100, np.uint8)
    key = CellKey(width=2, height=2, levels=36)
    expected = key(None, grey, {})
    assert key(None, grey[:, :, None], {}) == expected
    assert key(None, np.stack([grey] * 3, axis=2), {}) == expected
    rgba = np.concatenate([np.stack([grey] * 3, axis=2), np.zeros((16, 22, 1), np.uint8)], 2)
    assert key(None, rgba, {}) == expected
    assert expected == "ee/ee"  # level 100 * 36 // 256 = 14, base-36 digit 'e'


@pytest.mark.parametrize(
    "kwargs", [{"width": 0}, {"height": 2.5}, {"levels": 1}, {"levels": 37}, {"width": True}]
)
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(InvalidValueError, match="CellKey"):
        CellKey(**kwargs)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((4, 4), np.float32), np.zeros(5, np.uint8), np.zeros((4, 4, 2), np.uint8)],
    ids=["float", "1-d", "2-channels"],
)
def test_what_is_not_an_image_is_refused(frame):
    with pytest.raises(InvalidTypeError, match="CellKey needs"):
        CellKey()(None, frame, {})


@pytest.mark.parametrize("text", ["", "01/2", "0-", "01//01", 3])
def test_what_is_not_a_cell_key_is_refused(text):
    with pytest.raises(InvalidValueError, match="not a cell key"):
        CellKey.cells_of(text)


def test_the_cell_adapter_is_the_fallback_of_an_image_env():
    env = Column()
    adapter = adapter_for(env)
    assert adapter.name == "cells" and isinstance(adapter, CellAdapter)
    assert adapter.state_count(env) is None and adapter.layout(env) is None
    assert adapter.reachable_states(env) is None
    wrapped = MemoryWrapper(env, capacity=10)
    wrapped.reset(seed=0)
    for _ in range(10):
        wrapped.step(1)
    keys = wrapped.memory.keys
    assert len(keys) == 11 and all(DEFAULT_FORMAT.match(k) for k in keys)
    assert wrapped.memory.frame_shape == (16, 44, 3)


def test_a_specific_adapter_wins_over_the_fallback():
    import minigrid  # noqa: F401  (registers its ids)

    assert adapter_for(gym.make("FrozenLake-v1", render_mode="rgb_array")).name == "discrete"
    assert adapter_for(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array")).name == (
        "minigrid"
    )
    assert not CellAdapter().matches(gym.make("CartPole-v1"))  # no image, no rgb_array


def test_an_ale_env_without_its_adapter_falls_back_to_cells():
    pytest.importorskip("ale_py")
    from man_rl.envs import register_atari

    class NoAtari:  # shadows the installed Atari adapter (same name), matches nothing
        name, priority = "atari", 0

        def matches(self, env):
            return False

        def key(self, env, obs, info):
            return None

        def state_count(self, env):
            return None

        def layout(self, env):
            return None

        def reachable_states(self, env):
            return None

    register_atari()
    env = gym.make("ALE/Breakout-v5")
    assert adapter_for(env).name == "atari"
    register_adapter(NoAtari())
    try:
        assert adapter_for(env).name == "cells"
        wrapped = MemoryWrapper(env, capacity=5)
        _, info = wrapped.reset(seed=0)
        chosen = CellKey.from_settings(wrapped.memory.key_settings)  # sized for Breakout
        assert CellKey.cells_of(info["state_key"]).shape == (chosen.height, chosen.width)
    finally:
        unregister_adapter("atari")


def test_a_frame_key_gets_the_rendered_frame_and_renders_once():
    env = Rendered()
    wrapped = MemoryWrapper(env, key_fn=CellKey(), capacity=5)
    _, info = wrapped.reset(seed=0)
    assert info["state_key"] == "0" * 11 + ("/" + "0" * 11) * 7
    _, _, _, _, info = wrapped.step(0)
    assert info["state_key"] == "7" * 11 + ("/" + "7" * 11) * 7
    assert env.renders == 2  # once per reset or step, for the key and the frame together
    assert adapter_for(Rendered()).name == "cells"  # rgb_array rendering is enough
    with pytest.raises(InvalidTypeError, match="CellKey needs"):
        CellKey()(None, np.zeros(2, np.float32), {})  # the observation is no frame


def test_cell_keys_draw_as_a_plain_grid_of_the_keys_seen(levels):
    frames = {CellKey()(None, f, {}): f for f in (block_frame(levels), block_frame(7 - levels))}
    layout = infer_layout(list(frames))
    assert layout.shape == (1, 2) and set(layout.cells) == set(frames)
    assert recall_grid(frames, layout).axes
