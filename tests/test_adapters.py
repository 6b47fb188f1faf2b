"""Env adapters: found through entry points, registered at run time, one broken one skipped."""

from __future__ import annotations

import gymnasium as gym
import pytest

from man_rl import registry as registry_module
from man_rl.env import adapter as adapter_module
from man_rl.env.adapter import adapter_for, adapters, register_adapter, unregister_adapter
from man_rl.errors import EnvCompatibilityError, InvalidValueError


class Parity:
    name, priority = "parity-test", 0

    def matches(self, env):
        return env.spec is not None and env.spec.id == "FrozenLake-v1"

    def key(self, env, obs, info):
        return int(obs) % 2

    def state_count(self, env):
        return 2

    def layout(self, env):
        return None

    def reachable_states(self, env):
        return [0, 1]


def test_installed_adapters_come_from_the_entry_points():
    names = [a.name for a in adapters()]
    assert {"minigrid", "discrete"} <= set(names)
    assert names.index("minigrid") < names.index("discrete")  # by priority


def test_a_registered_adapter_is_asked_first_and_can_be_removed():
    env = gym.make("FrozenLake-v1")
    assert adapter_for(env).name == "discrete"
    register_adapter(Parity())
    try:
        assert adapter_for(env).name == "parity-test"
    finally:
        unregister_adapter("parity-test")
    assert adapter_for(env).name == "discrete"


def test_what_is_not_an_adapter_is_refused():
    with pytest.raises(InvalidValueError, match="not an EnvAdapter"):
        register_adapter(object())


def test_an_env_no_adapter_understands_is_explained():
    env = gym.make("CartPole-v1")
    with pytest.raises(EnvCompatibilityError, match=r"no env adapter.*key_fn"):
        adapter_for(env)


def test_a_broken_entry_point_is_skipped_with_a_warning(monkeypatch):
    class Broken:
        name, value = "broken", "nowhere:Adapter"

        def load(self):
            raise ModuleNotFoundError("No module named 'nowhere'")

    class Fine:
        name, value = "parity", "tests:Parity"

        def load(self):
            return Parity

    monkeypatch.setattr(registry_module, "entry_points", lambda group: [Broken(), Fine()])
    adapter_module.ADAPTERS.forget_entry_points()
    try:
        with pytest.warns(RuntimeWarning, match="'broken'.*skipped"):
            found = adapters()
        assert [a.name for a in found] == ["parity-test"]
    finally:
        monkeypatch.undo()
        adapter_module.ADAPTERS.forget_entry_points()  # forget the fake ones
