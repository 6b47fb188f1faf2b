"""Tests of man_rl.agents: Q-tables, DQN adapter, pretrained files, make_policy, no pickle."""

from __future__ import annotations

import base64
import contextlib
import json
import pickle
import shutil
import zipfile
from collections import deque
from pathlib import Path

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest

from man_rl.agents import (
    AgentPolicy,
    QTableAgent,
    evaluate,
    load_agent,
    make_policy,
    pretrained_envs,
    pretrained_path,
    random_policy,
    zoo,
)
from man_rl.collection import collect, epsilon_greedy
from man_rl.env.wrapper import MemoryWrapper
from man_rl.envs import EMPTY_4X4_ID, minigrid_key, reachable_states, register_envs
from man_rl.errors import (
    CorruptFileError,
    EnvCompatibilityError,
    InvalidValueError,
    UnsupportedVersionError,
)

register_envs()
EMPTY_5X5 = "MiniGrid-Empty-5x5-v0"


def shortest_path_length(env_id: str) -> int:
    """Breadth-first search over the real env's dynamics: fewest actions from start to goal."""
    env = gym.make(env_id)
    env.reset(seed=0)
    base = env.unwrapped
    start = minigrid_key(env)
    dist, queue = {start: 0}, deque([start])
    while queue:
        key = queue.popleft()
        for action in (0, 1, 2):
            base.agent_pos, base.agent_dir, base.step_count = key[:2], key[2], 0
            _, reward, terminated, _, _ = base.step(action)
            if terminated and reward > 0:
                return dist[key] + 1
            nxt = minigrid_key(env)
            if nxt not in dist:
                dist[nxt] = dist[key] + 1
                queue.append(nxt)
    raise AssertionError("goal unreachable")


def run_collect(env_id: str, agent: str, epsilon: float, steps: int, seed: int = 0):
    env = MemoryWrapper(gym.make(env_id, render_mode="rgb_array", tile_size=4), capacity=2)
    policy = make_policy(agent, env, seed=seed)
    rng = np.random.default_rng(seed)
    result = collect(env, epsilon_greedy(policy, env.action_space, epsilon, rng), steps, seed=seed)
    return env, result


# --- the Done-when behaviours --------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "path"),
    [
        (EMPTY_5X5, [(1, 1, 0), (2, 1, 0), (3, 1, 0), (3, 1, 1), (3, 2, 1), (3, 3, 1)]),
        (EMPTY_4X4_ID, [(1, 1, 0), (2, 1, 0), (2, 1, 1), (2, 2, 1)]),
    ],
)
def test_pretrained_greedy_visits_only_the_shortest_path(env_id, path):
    steps = 5000 if env_id == EMPTY_5X5 else 1000
    env, result = run_collect(env_id, "pretrained", epsilon=0.0, steps=steps)
    assert len(path) - 1 == shortest_path_length(env_id)
    assert set(env.memory.keys) == set(path)
    assert env.memory.keys == path  # first-seen order is the path's order
    assert result.episodes == steps // (len(path) - 1)
    assert all(r > 0 for r in result.returns)


def test_random_agent_covers_every_reachable_state_in_5000_steps():
    env, _ = run_collect(EMPTY_5X5, "random", epsilon=1.0, steps=5000)
    assert set(env.memory.keys) == set(reachable_states(EMPTY_5X5))
    assert env.memory.num_keys == 34


def test_manifest_records_every_shipped_file_and_its_success_rate():
    manifest = zoo.read_manifest()
    assert set(manifest["files"]) == {r.filename for r in zoo.RECIPES}
    for recipe in zoo.RECIPES:
        entry = manifest["files"][recipe.filename]
        assert entry["sha256"] == zoo.sha256_of(zoo.PRETRAINED_DIR / recipe.filename)
        assert (entry["env_id"], entry["kind"], entry["seed"]) == (
            recipe.env_id,
            recipe.kind,
            recipe.seed,
        )
        assert recipe.filename in entry["command"] and "train_pretrained.py" in entry["command"]
        assert entry["success_rate"] == 1.0
        env = gym.make(recipe.env_id)
        measured = evaluate(make_policy(f"pretrained:{recipe.kind}", env), env, episodes=5)
        assert measured.success_rate == entry["success_rate"]
        assert measured.mean_length == entry["mean_episode_length"]


