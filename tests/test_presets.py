"""The paper presets compute eqs. 9 and 14 exactly; every departure is a named switch."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from man_rl import ShortTermMemory
from man_rl.errors import InvalidValueError, UnknownKeyError
from man_rl.ltm import TypeA, TypeB
from man_rl.ltm.presets import PRESETS, SIZES, SWITCHES, departures, preset

KEYS = ["a", "b", "c"]
SHAPE = (8, 6, 3)
DATA = Path(__file__).parent / "data"


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    frames = torch.from_numpy(rng.random((5, SHAPE[2], *SHAPE[:2]), dtype=np.float32))
    return frames, torch.tensor([0, 1, 2, 1, 0])


def paper_model(cls, **overrides):
    model = cls.paper(KEYS, SHAPE, seed=3, root_dim=12, hidden_dim=16, **overrides)
    # a few random steps away from the initial weights, so no term is trivially zero
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return model


def squared_error(model, root_hat, frames):
    """Eq. 7's reconstruction as man_rl reads it: squared error summed per frame."""
    return (torch.sigmoid(model.decoder(root_hat)) - frames).square().sum() / len(frames)


def kl_to(mu, log_var, prior_mean):
    """KL(N(mu, exp(log_var)) || N(prior_mean, I)), summed over dimensions, batch mean."""
    return (0.5 * ((mu - prior_mean) ** 2 + log_var.exp() - 1 - log_var)).sum(1).mean()


def eq9_by_hand(model, frames, labels, seed, *, variance=False, reduction="mean"):
    """Eq. 9: reconstruction + KL(Q || N(0, I)) + lambda MSE(h, h_hat), one-hot c_i."""
    generator = torch.Generator().manual_seed(seed)
    h = model.encoder(frames)
    c = F.one_hot(labels, len(KEYS)).float()
    mu, log_var = model.enc_long(torch.cat([c, h], 1)).chunk(2, 1)
    eps = torch.randn(mu.shape, generator=generator)
    z = mu + (log_var.exp() if variance else (0.5 * log_var).exp()) * eps
    h_hat = model.dec_long(torch.cat([c, z], 1))
    mse = (h - h_hat).square()
    mse = mse.mean(1) if reduction == "mean" else mse.sum(1)
    return squared_error(model, h_hat, frames) + kl_to(mu, log_var, 0.0) + mse.mean()


def eq14_by_hand(model, frames, labels, seed, *, variance=False):
    """Eq. 14: reconstruction + KL(Q || N(lam c'_i, I)) + lambda_2 MSE(h, h_hat)."""
    generator = torch.Generator().manual_seed(seed)
    h = model.encoder(frames)
    mu, log_var = model.enc_long(h).chunk(2, 1)
    eps = torch.randn(mu.shape, generator=generator)
    z = mu + (log_var.exp() if variance else (0.5 * log_var).exp()) * eps
    h_hat = model.dec_long(z)
    prior = torch.zeros_like(mu)
    prior[torch.arange(len(labels)), labels] = 6.0  # lam * [one-hot, zero padding]
    mse = (h - h_hat).square().mean(1).mean()
    return squared_error(model, h_hat, frames) + kl_to(mu, log_var, prior) + mse


@pytest.mark.parametrize("variance", [False, True], ids=["std", "eq4-as-printed"])
@torch.no_grad()
def test_type_a_paper_loss_is_eq_9(variance):
    model = paper_model(TypeA, reparameterization="variance" if variance else "std")
    frames, labels = batch()
    terms = model.loss(frames, labels, torch.Generator().manual_seed(7))
    expected = eq9_by_hand(model, frames, labels, 7, variance=variance)
    torch.testing.assert_close(terms.loss, expected)
    assert float(terms.association) == float(terms.recognition) == 0.0
    # the reference can fail: the other noise scale, or a summed root term, is another number
    other = eq9_by_hand(model, frames, labels, 7, variance=not variance)
    summed = eq9_by_hand(model, frames, labels, 7, variance=variance, reduction="sum")
    assert abs(float(other - expected)) > 1e-3 and abs(float(summed - expected)) > 1e-3


