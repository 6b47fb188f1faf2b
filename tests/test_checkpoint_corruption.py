"""Damaged checkpoints are refused (or load exactly): the container's checks, end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from man_rl import ShortTermMemory, TypeB
from man_rl.errors import CorruptFileError
from man_rl.ltm import load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    memory = ShortTermMemory(4)
    for key, level in [("dark", 20), ("light", 230)]:
        memory.add(key, np.full((6, 5), level, np.uint8))
    model = TypeB.for_memory(memory, seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "model.manrl"
    model.save(path)
    return path, path.read_bytes(), model.state_dict()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["flip", "truncate", "extend"]),
    where=st.integers(0, 10**9),
    bit=st.integers(0, 7),
)
def test_damaged_checkpoint_is_refused_or_loads_exactly(saved, tmp_path, kind, where, bit):
    _, original, state = saved
    data = bytearray(original)
    if kind == "flip":
        data[where % len(data)] ^= 1 << bit
    elif kind == "truncate":
        data = data[: where % len(data)]
    else:
        data += b"\0" * (1 + where % 64)
    damaged = tmp_path / "damaged.manrl"
    damaged.write_bytes(bytes(data))
    try:
        model = load_model(damaged)
    except CorruptFileError as err:
        assert "damaged.manrl" in str(err)
    else:
        loaded = model.state_dict()
        assert all(torch.equal(loaded[name], state[name]) for name in state)