# --- QTableAgent ---------------------------------------------------------------------------


def test_qtable_act_update_and_ties():
    agent = QTableAgent(4)
    assert agent.act("unseen") == 0
    assert agent.q_values("unseen").tolist() == [0.0] * 4
    agent.update("s", 3, 1.0, "t", alpha=0.5, gamma=0.9)
    agent.update("s", 1, 1.0, None, alpha=0.5, gamma=0.9)
    assert agent.act("s") == 1  # tie between 1 and 3: lowest index
    agent.update("t", 0, 2.0, None, alpha=1.0, gamma=0.9)
    agent.update("s", 2, 0.0, "t", alpha=1.0, gamma=0.9)  # bootstraps 0.9 * 2.0
    assert agent.act("s") == 2 and agent.q_values("s")[2] == pytest.approx(1.8)
    assert agent.keys == ["s", "t"] and agent.q.shape == (2, 4)
    with pytest.raises(ValueError):
        agent.q[0, 0] = 1.0


def test_qtable_epsilon_greedy_uses_the_injected_generator():
    agent = QTableAgent(3)
    draws = [agent.act("s", epsilon=1.0, rng=np.random.default_rng(7)) for _ in range(3)]
    assert len(set(draws)) == 1
    rng = np.random.default_rng(0)
    assert {agent.act("s", epsilon=1.0, rng=rng) for _ in range(60)} == {0, 1, 2}
    with pytest.raises(InvalidValueError, match="rng"):
        agent.act("s", epsilon=0.5)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3"])
def test_qtable_rejects_bad_action_counts(bad):
    with pytest.raises(InvalidValueError, match="n_actions"):
        QTableAgent(bad)


def test_qtable_train_is_reproducible_and_learns_the_shortest_path():
    def trained(seed):
        env = gym.make(EMPTY_4X4_ID)
        agent = QTableAgent.for_env(env)
        result = agent.train(env, episodes=200, seed=seed)
        return agent, result

    first, result = trained(1)
    second, _ = trained(1)
    np.testing.assert_array_equal(first.q, second.q)
    assert first.keys == second.keys
    assert result.episodes == 200 and result.steps > 200 and result.final_epsilon == 0.05
    env = gym.make(EMPTY_4X4_ID)
    assert evaluate(first.policy(env), env, episodes=2).mean_length == 3


def test_qtable_train_with_steps_budget_memory_wrapper_and_key_fn():
    env = MemoryWrapper(gym.make(EMPTY_4X4_ID, render_mode="rgb_array", tile_size=4), capacity=1)
    agent = QTableAgent.for_env(env)
    assert agent.train(env, steps=50, seed=0).steps == 50
    assert set(agent.keys) <= set(env.memory.keys)

    custom = QTableAgent(7)
    plain = gym.make(EMPTY_4X4_ID)
    custom.train(plain, steps=30, seed=0, key_fn=lambda e, o, i: ("pos", *e.unwrapped.agent_pos))
    assert all(key[0] == "pos" and len(key) == 3 for key in custom.keys)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "episodes=N or steps=N"),
        ({"episodes": 0}, "episodes must be"),
        ({"steps": -1}, "steps must be"),
        ({"episodes": 5, "alpha": 1.5}, "alpha"),
        ({"episodes": 5, "gamma": -0.1}, "gamma"),
        ({"episodes": 5, "epsilon": (1.0, 0.1, 0.0)}, "epsilon"),
        ({"episodes": 5, "epsilon": 2.0}, "epsilon"),
    ],
)
def test_qtable_train_rejects_bad_settings(kwargs, match):
    env = gym.make(EMPTY_4X4_ID)
    with pytest.raises(InvalidValueError, match=match):
        QTableAgent.for_env(env).train(env, **kwargs)


def test_qtable_for_env_needs_discrete_actions():
    with pytest.raises(InvalidValueError, match="Discrete"):
        QTableAgent.for_env(gym.make("MountainCarContinuous-v0"))


