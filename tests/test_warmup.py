"""fit's learning-rate warm-up: how it ramps, that it spans calls, and the failure it prevents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm import TypeA, TypeB
from man_rl.ltm.networks import frames_to_tensor
from man_rl.ltm.training import DEFAULT_WARMUP_STEPS, warmup_factor

MODELS = [TypeA, TypeB]


def toy_memory() -> ShortTermMemory:
    rng = np.random.default_rng(0)
    stm = ShortTermMemory(capacity=4)
    for i, key in enumerate(["dark", "mid", "light"]):
        for _ in range(3):
            stm.add(key, (20 + 100 * i + rng.integers(0, 10, (6, 5))).astype(np.uint8))
    return stm


def weights(model) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.named_parameters()}


def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return all(torch.equal(wa[name], wb[name]) for name in wa)


@pytest.mark.parametrize("cls", MODELS)
def test_a_new_model_s_first_step_moves_its_weights_a_warmup_share_of_lr(cls):
    stm = toy_memory()

    def largest_first_change(warmup: int) -> float:
        model = cls.for_memory(stm, seed=0)
        before = weights(model)
        model.fit(stm, 1, lr=1e-2, seed=0, progress=False, device="cpu", warmup_steps=warmup)
        after = weights(model)
        assert model.training_state.optimizer.param_groups[0]["lr"] == 1e-2  # kept as asked
        return max(float((after[n] - before[n]).abs().max()) for n in before)

    # Adam's first step moves a weight by ~lr whatever its gradient's size
    assert largest_first_change(0) == pytest.approx(1e-2, rel=1e-3)
    assert largest_first_change(10) == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("cls", MODELS)
def test_the_warmup_counts_the_model_s_steps_over_calls(cls):
    stm = toy_memory()
    split, whole, past = (cls.for_memory(stm, seed=0) for _ in range(3))
    split.fit(stm, 3, seed=0, progress=False, device="cpu", warmup_steps=5)
    split.fit(stm, 4, progress=False, device="cpu", warmup_steps=5)
    whole.fit(stm, 7, seed=0, progress=False, device="cpu", warmup_steps=5)
    assert same_weights(split, whole)
    # a model trained past its warm-up is not affected by one asked for later
    past.fit(stm, 5, seed=0, progress=False, device="cpu", warmup_steps=5)
    past.fit(stm, 2, progress=False, device="cpu", warmup_steps=0)
    assert same_weights(past, whole)


def test_an_lr_given_mid_warmup_is_the_new_base_and_leaves_no_scheduler_state(tmp_path):
    stm = toy_memory()
    model = TypeA.for_memory(stm, seed=0)
    model.fit(stm, 2, lr=1e-2, seed=0, progress=False, device="cpu", warmup_steps=10)
    seen = []
    optimizer = model.training_state.optimizer
    optimizer.register_step_pre_hook(lambda opt, *_: seen.append(opt.param_groups[0]["lr"]))
    model.fit(stm, 2, lr=4e-3, progress=False, device="cpu", warmup_steps=10)
    assert seen == pytest.approx([4e-3 * 3 / 10, 4e-3 * 4 / 10])  # steps 3 and 4 of 10
    assert optimizer.param_groups[0]["lr"] == 4e-3
    assert "initial_lr" not in optimizer.state_dict()["param_groups"][0]
    model.save(tmp_path / "model.pt")  # what is saved is the optimizer's own state


def test_a_fit_that_fails_before_its_first_step_leaves_the_rates_as_they_were():
    stm = toy_memory()
    model = TypeB.for_memory(stm, seed=0)
    model.fit(stm, 2, lr=1e-2, seed=0, progress=False, device="cpu", warmup_steps=10)
    with pytest.raises(InvalidValueError, match="threads"):
        model.fit(stm, 2, progress=False, device="cpu", threads=0)
    group = model.training_state.optimizer.param_groups[0]
    assert group["lr"] == 1e-2 and "initial_lr" not in group


def test_warmup_factor_ramps_linearly_and_zero_turns_it_off():
    assert [warmup_factor(step, 4) for step in range(1, 7)] == [0.25, 0.5, 0.75, 1, 1, 1]
    assert warmup_factor(1, 0) == 1.0
    assert DEFAULT_WARMUP_STEPS > 0


@pytest.mark.parametrize(
    "bad, error", [(-1, InvalidValueError), (1.5, InvalidTypeError), (True, InvalidTypeError)]
)
def test_a_bad_warmup_is_refused_by_name(bad, error):
    stm = toy_memory()
    model = TypeA.for_memory(stm, seed=0)
    with pytest.raises(error, match="warmup_steps"):
        model.fit(stm, 1, progress=False, warmup_steps=bad)
    assert model.training_state is None or model.training_state.step == 0


@pytest.mark.parametrize("cls", MODELS)
def test_the_warmup_keeps_the_encoder_alive_where_states_differ_in_a_few_pixels(cls, dot_memory):
    # At the full rate from step 1, every ReLU of the encoder's convolutions died within a
    # few dozen steps on such frames (and on MiniGrid-Empty-16x16's 128x128 screens), so the
    # root vector was one constant for every screen and recall stayed at chance for good.
    stm = dot_memory()
    frames = frames_to_tensor(np.stack([stm.queue(k)[0] for k in stm.keys]), torch.device("cpu"))

    def alive_share(warmup: int | None) -> float:
        model = cls.for_memory(stm, seed=0)
        model.fit(stm, 50, seed=0, progress=False, device="cpu", warmup_steps=warmup)
        with torch.no_grad():
            return float((model.encoder.convs(frames) > 0).float().mean())

    assert alive_share(None) > 0.1  # the default warm-up
    assert alive_share(0) == 0.0  # the control: without it the encoder is dead
