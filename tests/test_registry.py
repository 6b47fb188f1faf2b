"""Parts users add: one registration mechanism (env adapters, model types, eviction
policies, saved and loaded by name), and protocols that declare what the code calls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import InvalidValueError, NotRegisteredError
from man_rl.io.bundle import read_bundle, write_bundle
from man_rl.ltm import TypeA, TypeB, register_model_type
from man_rl.ltm.checkpoint import FILE_KIND, MODEL_TYPES, model_types
from man_rl.registry import Registry
from man_rl.stm import FIFO, register_eviction
from man_rl.stm.eviction import EVICTIONS


class KeepFirst(FIFO):
    """A full queue keeps its first frames and drops new ones."""

    name = "keep-first-test"

    def position(self, size, seen, capacity, rng):
        return size if size < capacity else -1

    def oldest(self, size, seen, capacity):
        return 0

    def consistent(self, sizes, seen, capacity):
        return bool(np.all(sizes <= np.minimum(seen, capacity)))


@pytest.fixture
def keep_first():
    register_eviction(KeepFirst)
    yield KeepFirst
    EVICTIONS.unregister(KeepFirst.name)


def filled(eviction) -> ShortTermMemory:
    memory = ShortTermMemory(capacity=2, eviction=eviction)
    for value in range(5):
        memory.add("a", np.full((3, 3), value, np.uint8))
    return memory


def test_a_registered_eviction_saves_and_loads_by_name(tmp_path, keep_first):
    memory = filled("keep-first-test")
    assert memory.queue("a")[:, 0, 0].tolist() == [0, 1]  # the policy ran
    memory.save(tmp_path / "m.manrl")
    loaded = ShortTermMemory.load(tmp_path / "m.manrl")
    assert loaded.eviction == "keep-first-test"
    loaded.add("a", np.full((3, 3), 9, np.uint8))
    assert loaded.queue("a")[:, 0, 0].tolist() == [0, 1]  # and runs again after loading
    assert filled(KeepFirst()).queue("a")[:, 0, 0].tolist() == [0, 1]  # an instance too


def test_a_memory_saved_with_a_policy_not_registered_here_says_how_to_open_it(
    tmp_path, keep_first, capsys
):
    filled("keep-first-test").save(tmp_path / "m.manrl")
    EVICTIONS.unregister("keep-first-test")
    with pytest.raises(NotRegisteredError, match=r"register_eviction\(PolicyClass\)"):
        ShortTermMemory.load(tmp_path / "m.manrl")
    assert main(["info", str(tmp_path / "m.manrl")]) != 0  # the CLI: one line, no traceback
    err = capsys.readouterr().err
    assert "keep-first-test" in err and "Traceback" not in err


def test_an_unregistered_policy_is_refused_before_anything_is_saved():
    class Unnamed(KeepFirst):
        name = "never-registered"

    with pytest.raises(InvalidValueError, match="register its class first"):
        ShortTermMemory(capacity=2, eviction=Unnamed())
    with pytest.raises(InvalidValueError, match="never-registered"):
        ShortTermMemory(capacity=2, eviction="never-registered")


def test_a_policy_class_must_declare_what_the_memory_calls():
    class NoDraws:
        name = "no-draws"

        def position(self, size, seen, capacity, rng): ...
        def oldest(self, size, seen, capacity): ...
        def consistent(self, sizes, seen, capacity): ...
        def merge(self, mine, theirs, their_policy, capacity, rng): ...

    with pytest.raises(InvalidValueError, match=r"lacks \['draws'\]"):
        register_eviction(NoDraws)
    assert "no-draws" not in EVICTIONS


def test_model_types_are_registered_by_kind_and_an_unknown_one_says_how_to_register(tmp_path):
    assert model_types() == {"A": TypeA, "B": TypeB}
    model = TypeA(["a", "b"], (4, 4), seed=0, hidden_dim=8)
    model.save(tmp_path / "a.manrl")

    @register_model_type
    class TypeZ(TypeA):
        kind = "Z"

    try:
        assert MODEL_TYPES.get("Z") is TypeZ and TypeZ(["a", "b"], (4, 4), seed=0).kind == "Z"
    finally:
        MODEL_TYPES.unregister("Z")
    forged = tmp_path / "z.manrl"
    bundle = read_bundle(tmp_path / "a.manrl", FILE_KIND)
    write_bundle(forged, FILE_KIND, {**bundle.meta, "model_type": "Z"}, dict(bundle.arrays))
    with pytest.raises(NotRegisteredError, match="register_model_type"):
        TypeA.load(forged)
    json.dumps(model_types(), default=str)  # plain data


def test_the_newest_registration_is_asked_first_and_replaces_its_name():
    parts = Registry("part")
    parts.register("x", 1)
    parts.register("y", 2)
    parts.register("x", 3)
    assert parts.items() == [("x", 3), ("y", 2)] and parts.get("x") == 3
    parts.unregister("x")
    assert parts.names() == ["y"] and "x" not in parts
    with pytest.raises(InvalidValueError, match="non-empty str"):
        parts.register("", 4)


def test_a_sampler_of_ones_own_needs_only_draw():
    class SecondKeyOnly:
        def draw(self, sizes, batch, rng):
            return np.ones(batch, np.int64), np.zeros(batch, np.int64)

    memory = ShortTermMemory(capacity=2)
    memory.add("a", np.zeros((2, 2), np.uint8))
    memory.add("b", np.full((2, 2), 7, np.uint8))
    for _ in range(3):  # batches one at a time, no plan ahead to go stale
        frames, labels = memory.sample(4, sampler=SecondKeyOnly())
        assert labels.tolist() == [1] * 4 and int(frames.max()) == 7
    with pytest.raises(TypeError, match="draw"):
        memory.sample(4, sampler=object())