@pytest.mark.parametrize("variance", [False, True], ids=["std", "eq4-as-printed"])
@torch.no_grad()
def test_type_b_paper_loss_is_eq_14(variance):
    model = paper_model(TypeB, reparameterization="variance" if variance else "std")
    frames, labels = batch(1)
    terms = model.loss(frames, labels, torch.Generator().manual_seed(11))
    expected = eq14_by_hand(model, frames, labels, 11, variance=variance)
    torch.testing.assert_close(terms.loss, expected)
    assert float(terms.association) == float(terms.recognition) == 0.0
    other = eq14_by_hand(model, frames, labels, 11, variance=not variance)
    assert abs(float(other - expected)) > 1e-3


@torch.no_grad()
def test_the_recommended_type_b_is_not_eq_14():
    # negative control: the default's additions change the loss the reference computes
    model = TypeB.preset("recommended", KEYS, SHAPE, seed=3, root_dim=12, hidden_dim=16)
    frames, labels = batch(1)
    terms = model.loss(frames, labels, torch.Generator().manual_seed(11))
    assert float(terms.association) > 0 and float(terms.recognition) > 0
    assert abs(float(terms.loss - eq14_by_hand(model, frames, labels, 11))) > 1e-3


@pytest.mark.parametrize("cls", [TypeA, TypeB])
@torch.no_grad()
def test_root_reduction_mean_is_the_sum_over_root_dim(cls):
    frames, labels = batch()
    root = {}
    for reduction in ("sum", "mean"):
        model = cls.paper(KEYS, SHAPE, seed=3, root_dim=12, root_reduction=reduction)
        root[reduction] = float(model.loss(frames, labels, torch.Generator().manual_seed(0)).root)
    assert root["sum"] > 0
    assert root["mean"] == pytest.approx(root["sum"] / 12, rel=1e-5)


def switches_of(cls) -> set[str]:
    return set(cls.config_class.settings()) - set(SIZES)


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_every_preset_names_every_switch(cls):
    for name, values in PRESETS[cls.kind].items():
        assert set(values) == switches_of(cls), name
    # every switch is explained beside its field, and nothing else is
    assert set(cls.config_class.switches) == switches_of(cls)
    assert set(SWITCHES) >= switches_of(cls)
    assert set(SWITCHES) >= set(departures(cls.kind))


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_recommended_is_the_constructor_default(cls):
    # when a default changes, the "recommended" preset (presets.py) must say so too
    defaults = {f.name: f.default for f in fields(cls.config_class) if f.name in switches_of(cls)}
    assert preset(cls.kind, "recommended") == defaults


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_each_setting_is_written_once_in_its_config(cls):
    # the constructor takes the config and overrides of its fields, and names no setting
    params = list(inspect.signature(cls.__init__).parameters)
    assert params == ["self", "keys", "frame_shape", "config", "overrides"]
    assert "lam" in TypeB.config_class.settings() and "lam" not in TypeA.config_class.settings()
    model = cls(["a", "b"], (8, 8), seed=0, hidden_dim=16)
    assert model.config.hidden_dim == 16 and model.config.seed == 0
    again = cls(["a", "b"], (8, 8), model.config, root_dim=8)
    assert again.config.hidden_dim == 16 and again.config.root_dim == 8
    with pytest.raises(InvalidValueError, match="not settings of"):
        cls(["a", "b"], (8, 8), hiden_dim=16)  # a typo is refused, naming the settings


def test_departures_are_what_the_paper_lacks():
    assert departures("A") == {
        "code_bank": (0, 64),
        "hard_pixels": (0, 64),
        "lambda_association": (0.0, 1.0),
        "condition_scale": ("unit", "sqrt_latent"),
        "root_reduction": ("mean", "sum"),
    }
    assert set(departures("B")) == {
        "code_bank",
        "hard_pixels",
        "simplex_mean",
        "lambda_association",
        "lambda_recognition",
        "state_readout",
        "state_from_prior",
        "root_reduction",
    }


