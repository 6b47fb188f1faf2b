"""Tests of MemoryCallback: an SB3 agent learns while its memory grows, seen in TensorBoard."""

from __future__ import annotations

import gymnasium as gym
import minigrid  # noqa: F401
import pytest
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from man_rl import MemoryWrapper, ShortTermMemory
from man_rl.errors import InvalidValueError
from man_rl.integrations.sb3 import MemoryCallback, find_memory
from man_rl.integrations.trainer import MemoryTrainer


def minigrid_env(memory=None):
    env = gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=4)
    capacity = None if memory is not None else 10
    return ImgObsWrapper(MemoryWrapper(env, capacity=capacity, memory=memory))


def test_a_ppo_run_writes_the_memory_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    env = minigrid_env()
    seen = []
    callback = MemoryCallback(
        every=64,
        on_update=seen.append,
        model="A",
        steps=3,
        judge_every=2,
        judge_steps=20,
        seed=0,
        device="cpu",
    )
    agent = PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
        tensorboard_log=str(tmp_path),
    )
    agent.learn(256, callback=callback)
    env.close()
    assert callback.trainer.memory is env.get_wrapper_attr("memory")
    (run,) = tmp_path.iterdir()
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"memory/states_known", "memory/loss", "memory/kl", "memory/judge_accuracy"} <= set(
        tags["scalars"]
    )
    assert "time/fps" in tags["scalars"]  # the agent's own entries are still written
    known = events.Scalars("memory/states_known")
    assert [e.step for e in known] == [64, 128, 192, 256]
    assert seen == callback.updates and [u.env_steps for u in seen] == [64, 128, 192, 256]
    assert [e.value for e in known] == [u.scalars["memory/states_known"] for u in seen]
    assert known[-1].value == env.get_wrapper_attr("memory").num_keys
    assert [e.step for e in events.Scalars("memory/judge_accuracy")] == [64, 192]
    assert tags["images"] == ["memory/recall_grid"]
    images = events.Images("memory/recall_grid")
    assert [e.step for e in images] == [64, 192]
    assert images[0].width > 50 and images[0].height > 50
    assert images[0].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_memory_is_found_in_a_dummy_vec_env_or_the_error_says_what_to_do():
    shared = ShortTermMemory(capacity=5)
    vec = DummyVecEnv([lambda: minigrid_env(shared), lambda: minigrid_env(shared)])
    assert find_memory(vec) is shared
    vec.close()
    apart = DummyVecEnv([minigrid_env, minigrid_env])
    with pytest.raises(InvalidValueError, match="2 different memories"):
        find_memory(apart)
    apart.close()
    bare = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    with pytest.raises(InvalidValueError, match="no MemoryWrapper"):
        find_memory(bare)
    bare.close()

    class NotDummy:
        unwrapped = object()

    with pytest.raises(InvalidValueError, match="other processes"):
        find_memory(NotDummy())


def test_a_callback_takes_a_trainer_or_the_options_to_build_one():
    trainer = MemoryTrainer(ShortTermMemory(capacity=2), "A")
    assert MemoryCallback(trainer).trainer is trainer
    with pytest.raises(InvalidValueError, match="trainer"):
        MemoryCallback(trainer, steps=3)
    with pytest.raises(InvalidValueError, match="every"):
        MemoryCallback(every=0)
    with pytest.raises(InvalidValueError, match="on_update"):
        MemoryCallback(on_update="print")
