"""Atari keys from documented RAM addresses (AtariARI), the adapter, registration."""

from __future__ import annotations

import pickle
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("ale_py")

from man_rl import MemoryWrapper
from man_rl.env.adapter import adapter_for
from man_rl.envs import ATARI_KEYS, AtariAdapter, RamAxis, RamKey, register_atari
from man_rl.envs.atari import (
    BREAKOUT_KEY,
    atari_game,
    is_atari_id,
    preprocessed_atari,
)
from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.plotting.grids import recall_grid

NOOP, FIRE, RIGHT, LEFT = range(4)  # Breakout's actions


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_atari()


def make(env_id, **kwargs):
    return gym.make(env_id, repeat_action_probability=0.0, **kwargs)


def test_breakout_key_is_the_paddle_and_follows_it():
    env = make("ALE/Breakout-v5")
    env.reset(seed=0)
    adapter = adapter_for(env)
    assert adapter.name == "atari" and adapter.state_count(env) == 6

    def key():
        ram = env.unwrapped.ale.getRAM()
        assert adapter.key(env, None, {}) == ram[72] // 24
        return adapter.key(env, None, {})

    start = key()
    going_right = []
    for _ in range(30):
        env.step(RIGHT)
        going_right.append(key())
    going_left = []
    for _ in range(60):
        env.step(LEFT)
        going_left.append(key())
    assert going_right[-1] == 7 and going_left[-1] == 2  # both walls
    assert going_right == sorted(going_right) and start <= going_right[0]
    assert going_left == sorted(going_left, reverse=True)
    assert set(going_left) == set(range(2, 8))  # every bin passed on the way


@pytest.mark.parametrize("game", ["Pong", "SpaceInvaders", "MsPacman", "Seaquest"])
def test_keys_of_other_games_are_in_range(game):
    env = make(f"ALE/{game}-v5")
    adapter = AtariAdapter()
    assert adapter.matches(env)
    layout = adapter.layout(env)
    assert adapter.state_count(env) == len(layout.cells)
    assert adapter.reachable_states(env) is None
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    seen = set()
    for _ in range(300):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        key = adapter.key(env, None, {})
        assert key in layout.cells
        seen.add(key)
        if terminated or truncated:
            env.reset()
    assert len(seen) >= 2


def test_layouts_follow_the_bins():
    one = ATARI_KEYS["breakout"].layout()
    assert one.shape == (1, 6) and one.cells[2] == (0, 0) and one.cells[7] == (0, 5)
    assert one.col_title == "paddle x (RAM[72] // 24)"
    two = ATARI_KEYS["mspacman"].layout()
    x, y = ATARI_KEYS["mspacman"].axes
    assert two.shape == (y.count, x.count)
    assert two.cells[(x.first, y.first)] == (0, 0)
    assert two.cells[(x.last, y.first)] == (0, x.count - 1)  # columns x, rows y
    assert two.cells[(x.first, y.last)] == (y.count - 1, 0)


def test_an_atari_layout_draws():
    env = make("ALE/Seaquest-v5")
    obs, _ = env.reset(seed=0)
    layout = AtariAdapter().layout(env)
    key = AtariAdapter().key(env, obs, {})
    figure = recall_grid({key: obs}, layout, real={key: obs}, unseen={})
    assert figure.axes


def test_ram_keys_pickle_and_clip():
    assert pickle.loads(pickle.dumps(BREAKOUT_KEY)) == BREAKOUT_KEY
    axis = RamAxis("x", 3, width=10, low=20, high=59)
    assert (axis.first, axis.last, axis.count) == (2, 5, 4)
    ram = np.zeros(128, np.uint8)
    assert axis.value(ram) == 2  # below low: clipped
    ram[3] = 250
    assert axis.value(ram) == 5  # above high: clipped
    with pytest.raises(InvalidValueError, match="RAM address"):
        RamAxis("x", 128, 1)
    with pytest.raises(InvalidValueError, match="one or two"):
        RamKey(())


def test_the_wrapper_uses_the_ram_key_by_default():
    env = MemoryWrapper(make("ALE/Breakout-v5"), capacity=5)
    _, info = env.reset(seed=0)
    assert info["state_key"] == 6  # the paddle starts at RAM 146
    for _ in range(5):
        env.step(RIGHT)
    assert env.memory.frame_shape == (210, 160, 3)
    assert all(isinstance(k, int) and 2 <= k <= 7 for k in env.memory.keys)


def test_games_without_a_ram_key_fall_back_to_cells():
    env = make("ALE/Tetris-v5")
    assert atari_game(env) == "tetris"
    assert not AtariAdapter().matches(env)
    assert adapter_for(env).name == "cells"


def test_game_names_from_rom_or_id():
    assert atari_game(make("ALE/SpaceInvaders-v5")) == "spaceinvaders"
    assert atari_game(gym.make("FrozenLake-v1")) is None

    class Bare:  # an ALE-like env without ale-py's ROM name: the id is read
        ale = None
        spec = gym.spec("ALE/MsPacman-v5")

    assert atari_game(Bare()) == "mspacman"
    assert is_atari_id("ALE/Pong-v5") and not is_atari_id("FrozenLake-v1")


def test_preprocessed_atari_gives_84x84_grey_frames():
    env = preprocessed_atari("ALE/Breakout-v5")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (84, 84) and obs.dtype == np.uint8
    assert AtariAdapter().key(env, obs, {}) == 6  # RAM keys see through the wrappers
    with pytest.raises(EnvCompatibilityError, match="needs an ALE env"):
        preprocessed_atari("FrozenLake-v1")


def test_missing_ale_py_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # import ale_py now fails
    with pytest.raises(EnvCompatibilityError, match=r"pip install 'man_rl\[atari\]'"):
        register_atari()
