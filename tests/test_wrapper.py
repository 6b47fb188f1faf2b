from __future__ import annotations

import gymnasium as gym
import minigrid
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from man_rl import MemoryWrapper, ShortTermMemory
from man_rl.errors import EnvCompatibilityError, InvalidValueError


def minigrid_env(**kwargs):
    return gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8, **kwargs)


class TestStoring:
    def test_reset_and_step_store_frames_under_keys(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        _, info = env.reset(seed=0)
        assert info["state_key"] == (1, 1, 0)
        _, _, _, _, info = env.step(2)  # forward
        assert info["state_key"] == (2, 1, 0)
        _, _, _, _, info = env.step(1)  # turn right -> facing down
        assert info["state_key"] == (2, 1, 1)
        assert env.memory.keys == [(1, 1, 0), (2, 1, 0), (2, 1, 1)]
        assert env.memory.frame_shape == (40, 40, 3)

    def test_stored_frame_is_the_rendered_screen(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        env.reset(seed=0)
        env.step(2)
        assert np.array_equal(env.memory.queue((2, 1, 0))[-1], env.unwrapped.render())

    def test_render_returns_frame_already_taken(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        env.reset(seed=0)
        env.step(2)
        assert np.array_equal(env.render(), env.memory.queue((2, 1, 0))[-1])

    def test_terminal_frame_is_stored(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        env.reset(seed=0)
        for action in [2, 2, 1, 2, 2]:  # forward x2, turn right, forward x2 -> goal (3, 3)
            _, reward, terminated, _, info = env.step(action)
        assert terminated and reward > 0
        assert info["state_key"] == (3, 3, 1)
        assert (3, 3, 1) in env.memory

    def test_step_passes_the_five_tuple_through(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        bare = minigrid_env()
        env.reset(seed=3)
        bare.reset(seed=3)
        for action in [2, 1, 2, 0]:
            wrapped = env.step(action)
            plain = bare.step(action)
            assert wrapped[1:4] == plain[1:4]
            assert np.array_equal(wrapped[0]["image"], plain[0]["image"])

    def test_shared_memory_between_envs(self):
        memory = ShortTermMemory(5)
        a = MemoryWrapper(minigrid_env(), memory=memory)
        b = MemoryWrapper(minigrid_env(), memory=memory)
        a.reset(seed=0)
        b.reset(seed=0)
        assert memory.counts() == {(1, 1, 0): 2}

    def test_discrete_observation_keys(self):
        env = MemoryWrapper(gym.make("FrozenLake-v1", render_mode="rgb_array"), capacity=3)
        _, info = env.reset(seed=0)
        assert info["state_key"] == 0 and type(info["state_key"]) is int
        assert env.memory.keys == [0]

    def test_image_observation_as_frame(self):
        base = minigrid.wrappers.ImgObsWrapper(minigrid_env())
        env = MemoryWrapper(
            base, key_fn=lambda e, obs, info: tuple(e.unwrapped.agent_pos), frame="observation"
        )
        obs, _ = env.reset(seed=0)
        assert env.memory.frame_shape == obs.shape == (7, 7, 3)

    def test_custom_key_fn(self):
        env = MemoryWrapper(minigrid_env(), key_fn=lambda e, obs, info: int(obs["direction"]))
        env.reset(seed=0)
        env.step(1)
        assert env.memory.keys == [0, 1]

    def test_get_wrapper_attr_reaches_memory_of_rewrapped_env(self):
        env = gym.wrappers.TimeLimit(MemoryWrapper(minigrid_env(), capacity=4), 50)
        env.reset(seed=0)
        assert len(env.get_wrapper_attr("memory")) == 1

    def test_passes_check_env(self):
        env = MemoryWrapper(minigrid_env(), capacity=10)
        check_env(env, skip_render_check=False)
        assert env.metadata["render_modes"] == ["rgb_array"]


class TestConfiguration:
    def test_needs_rgb_array_render_mode(self):
        with pytest.raises(EnvCompatibilityError, match="render_mode='rgb_array'"):
            MemoryWrapper(gym.make("MiniGrid-Empty-5x5-v0"))

    def test_explicit_render_without_render_mode(self):
        with pytest.raises(EnvCompatibilityError, match="render_mode='rgb_array'"):
            MemoryWrapper(gym.make("FrozenLake-v1"), frame="render")

    def test_no_default_key_tells_to_pass_key_fn(self):
        # every pixel env falls back to the cell key; without that adapter none names the state
        from man_rl.env.adapter import register_adapter, unregister_adapter
        from man_rl.envs import CellAdapter

        class NoCells(CellAdapter):
            def matches(self, env):
                return False

        env = gym.make("CartPole-v1", render_mode="rgb_array")
        register_adapter(NoCells())
        try:
            with pytest.raises(EnvCompatibilityError, match="key_fn"):
                MemoryWrapper(env)
        finally:
            unregister_adapter("cells")

    def test_key_fn_makes_any_env_work(self):
        env = gym.make("CartPole-v1", render_mode="rgb_array")
        env = MemoryWrapper(env, key_fn=lambda e, obs, info: int(obs[0] > 0), capacity=2)
        env.reset(seed=0)
        assert len(env.memory) == 1

    def test_unknown_frame_source(self):
        with pytest.raises(InvalidValueError, match="frame must be"):
            MemoryWrapper(minigrid_env(), frame="pixels")

    def test_capacity_and_memory_conflict(self):
        with pytest.raises(InvalidValueError, match="pass only one"):
            MemoryWrapper(minigrid_env(), capacity=3, memory=ShortTermMemory(5))

    def test_memory_must_be_a_short_term_memory(self):
        with pytest.raises(InvalidValueError, match="ShortTermMemory"):
            MemoryWrapper(minigrid_env(), memory={"not": "memory"})

    def test_non_callable_key_fn(self):
        with pytest.raises(InvalidValueError, match="callable"):
            MemoryWrapper(minigrid_env(), key_fn=3)

    def test_unhashable_key_from_key_fn(self):
        env = MemoryWrapper(minigrid_env(), key_fn=lambda e, obs, info: [1, 2])
        with pytest.raises(TypeError, match="hashable"):
            env.reset(seed=0)

    def test_large_worst_case_warns_on_first_frame(self):
        env = MemoryWrapper(minigrid_env(), capacity=10**9)
        with pytest.warns(ResourceWarning, match="GiB"):
            env.reset(seed=0)