def small_memory(keys=("dark", "light")) -> ShortTermMemory:
    stm = ShortTermMemory(capacity=4)
    for i, key in enumerate(keys):
        stm.add(key, np.full((6, 5), 40 + 150 * i, np.uint8))
    return stm


def test_presets_build_from_a_memory_or_from_keys():
    stm = small_memory()
    model = TypeA.paper(stm, seed=0)
    assert model.keys == ["dark", "light"] and model.config.condition_scale == "unit"
    assert model.config.seed == 0
    recommended = TypeA.preset("recommended", stm, seed=0, lambda_association=0.5)
    assert recommended.config.lambda_association == 0.5
    assert recommended.config.condition_scale == "sqrt_latent"
    wider = TypeB.paper(stm, keys=["dark", "light", "never"], seed=0)
    assert wider.keys == ["dark", "light", "never"]
    wider.fit(stm, steps=2, seed=0, progress=False)  # trains on the states it has frames of


def test_preset_errors_say_what_to_do():
    stm = small_memory()
    with pytest.raises(InvalidValueError, match="not settings"):
        TypeA.paper(stm, lambda_assocation=1.0)
    with pytest.raises(InvalidValueError, match="frame_shape"):
        TypeA.paper(["a", "b"])
    with pytest.raises(InvalidValueError, match="unknown preset"):
        TypeA.preset("best", stm)
    with pytest.raises(InvalidValueError, match="root_reduction must be one of"):
        TypeB.paper(stm, root_reduction="median")
    with pytest.raises(UnknownKeyError, match="not built for"):
        TypeA.for_memory(stm, keys=["dark"])


@pytest.mark.parametrize(("name", "cls"), [("type_a", TypeA), ("type_b", TypeB)])
def test_old_checkpoints_load_with_the_form_they_were_trained_with(name, cls):
    # the golden files predate the switches: they load with the form they were trained with
    model = cls.load(DATA / f"golden_{name}_v1.manrl")
    assert model.config.root_reduction == "sum"
    assert model.config.reparameterization == "std"
    if name == "type_a":
        assert model.config.condition_scale == "sqrt_latent"


def test_switches_round_trip_through_a_checkpoint(tmp_path):
    model = TypeA.paper(small_memory(), seed=0, reparameterization="variance")
    model.save(tmp_path / "a.manrl")
    loaded = TypeA.load(tmp_path / "a.manrl")
    assert loaded.config == model.config


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_the_paper_presets_learn_two_states(cls):
    # eq. 9 / eq. 14 alone (no association, no recognition term, no readout) still learn
    stm = small_memory()
    model = cls.paper(stm, seed=0)
    model.fit(stm, steps=80, lr=0.01, seed=0, progress=False)
    assert (
        model.recall("light", n=2, seed=0).mean() > 150 > model.recall("dark", n=2, seed=0).mean()
    )
    if cls is TypeB:
        assert model.recognize(np.stack([stm.queue("light")[0], stm.queue("dark")[0]])) == [
            "light",
            "dark",
        ]


@pytest.mark.parametrize(
    ("cls", "name", "kept"),
    [
        (TypeA, "condition", "one_hot"),
        (TypeA, "lambda_recognition", 0.0),
        (TypeA, "lambda_recall", 0.0),
        (TypeB, "prototype_readout", False),
        (TypeB, "lambda_recall", 0.0),
    ],
)
def test_a_retired_switch_builds_the_same_model_with_its_kept_value_and_is_refused_otherwise(
    cls, name, kept
):
    # what old checkpoints and scripts name still builds the model they had
    plain = cls(["a", "b"], (8, 8), seed=0)
    named = cls(["a", "b"], (8, 8), seed=0, **{name: kept, "prototype_rate": 0.5})
    assert named.config == plain.config
    pairs = zip(plain.parameters(), named.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    other = {"condition": "prototype", "prototype_readout": True}.get(name, 1.0)
    with pytest.raises(InvalidValueError, match=f"{name}=.* is retired"):
        cls(["a", "b"], (8, 8), seed=0, **{name: other})
    assert name not in cls.config_class.settings()
