"""Minari datasets made here with ``DataCollector`` (no download) into memories and back."""

from __future__ import annotations

import inspect
import sys

import gymnasium as gym
import numpy as np
import pytest

from man_rl import MemoryWrapper, ShortTermMemory
from man_rl.errors import InvalidTypeError, InvalidValueError

minari = pytest.importorskip("minari")  # the optional extra `minari` (in `test`)
# the datasets made here name no author, description, evaluation env...: Minari says so
pytestmark = pytest.mark.filterwarnings("ignore:.* is set to None:UserWarning")

from man_rl.integrations.minari import KEY_INFO, memory_from_minari, memory_to_minari  # noqa: E402


@pytest.fixture(autouse=True)
def datasets_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


def lossless(**kwargs):
    # newer Minari JPEG-encodes image observations unless told not to
    if "jpeg_encoding" in inspect.signature(minari.DataCollector.__init__).parameters:
        kwargs["jpeg_encoding"] = False
    return kwargs


def collect(env, wrapped, episodes=3, steps=15, seed=10):
    """Random episodes through ``wrapped`` (which wraps a DataCollector)."""
    wrapped.action_space.seed(seed)
    for episode in range(episodes):
        wrapped.reset(seed=seed + episode)
        for _ in range(steps):
            *_, terminated, truncated, _ = wrapped.step(wrapped.action_space.sample())
            if terminated or truncated:
                break


def same_memory(a: ShortTermMemory, b: ShortTermMemory) -> bool:
    return a.keys == b.keys and all(np.array_equal(a.queue(k), b.queue(k)) for k in a.keys)


def lake_dataset(dataset_id="man_rl/lake-v0"):
    """FrozenLake (Discrete observations) collected beside a MemoryWrapper of its renders."""
    collector = minari.DataCollector(gym.make("FrozenLake-v1", render_mode="rgb_array"))
    wrapped = MemoryWrapper(collector, capacity=100)
    collect(collector, wrapped)
    return collector.create_dataset(dataset_id), wrapped.memory


def pixel_dataset(dataset_id="man_rl/pixels-v0"):
    """MiniGrid with full-view RGB image observations, and the frames it recorded."""
    from minigrid.wrappers import ImgObsWrapper, RGBImgObsWrapper

    env = ImgObsWrapper(RGBImgObsWrapper(gym.make("MiniGrid-Empty-5x5-v0"), tile_size=4))
    collector = minari.DataCollector(env, **lossless())
    frames = []

    class Record(gym.Wrapper):
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            frames.append(obs)
            return obs, info

        def step(self, action):
            out = self.env.step(action)
            frames.append(out[0])
            return out

    collect(collector, Record(collector), episodes=2, steps=12)
    return collector.create_dataset(dataset_id), frames


def test_image_observations_become_a_memory_under_a_key_function():
    from man_rl.envs import CellKey

    dataset, frames = pixel_dataset()
    memory = memory_from_minari(dataset, key_fn=CellKey(), capacity=50)
    expected = ShortTermMemory(capacity=50)
    for frame in frames:
        expected.add(CellKey()(None, frame, {}), frame)
    assert len(memory) == len(frames) == dataset.total_steps + dataset.total_episodes
    assert same_memory(memory, expected)
    assert memory.frame_shape == (20, 20, 3)


def test_renders_of_the_recovered_env_replay_the_episodes():
    dataset, seen = lake_dataset()
    memory = memory_from_minari(dataset, frames="render", capacity=100)
    assert memory.counts() == seen.counts() and same_memory(memory, seen)
    assert all(isinstance(key, int) for key in memory.keys)  # the Discrete adapter's keys
    first = memory_from_minari(dataset, frames="render", episodes=[0], capacity=100)
    assert len(first) == len(next(dataset.iterate_episodes([0]))) + 1


def test_a_replay_that_drifts_from_the_recording_is_an_error():
    dataset, _ = lake_dataset()
    # the negative control: another env (not slippery) does not replay the recorded steps
    dataset.recover_environment = lambda **kw: gym.make("FrozenLake-v1", is_slippery=False, **kw)
    with pytest.raises(InvalidValueError, match="left the recorded observations"):
        memory_from_minari(dataset, frames="render")


def test_a_local_dataset_round_trips_into_a_memory_and_back():
    from man_rl.envs import CellKey

    dataset, _ = pixel_dataset()
    memory = memory_from_minari(dataset, key_fn=CellKey(), capacity=50)
    written = memory_to_minari(memory, "man_rl/memory-v0", frames_per_episode=7)
    assert written.total_episodes == -(-len(memory) // 7)
    assert written.total_steps + written.total_episodes == len(memory)
    loaded = minari.load_dataset("man_rl/memory-v0")
    back = memory_from_minari(loaded, capacity=50)  # keys from the state_key infos
    assert same_memory(back, memory)
    observations = np.concatenate([e.observations for e in loaded.iterate_episodes()])
    assert np.array_equal(observations, np.concatenate([memory.queue(k) for k in memory.keys]))
    episode = next(loaded.iterate_episodes())
    assert len(episode.infos[KEY_INFO]) == len(episode.observations)


def test_keys_of_every_kind_survive_the_trip():
    memory = ShortTermMemory(capacity=4)
    rng = np.random.default_rng(0)
    for key in [(1, "a", 2.5), "goal", 7, None, (True, (0, 1))]:
        for _ in range(2):
            memory.add(key, rng.integers(0, 255, (3, 5), dtype=np.uint8))
    memory_to_minari(memory, "keys-v0", env="FrozenLake-v1", frames_per_episode=3)
    back = memory_from_minari("keys-v0", capacity=4)
    assert same_memory(back, memory)
    assert minari.load_dataset("keys-v0").env_spec.id == "FrozenLake-v1"


def test_what_cannot_be_read_or_written_is_a_clear_error():
    dataset, _ = lake_dataset()
    with pytest.raises(InvalidTypeError, match="not uint8 images"):
        memory_from_minari(dataset, key_fn=lambda env, obs, info: 0)
    pixels, _ = pixel_dataset()
    with pytest.raises(InvalidValueError, match="no 'state_key' infos"):
        memory_from_minari(pixels)
    with pytest.raises(InvalidValueError, match="cannot be recovered"):
        memory_from_minari(pixels, frames="render")  # ImgObsWrapper cannot be rebuilt
    with pytest.raises(InvalidValueError, match="frames must be"):
        memory_from_minari(pixels, frames="rgb")
    with pytest.raises(FileNotFoundError, match="no local Minari dataset"):
        memory_from_minari("man_rl/nothing-v0")
    one = ShortTermMemory(capacity=2)
    one.add("a", np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidValueError, match="at least 2"):
        memory_to_minari(one, "one-v0")
    two = ShortTermMemory(capacity=2)
    two.add("a", np.zeros((2, 2), np.uint8))
    two.add("b", np.ones((2, 2), np.uint8))
    memory_to_minari(two, "two-v0")
    with pytest.raises(InvalidValueError, match="cannot create Minari dataset 'two-v0'"):
        memory_to_minari(two, "two-v0")


def test_without_minari_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(ImportError, match=r"man_rl\[minari\]"):
        memory_from_minari("man_rl/lake-v0")