def test_qtable_save_load_round_trip(tmp_path):
    agent = QTableAgent(3, action_start=1, env_id="X-v0")
    for key, action in [((1, 2, 0), 1), ("room", 2), (7, 3), (("a", (1, 2)), 1), (None, 2)]:
        agent.update(key, action, 0.25, None, alpha=1.0, gamma=0.9)
    path = agent.save(tmp_path / "q.npz")
    loaded = QTableAgent.load(path)
    assert loaded.keys == agent.keys
    np.testing.assert_array_equal(loaded.q, agent.q)
    assert (loaded.n_actions, loaded.action_start, loaded.env_id) == (3, 1, "X-v0")
    assert loaded.act("room") == 2 and loaded.act(7) == 3
    with np.load(path, allow_pickle=False) as data:  # a plain npz, no pickle needed
        assert sorted(data.files) == ["meta", "q"]


def _write_npz(path: Path, **arrays) -> Path:
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_qtable_load_refuses_pickle_bearing_files(tmp_path):
    saved = QTableAgent(2).save(tmp_path / "good.npz")
    with np.load(saved, allow_pickle=False) as data:
        meta = np.array(data["meta"])
    objects = _write_npz(tmp_path / "obj.npz", q=np.array([[object()]], dtype=object), meta=meta)
    with pytest.raises(CorruptFileError, match="pickle"):
        QTableAgent.load(objects)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"q": [1.0]}))
    with pytest.raises(CorruptFileError, match=str(raw)):
        QTableAgent.load(raw)
    with pytest.raises(CorruptFileError):
        load_agent(raw)


