"""Checkpoints written by older man_rl versions still load, and still behave the same.

``tests/data/golden_type_{a,b}_v1.manrl`` were written in checkpoint format 1 by
``tests/data/make_golden_checkpoints.py`` (which holds the recipes: memories, model options,
training), with ``golden_*_v1_recall.npy`` beside them: what ``recall(key, RECALL_N, seed=0)``
returned for each key. A change that breaks loading them fails here; never regenerate them
(see the script's docstring).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from man_rl.errors import CorruptFileError
from man_rl.io.bundle import read_bundle
from man_rl.ltm import TypeA, TypeB, load_model
from man_rl.ltm.checkpoint import FILE_KIND
from man_rl.ltm.training import TERMS

DATA = Path(__file__).parent / "data"

spec = importlib.util.spec_from_file_location(
    "make_golden_checkpoints", DATA / "make_golden_checkpoints.py"
)
golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden)

#: name -> (class, keys, frame shape) of each golden checkpoint, written out by hand.
GOLDEN = {
    "type_a": (TypeA, ["dark", ("room", 1), 7], (6, 5)),
    "type_b": (TypeB, [("room", 0), ("room", 1), "goal"], (8, 8, 3)),
}
VERSION = 1
CASES = [pytest.param(name, VERSION, id=f"{name}_v{VERSION}") for name in GOLDEN]


def golden_path(name: str, version: int) -> Path:
    return DATA / f"golden_{name}_v{version}.manrl"


def expected_recall(name: str, version: int) -> np.ndarray:
    return np.load(DATA / f"golden_{name}_v{version}_recall.npy", allow_pickle=False)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_golden_checkpoint_file_is_the_version_it_claims(name, version):
    bundle = read_bundle(golden_path(name, version), FILE_KIND)
    assert bundle.version == version
    assert bundle.meta["model_type"] == GOLDEN[name][0].kind


@pytest.mark.parametrize(("name", "version"), CASES)
def test_golden_checkpoint_still_loads(name, version):
    cls, keys, frame_shape = GOLDEN[name]
    _, make_memory, options, fit_options = golden.RECIPES[name]
    model = cls.load(golden_path(name, version))
    assert type(model) is cls
    assert type(load_model(golden_path(name, version))) is cls
    assert model.keys == keys and model.keys == make_memory().keys
    assert [type(key) for key in model.keys] == [type(key) for key in keys]
    assert model.frame_shape == frame_shape
    for option, value in options.items():
        assert getattr(model.config, option) == value, option
    assert model.device == torch.device("cpu")
    assert all(torch.isfinite(p).all() for p in model.parameters())

    state = model.training_state
    steps = fit_options["steps"]
    assert state.step == steps
    assert state.history["step"] == [float(s) for s in range(1, steps + 1)]
    for term in TERMS:
        assert len(state.history[term]) == steps
        assert all(math.isfinite(v) for v in state.history[term])
    assert state.history["loss"][-1] < state.history["loss"][0]  # it did train
    groups = state.optimizer.param_groups
    assert len(groups) == 1 and groups[0]["lr"] == fit_options["lr"]
    params = list(model.parameters())
    assert len(state.optimizer.state) == len(params)
    for param in params:
        moments = state.optimizer.state[param]
        assert float(moments["step"]) == steps
        assert moments["exp_avg"].shape == param.shape
        assert moments["exp_avg_sq"].shape == param.shape
        assert moments["exp_avg_sq"].abs().sum() > 0


@pytest.mark.parametrize(("name", "version"), CASES)
def test_golden_checkpoint_recalls_what_it_did(name, version):
    cls, keys, _ = GOLDEN[name]
    model = cls.load(golden_path(name, version))
    expected = expected_recall(name, version)
    assert expected.dtype == np.uint8
    assert expected.shape == (len(keys), golden.RECALL_N, *model.frame_shape)
    recalled = np.stack([model.recall(key, golden.RECALL_N, seed=0) for key in keys])
    # Equal, up to a grey level: float rounding may differ between CPUs and torch builds.
    diff = np.abs(recalled.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1, f"{np.count_nonzero(diff)} pixels differ, by up to {diff.max()}"
    # ... and each key recalls its own state: keys and weights still line up.
    memory = golden.RECIPES[name][1]()
    means = np.stack([memory.queue(key).mean(axis=0) for key in keys])
    for i in range(len(keys)):
        errors = np.abs(recalled[i].mean(axis=0) - means).reshape(len(keys), -1).mean(axis=1)
        assert errors.argmin() == i, errors


@pytest.mark.parametrize("version", [pytest.param(VERSION, id=f"type_b_v{VERSION}")])
def test_golden_type_b_checkpoint_recognizes_its_states(version):
    model = TypeB.load(golden_path("type_b", version))
    memory = golden.RECIPES["type_b"][1]()
    for key in model.keys:
        frames = memory.queue(key)
        assert model.recognize(frames) == [key] * len(frames)
    assert model.recognize(np.full((8, 8, 3), 128, np.uint8)) == [None]


@pytest.mark.parametrize(("name", "version"), CASES)
def test_golden_checkpoint_continues_training(name, version):
    cls, _, _ = GOLDEN[name]
    _, make_memory, _, fit_options = golden.RECIPES[name]
    steps = fit_options["steps"]
    memory = make_memory()
    runs = []
    for _ in range(2):
        model = cls.load(golden_path(name, version))
        before = [p.detach().clone() for p in model.parameters()]
        old = {term: list(values) for term, values in model.training_state.history.items()}
        history = model.fit(memory, 2, progress=False, device="cpu")
        assert model.training_state.step == steps + 2
        for term, values in history.items():
            assert len(values) == steps + 2
            assert values[:steps] == old[term]
            assert all(math.isfinite(v) for v in values)
        assert history["step"][-2:] == [steps + 1.0, steps + 2.0]
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
        runs.append((history, model.state_dict()))
    # The loaded batch sampler and noise generator carry on: both runs take the same steps.
    (history_1, weights_1), (history_2, weights_2) = runs
    assert history_1 == history_2
    assert all(torch.equal(weights_1[k], weights_2[k]) for k in weights_1)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_golden_checkpoint_damaged_or_of_the_other_type_is_refused(name, version, tmp_path):
    cls, _, _ = GOLDEN[name]
    other = TypeB if cls is TypeA else TypeA
    with pytest.raises(CorruptFileError, match=rf"load it with {cls.__name__}\.load"):
        other.load(golden_path(name, version))
    data = bytearray(golden_path(name, version).read_bytes())
    data[len(data) // 2] ^= 0x01  # a bit of the arrays (the optimizer's, as it happens)
    damaged = tmp_path / "damaged.manrl"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"damaged\.manrl"):
        cls.load(damaged)
