"""Tests of the shared fit loop (man_rl.ltm.training): continuing, determinism, keys, guards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import InvalidValueError, TrainingDivergedError, UnknownKeyError
from man_rl.ltm import TypeA, TypeB
from man_rl.ltm.training import DEFAULT_BATCH_SIZE, DEFAULT_LR, TERMS, fit

MODELS = [TypeA, TypeB]


def toy_memory(shape=(6, 5), keys=("dark", "mid", "light"), per_key=3, seed=0) -> ShortTermMemory:
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=10)
    for i, key in enumerate(keys):
        level = 20 + 200 * i / max(1, len(keys) - 1)
        for _ in range(per_key):
            stm.add(key, np.clip(level + rng.integers(0, 10, shape), 0, 255).astype(np.uint8))
    return stm


def same_weights(a, b) -> bool:
    wa, wb = a.state_dict(), b.state_dict()
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("cls", MODELS)
def test_construction_never_touches_the_global_rng(cls):
    stm = toy_memory()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    model = cls.for_memory(stm, seed=0)
    model.fit(stm, steps=2, seed=0, progress=False)
    model.recall("dark", n=2, seed=0)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("cls", MODELS)
def test_same_seed_gives_bit_identical_weights(cls):
    stm = toy_memory()
    a = cls.for_memory(stm, seed=1)
    b = cls.for_memory(stm, seed=1)
    assert same_weights(a, b)
    assert not same_weights(a, cls.for_memory(stm, seed=2))
    a.fit(stm, steps=5, seed=3, progress=False, device="cpu")
    b.fit(stm, steps=5, seed=3, progress=False, device="cpu")
    assert same_weights(a, b)
    c = cls.for_memory(stm, seed=1)
    c.fit(stm, steps=5, seed=4, progress=False, device="cpu")
    assert not same_weights(a, c)


@pytest.mark.parametrize("cls", MODELS)
def test_fit_continues_where_it_stopped(cls):
    stm = toy_memory()
    once = cls.for_memory(stm, seed=0)
    history = once.fit(stm, steps=6, seed=0, progress=False)
    twice = cls.for_memory(stm, seed=0)
    first = twice.fit(stm, steps=4, seed=0, progress=False)
    assert first["step"] == [1.0, 2.0, 3.0, 4.0]
    optimizer = twice.training_state.optimizer
    second = twice.fit(stm, steps=2, progress=False)
    assert twice.training_state.optimizer is optimizer  # the same Adam, moments and all
    assert second["step"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert second == history  # same batches, noise and moments as one uninterrupted run
    assert same_weights(once, twice)
    assert set(history) == {"step", *TERMS}  # every declared term, for either type
    assert json.loads(json.dumps(history)) == history


def test_a_checkpoint_resumes_with_the_batches_of_an_uninterrupted_run(tmp_path):
    # batches are drawn ahead in runs; the generator saved must be where the batches used
    # leave it, not where the run drawn ahead does
    stm = toy_memory()
    once = TypeB.for_memory(stm, seed=0)
    history = once.fit(stm, steps=12, seed=0, progress=False)
    first = TypeB.for_memory(stm, seed=0)
    first.fit(stm, steps=7, seed=0, progress=False)
    first.save(tmp_path / "b.manrl")
    resumed = TypeB.load(tmp_path / "b.manrl")
    assert resumed.fit(stm.copy(), steps=5, progress=False) == history
    assert same_weights(once, resumed)


def test_adam_is_fused_on_the_cpu_and_a_loop_checkpoint_resumes_fused(tmp_path):
    stm = toy_memory()
    model = TypeB.for_memory(stm, seed=0)
    model.fit(stm, steps=3, seed=0, progress=False, device="cpu")
    optimizer = model.training_state.optimizer
    assert [group["fused"] for group in optimizer.param_groups] == [True]
    fused_history = model.fit(stm, steps=3, progress=False)
    # the same run on torch's per-parameter loop: the same update, up to float rounding
    looped = TypeB.for_memory(stm, seed=0)
    looped.fit(stm, steps=3, seed=0, progress=False, device="cpu")
    looped.training_state.optimizer.param_groups[0]["fused"] = None
    looped.save(tmp_path / "loop.manrl")  # as a file written before fused Adam
    resumed = TypeB.load(tmp_path / "loop.manrl")
    assert resumed.training_state.optimizer.param_groups[0]["fused"] is True
    np.testing.assert_allclose(
        resumed.fit(stm, steps=3, progress=False)["loss"], fused_history["loss"], rtol=1e-4
    )


@pytest.mark.parametrize("cls", MODELS)
def test_fit_maps_memory_labels_to_model_indices_by_key(cls):
    shape = (4, 4)
    frames = {key: np.full(shape, level, np.uint8) for key, level in [("a", 10), ("b", 240)]}
    built = ShortTermMemory(capacity=2)
    for key in ("a", "b"):
        built.add(key, frames[key])
    reordered = ShortTermMemory(capacity=2)  # same keys, the other order: labels differ
    for key in ("b", "a"):
        reordered.add(key, frames[key])
    model = cls.for_memory(built, seed=0)
    model.fit(reordered, steps=80, lr=0.01, seed=0, progress=False)
    assert model.recall("a", n=4, seed=0).mean() < 60
    assert model.recall("b", n=4, seed=0).mean() > 190


@pytest.mark.parametrize("cls", MODELS)
def test_keys_added_after_the_model_was_built_are_reported_when_growth_is_off(cls):
    stm = toy_memory()
    model = cls.for_memory(stm, seed=0)
    stm.add("new state", np.zeros((6, 5), np.uint8))
    with pytest.raises(UnknownKeyError, match="'new state'") as info:
        model.fit(stm, steps=1, progress=False, grow=False)
    assert "grow=True" in str(info.value) and "for_memory" in str(info.value)
    assert model.training_state is None  # nothing was trained on mis-indexed labels
    assert "new state" not in model.keys


@pytest.mark.parametrize("cls", MODELS)
def test_fit_rejects_wrong_inputs(cls):
    stm = toy_memory()
    model = cls.for_memory(stm, seed=0)
    with pytest.raises(InvalidValueError, match="frames are"):
        model.fit(toy_memory(shape=(5, 6)), steps=1, progress=False)
    for bad in [{"steps": 0}, {"steps": 1, "batch_size": 0}, {"steps": 1, "lr": -1.0}]:
        with pytest.raises(InvalidValueError):
            model.fit(stm, progress=False, **bad)
    with pytest.raises(InvalidValueError, match="device"):
        model.fit(stm, steps=1, device="tpu", progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidValueError, match="CUDA"):
            model.fit(stm, steps=1, device="cuda", progress=False)


@pytest.mark.parametrize("cls", MODELS)
def test_divergence_stops_training_at_that_step(cls):
    stm = toy_memory()
    model = cls.for_memory(stm, seed=0)
    model.fit(stm, steps=2, seed=0, progress=False)
    with torch.no_grad():
        next(model.decoder.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"step 3\b.*lr") as info:
        model.fit(stm, steps=5, progress=False)
    assert "not finite" in str(info.value)
    assert model.training_state.step == 2
    assert len(model.training_state.history["loss"]) == 2


@pytest.mark.parametrize("cls", MODELS)
def test_too_high_learning_rate_is_caught_before_weights_go_bad(cls):
    stm = toy_memory()
    model = cls.for_memory(stm, seed=0)
    with pytest.raises(TrainingDivergedError, match="lr=1e\\+30"):
        model.fit(stm, steps=50, lr=1e30, seed=0, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_progress_bar_shows_the_loss_terms(capsys):
    stm = toy_memory()
    TypeA.for_memory(stm, seed=0).fit(stm, steps=20, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "fit TypeA" in err and "reconstruction" in err and "kl" in err


def test_defaults_and_changing_lr_or_seed_when_continuing():
    stm = toy_memory()
    model = TypeA.for_memory(stm, seed=0)
    fit(model, stm, steps=2, seed=0, progress=False)
    state = model.training_state
    assert state.optimizer.param_groups[0]["lr"] == DEFAULT_LR
    assert DEFAULT_BATCH_SIZE == 32
    fit(model, stm, steps=1, lr=1e-4, progress=False)
    assert state.optimizer.param_groups[0]["lr"] == 1e-4
    fit(model, stm, steps=1, progress=False)  # keeps the last lr
    assert state.optimizer.param_groups[0]["lr"] == 1e-4
    # a seed given when continuing restarts the generators: same batches as a fresh seed 7
    a = TypeA.for_memory(stm, seed=0)
    b = TypeA.for_memory(stm, seed=0)
    fit(a, stm, steps=2, seed=0, progress=False)
    fit(b, stm, steps=2, seed=0, progress=False)
    fit(a, stm, steps=2, seed=7, progress=False)
    fit(b, stm, steps=2, seed=7, progress=False)
    assert same_weights(a, b)


def test_fit_on_a_memory_holding_only_some_of_the_models_keys():
    stm = toy_memory()
    model = TypeB.for_memory(stm, seed=0)
    part = ShortTermMemory(capacity=5)
    part.add("light", stm.queue("light")[0])
    history = fit(model, part, steps=2, seed=0, progress=False)
    assert len(history["loss"]) == 2


@pytest.mark.parametrize("cls", MODELS)
def test_bf16_mixed_precision_trains_and_keeps_float32_weights(cls, tmp_path):
    stm = toy_memory()
    model = cls.for_memory(stm, seed=0)
    history = model.fit(stm, steps=60, lr=0.01, seed=0, progress=False, mixed_precision="bf16")
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.recall("light", n=2, seed=0).mean() > model.recall("dark", n=2, seed=0).mean()
    model.save(tmp_path / "m.manrl")
    assert same_weights(model, cls.load(tmp_path / "m.manrl"))


def test_fp16_skips_overflowing_steps_and_keeps_its_scale(monkeypatch):
    stm = toy_memory()
    model = TypeA.for_memory(stm, seed=0)
    model.fit(stm, steps=2, seed=0, progress=False, mixed_precision="fp16")
    state = model.training_state
    state.scaler.update(1234.0)
    model.fit(stm, steps=1, progress=False, mixed_precision="fp16")
    assert state.scaler.get_scale() == 1234.0  # the scale carries over between calls
    # A scale far too large overflows the fp16 gradients: the step is skipped, not applied.
    state.scaler.update(2.0**120)
    # (the weights; the code bank still records the skipped step's finite posterior codes)
    before = {k: v.clone() for k, v in model.named_parameters()}
    model.fit(stm, steps=1, progress=False, mixed_precision="fp16")
    assert all(torch.equal(before[k], v) for k, v in model.named_parameters())
    assert state.step == 4 and state.scaler.get_scale() < 2.0**120
    # Overflow after overflow is divergence, and training can go on after it.
    monkeypatch.setattr("man_rl.ltm.optim.MAX_SKIPPED_STEPS", 2)
    state.scaler.update(2.0**120)
    with pytest.raises(TrainingDivergedError, match=r"overflowed 3 steps in a row.*bf16"):
        model.fit(stm, steps=10, progress=False, mixed_precision="fp16")
    state.scaler.update(1024.0)
    model.fit(stm, steps=2, progress=False, mixed_precision="fp16")
    assert state.step == 8


def test_fp16_training_goes_on_after_a_nan_loss_error():
    stm = toy_memory()
    model = TypeA.for_memory(stm, seed=0)
    model.fit(stm, steps=1, seed=0, progress=False, mixed_precision="fp16")
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        next(model.decoder.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="loss is not finite"):
        model.fit(stm, steps=1, progress=False, mixed_precision="fp16")
    model.load_state_dict(saved)
    model.fit(stm, steps=2, progress=False, mixed_precision="fp16")  # no half-done scaler
    assert model.training_state.step == 3


def test_mixed_precision_must_be_known():
    stm = toy_memory()
    with pytest.raises(InvalidValueError, match="mixed_precision"):
        TypeB.for_memory(stm, seed=0).fit(stm, steps=1, progress=False, mixed_precision="fp8")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_cuda_loads_on_cpu(precision, tmp_path):
    stm = toy_memory()
    model = TypeB.for_memory(stm, seed=0)
    history = model.fit(stm, steps=60, lr=0.01, seed=0, device="cuda", mixed_precision=precision)
    assert history["loss"][-1] < history["loss"][0]
    model.save(tmp_path / "m.manrl")
    loaded = TypeB.load(tmp_path / "m.manrl")
    assert loaded.device.type == "cpu" and loaded.recognize(stm.queue("light")) == ["light"] * 3


def test_the_method_and_the_function_take_the_same_keywords_with_the_same_defaults():
    import inspect

    from man_rl.ltm import LongTermMemory

    def keywords(function, leave_out):
        params = inspect.signature(function).parameters.values()
        return {
            p.name: (p.default, p.annotation)
            for p in params
            if p.kind is p.KEYWORD_ONLY and p.name not in leave_out
        }

    method = keywords(LongTermMemory.fit, {"until", "budget"})
    function = keywords(fit, {"sampler"})
    # the method adds the stopping rule; the function the sampler (a stopping rule's hook)
    assert method == function and len(method) >= 10