def test_qtable_load_refuses_damaged_and_foreign_files(tmp_path):
    agent = QTableAgent(3)
    agent.update((1, 1, 0), 2, 1.0, None, alpha=1.0, gamma=0.9)
    path = agent.save(tmp_path / "q.npz")
    data = path.read_bytes()
    (tmp_path / "short.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"short\.npz"):
        QTableAgent.load(tmp_path / "short.npz")
    with np.load(path, allow_pickle=False) as arrays:
        q, meta = np.array(arrays["q"]), np.array(arrays["meta"])
    tampered = _write_npz(tmp_path / "tampered.npz", q=q + 1.0, meta=meta)
    with pytest.raises(CorruptFileError, match="checksum"):
        QTableAgent.load(tampered)
    wrong_dtype = _write_npz(tmp_path / "f32.npz", q=q.astype(np.float32), meta=meta)
    with pytest.raises(CorruptFileError, match="dtype"):
        QTableAgent.load(wrong_dtype)
    extra = _write_npz(tmp_path / "extra.npz", q=q, meta=meta, other=q)
    with pytest.raises(CorruptFileError, match="expected"):
        QTableAgent.load(extra)
    newer = json.loads(meta.tobytes())
    newer["version"] = 99
    future = _write_npz(
        tmp_path / "future.npz",
        q=q,
        meta=np.frombuffer(json.dumps(newer).encode(), dtype=np.uint8),
    )
    with pytest.raises(UnsupportedVersionError, match="newer"):
        QTableAgent.load(future)
    with pytest.raises(FileNotFoundError):
        QTableAgent.load(tmp_path / "missing.npz")


def test_qtable_load_checks_declared_shapes_before_reading(tmp_path):
    path = QTableAgent(2).save(tmp_path / "q.npz")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = members["q.npy"]
    old, new = b"'shape': (0, 2), }", b"'shape': (9999999999999, 2), }"
    forged = header.replace(old, new).replace(b" " * (len(new) - len(old)) + b"\n", b"\n", 1)
    assert len(forged) == len(header) and new in forged  # a valid header asking for 149 TB
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:
        archive.writestr("q.npy", forged)
        archive.writestr("meta.npy", members["meta.npy"])
    with pytest.raises(CorruptFileError, match="declares"):
        QTableAgent.load(tmp_path / "forged.npz")


# --- pretrained files and make_policy --------------------------------------------------------


def test_pretrained_files_are_verified_against_the_manifest(tmp_path, monkeypatch):
    shutil.copytree(zoo.PRETRAINED_DIR, tmp_path / "pretrained")
    folder = tmp_path / "pretrained"
    name = zoo.find_recipe(EMPTY_5X5).filename
    assert zoo.verified_file(name, folder) == folder / name
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    monkeypatch.setattr(zoo, "PRETRAINED_DIR", folder)
    with pytest.raises(CorruptFileError, match="SHA-256"):
        make_policy("pretrained", gym.make(EMPTY_5X5))
    (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match="train_pretrained"):
        pretrained_path(EMPTY_5X5)


def test_make_policy_names_and_errors(tmp_path):
    env = gym.make(EMPTY_5X5)
    assert pretrained_envs() == [EMPTY_5X5, EMPTY_4X4_ID]
    assert "tabular" in make_policy("pretrained", env).description
    assert "dqn" in make_policy("pretrained:dqn", env).description
    with pytest.raises(InvalidValueError, match="MiniGrid-Empty-5x5-v0, ManRL/Empty-4x4-v0"):
        make_policy("pretrained", gym.make("CartPole-v1"))
    with pytest.raises(InvalidValueError, match="pretrained dqn agent"):
        make_policy("pretrained:dqn", gym.make(EMPTY_4X4_ID))
    with pytest.raises(InvalidValueError, match="kind"):
        make_policy("pretrained:ppo", env)
    with pytest.raises(FileNotFoundError, match="not 'pretrained', 'random'"):
        make_policy(str(tmp_path / "nope.npz"), env)
    with pytest.raises(InvalidValueError, match="string or path"):
        make_policy(3, env)
    (tmp_path / "junk.bin").write_bytes(b"junk")
    with pytest.raises(InvalidValueError, match="neither"):
        make_policy(str(tmp_path / "junk.bin"), env)
    # a 4x4 agent refuses the 5x5 env
    with pytest.raises(EnvCompatibilityError, match="trained on ManRL/Empty-4x4-v0"):
        make_policy(str(pretrained_path(EMPTY_4X4_ID)), env)


def test_make_policy_from_saved_files(tmp_path):
    env = gym.make(EMPTY_4X4_ID)
    agent = QTableAgent.for_env(env)
    agent.train(env, episodes=200, seed=0)
    path = agent.save(tmp_path / "agent.bin")  # content sniffed without the suffix
    policy = make_policy(str(path), env)
    assert isinstance(policy, AgentPolicy) and str(path) in policy.description
    assert evaluate(policy, env, episodes=2).success_rate == 1.0


def test_random_policy_is_seeded_and_needs_discrete_actions():
    env = gym.make(EMPTY_5X5)
    a, b = make_policy("random", env, seed=3), make_policy("random", env, seed=3)
    actions = [a(None, {}) for _ in range(40)]
    assert actions == [b(None, {}) for _ in range(40)]
    assert set(actions) == set(range(7))
    with pytest.raises(EnvCompatibilityError, match="Discrete"):
        random_policy(gym.spaces.Box(0, 1, (2,)), np.random.default_rng(0))


def test_tabular_policy_key_sources():
    agent = QTableAgent.load(pretrained_path(EMPTY_5X5))
    assert agent.policy()(None, {"state_key": (3, 1, 0)}) == 1  # turn right, towards the goal
    with pytest.raises(InvalidValueError, match="state_key"):
        agent.policy()(None, {})
    env = gym.make(EMPTY_5X5)
    obs, info = env.reset(seed=0)
    assert agent.policy(env)(obs, info) == 2


def test_evaluate_validates_and_caps_episodes():
    env = gym.make(EMPTY_5X5)
    with pytest.raises(InvalidValueError, match="episodes"):
        evaluate(lambda o, i: 0, env, episodes=0)
    capped = evaluate(lambda o, i: 0, env, episodes=1, max_steps=7)
    assert capped.mean_length == 7 and capped.success_rate == 0.0


# --- DQN adapter ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dqn():
    from man_rl.agents import DQNAgent

    return DQNAgent.train(gym.make(EMPTY_5X5), steps=120, seed=0, learning_starts=40)


def _all_features(width=5, height=5):
    from man_rl.agents import position_features

    env = gym.make(EMPTY_5X5)
    env.reset(seed=0)
    out = []
    for x, y, d in reachable_states(env):
        env.unwrapped.agent_pos, env.unwrapped.agent_dir = (x, y), d
        out.append(position_features(env))
    return np.stack(out)


def test_position_observation():
    from man_rl.agents import PositionObservation

    env = PositionObservation(gym.make(EMPTY_5X5))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(2)
    assert obs.nonzero()[0].tolist() == [2, 6, 10]
    with pytest.raises(EnvCompatibilityError, match="MiniGrid"):
        PositionObservation(gym.make("CartPole-v1"))


def test_dqn_save_load_round_trip(tiny_dqn, tmp_path):
    from man_rl.agents import DQNAgent

    path = tiny_dqn.save(tmp_path / "dqn.zip")
    loaded = DQNAgent.load(path)
    features = _all_features()
    assert [tiny_dqn.act(f) for f in features] == [loaded.act(f) for f in features]
    assert (loaded.width, loaded.height, loaded.env_id) == (5, 5, EMPTY_5X5)
    assert loaded.training["steps"] == 120
    assert make_policy(str(path), gym.make(EMPTY_5X5)).description == f"agent {path}"
    with pytest.raises(EnvCompatibilityError, match="5 x 5"):
        loaded.policy(gym.make(EMPTY_4X4_ID))


class _Payload:
    """Unpickling this touches a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _rewrite_zip(path: Path, out: Path, edit_data) -> None:
    from man_rl.agents.dqn import META_NAME, _members_digest

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    edit_data(data)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            if name != META_NAME:
                archive.writestr(name, content)
    with zipfile.ZipFile(out, "a") as archive:  # an attacker can recompute our checksum
        meta = json.loads(members[META_NAME])
        meta["sha256"] = _members_digest(archive)
        archive.writestr(META_NAME, json.dumps(meta))


def test_dqn_load_never_runs_serialized_entries(tiny_dqn, tmp_path, monkeypatch):
    from stable_baselines3 import DQN

    from man_rl.agents import DQNAgent

    marker = tmp_path / "pwned"
    payload = {":type:": "x", ":serialized:": base64.b64encode(pickle.dumps(_Payload(marker)))}
    payload[":serialized:"] = payload[":serialized:"].decode()

    def poison(data):
        data["observation_space"] = payload
        data["lr_schedule"] = payload
        data["brand_new_attribute"] = payload

    good = tiny_dqn.save(tmp_path / "good.zip")
    evil = tmp_path / "evil.zip"
    _rewrite_zip(good, evil, poison)

    with contextlib.suppress(Exception):
        DQN.load(evil, device="cpu", buffer_size=1)  # SB3's plain load runs the payload ...
    assert marker.exists()
    marker.unlink()

    import cloudpickle
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    real_load = torch.load
    calls = []

    def spy_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(cloudpickle, "loads", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", spy_load)
    loaded = DQNAgent.load(evil)  # ... ours does not
    assert not marker.exists()
    assert calls and all(flag is True for flag in calls)
    assert loaded.model.observation_space.shape == (14,)
    assert getattr(loaded.model, "brand_new_attribute", None) is None


def test_dqn_load_refuses_damaged_and_foreign_files(tiny_dqn, tmp_path):
    from stable_baselines3 import DQN

    from man_rl.agents import DQNAgent

    good = tiny_dqn.save(tmp_path / "good.zip")
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, content in members.items():
            if name == "policy.pth":
                content = content[:-9] + bytes([content[-9] ^ 1]) + content[-8:]
            archive.writestr(name, content)
    with pytest.raises(CorruptFileError, match="checksum"):
        DQNAgent.load(tampered)

    plain = DQN("MlpPolicy", "CartPole-v1", device="cpu", buffer_size=10)
    plain.save(tmp_path / "plain.zip")
    with pytest.raises(CorruptFileError, match="only DQN files it wrote"):
        DQNAgent.load(tmp_path / "plain.zip")

    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as archive:
        for name, content in members.items():
            if name == "man_rl.json":
                meta = json.loads(content)
                meta["version"] = 99
                content = json.dumps(meta).encode()
            archive.writestr(name, content)
    with pytest.raises(UnsupportedVersionError):
        DQNAgent.load(newer)

    (tmp_path / "junk.zip").write_bytes(b"PK junk")
    with pytest.raises(CorruptFileError):
        DQNAgent.load(tmp_path / "junk.zip")


def test_pretrained_dqn_reaches_the_goal_by_the_shortest_path():
    env = gym.make(EMPTY_5X5)
    result = evaluate(make_policy("pretrained:dqn", env), env, episodes=3)
    assert result.success_rate == 1.0
    assert result.mean_length == shortest_path_length(EMPTY_5X5)
