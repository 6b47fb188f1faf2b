"""Tests of recall from banked posterior codes (man_rl.ltm.bank, ``code_bank=n``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm import TypeA, TypeB
from man_rl.ltm.bank import CodeBank


def memory(keys=("a", "b", "c"), per_key=6, seed=0) -> ShortTermMemory:
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=10)
    for i, key in enumerate(keys):
        for _ in range(per_key):
            frame = rng.integers(0, 40, (8, 8)).astype(np.uint8)
            frame[:, 2 * i : 2 * i + 2] = 220
            stm.add(key, frame)
    return stm


def test_the_ring_keeps_each_states_last_codes_in_order():
    bank = CodeBank(states=3, size=2, dim=1)
    bank.write(torch.tensor([1, 0, 1, 1]), torch.tensor([[1.0], [2.0], [3.0], [4.0]]))
    # state 1 had three codes in one batch: the last two kept
    assert sorted(bank.codes[1, :, 0].tolist()) == [3.0, 4.0]
    assert bank.written.tolist() == [1, 3, 0] and bank.filled().tolist() == [1, 2, 0]
    bank.write(torch.tensor([1]), torch.tensor([[5.0]]))  # overwrites the oldest (3.0)
    assert sorted(bank.codes[1, :, 0].tolist()) == [4.0, 5.0]
    assert bank.codes[0, 0, 0] == 2.0


def test_a_draw_picks_a_stored_code_or_keeps_the_prior_where_none():
    bank = CodeBank(states=2, size=4, dim=1)
    bank.write(torch.tensor([0, 0]), torch.tensor([[1.0], [2.0]]))
    prior = torch.full((200, 1), -7.0)
    labels = torch.tensor([0, 1] * 100)
    uniform = torch.rand(200, generator=torch.Generator().manual_seed(0))
    drawn = bank.draw(labels, prior, uniform)[:, 0]
    assert set(drawn[labels == 0].tolist()) == {1.0, 2.0}  # both, never an empty slot
    assert set(drawn[labels == 1].tolist()) == {-7.0}


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_recall_decodes_the_states_banked_codes(cls):
    stm = memory()
    model = cls.for_memory(stm, seed=0, code_bank=3)
    model.fit(stm, steps=6, seed=0, progress=False)
    assert model.bank.filled().tolist() == [3, 3, 3]
    index = model.key_index.index_of("b")
    codes = model.bank.codes[index]
    with torch.no_grad():
        if cls is TypeA:
            condition = model.condition(torch.full((3,), index))
            roots = model.dec_long(torch.cat([condition, codes], dim=1))
        else:  # the one-hot part from the prior: decoded through the state readout
            k = len(model.key_index)
            one_hot = model.prior_means(torch.full((3,), index))[:, :k]
            roots = model.decode_root(torch.cat([one_hot, codes], dim=1))
        frames = torch.sigmoid(model.decoder(roots)).permute(0, 2, 3, 1)[..., 0]
    expected = (frames.numpy() * 255).round().astype(np.uint8)
    recalled = model.recall("b", 12, seed=0).astype(int)
    nearest = np.abs(recalled[:, None] - expected[None].astype(int)).max(axis=(2, 3)).min(1)
    if cls is TypeA:
        assert nearest.max() <= 1  # each recall is one of the three codes, decoded
    else:  # Type B's one-hot part is drawn with noise: through the readout it barely moves
        assert nearest.max() <= 3
    plain = cls.for_memory(stm, seed=0, code_bank=0)  # from the prior
    plain.fit(stm, steps=6, seed=0, progress=False)
    assert not np.array_equal(plain.recall("b", 12, seed=0), recalled.astype(np.uint8))


def test_non_finite_codes_are_not_written():
    bank = CodeBank(states=1, size=2, dim=1)
    bank.write(torch.tensor([0, 0]), torch.tensor([[float("nan")], [3.0]]))
    assert bank.written.tolist() == [1] and bank.codes[0, 0, 0] == 3.0


def two_screen_memory(keys=("a", "b", "c")) -> ShortTermMemory:
    """Each state shows its block at one of two heights: screens that vary within a state."""
    stm = ShortTermMemory(capacity=10)
    for i, key in enumerate(keys):
        for j in range(8):
            frame = np.full((8, 8), 20, np.uint8)
            row = 0 if j % 2 else 4
            frame[row : row + 4, 2 * i : 2 * i + 2] = 230
            stm.add(key, frame)
    return stm


def test_a_grown_type_b_recalls_its_old_states_from_the_same_codes():
    stm = two_screen_memory()
    model = TypeB.for_memory(stm, seed=0, code_bank=8)
    model.fit(stm, steps=150, seed=0, progress=False)
    before = {key: model.recall(key, 8, seed=5) for key in stm.keys}
    assert len({f.tobytes() for f in before["a"]}) > 1  # the codes differ: a real control
    model.grow(["x", "y"])
    for key, frames in before.items():
        # the new states' entries join the state readout's softmax: float rounding only
        diff = np.abs(model.recall(key, 8, seed=5).astype(int) - frames.astype(int))
        assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.01 * diff.size


def test_only_training_writes_the_bank_and_a_model_without_one_has_none():
    stm = memory()
    model = TypeA.for_memory(stm, seed=0, code_bank=2)
    frames = torch.rand(4, 1, 8, 8)
    model.eval()
    model.loss(frames, torch.tensor([0, 0, 1, 1]), None)
    assert model.bank.written.tolist() == [0, 0, 0]
    model.train()
    model.loss(frames, torch.tensor([0, 0, 1, 1]), None)
    assert model.bank.written.tolist() == [2, 2, 0]
    assert TypeA.for_memory(stm, seed=0, code_bank=0).bank is None
    assert TypeA.for_memory(stm, seed=0).bank.size == 64  # the default keeps 64 per state


@pytest.mark.parametrize(
    ("value", "error"), [(-1, InvalidValueError), (1.5, InvalidTypeError), (True, InvalidTypeError)]
)
def test_bad_bank_sizes_are_refused(value, error):
    with pytest.raises(error, match="code_bank"):
        TypeB(["a", "b"], (8, 8), code_bank=value)


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_a_banked_model_saves_loads_and_resumes(cls, tmp_path):
    stm = memory()
    model = cls.for_memory(stm, seed=0, code_bank=4)
    model.fit(stm, steps=3, seed=0, progress=False)
    model.save(tmp_path / "m.manrl")
    loaded = cls.load(tmp_path / "m.manrl")
    assert loaded.config.code_bank == 4
    assert torch.equal(loaded.bank.codes, model.bank.codes)
    np.testing.assert_array_equal(loaded.recall("a", 5, seed=1), model.recall("a", 5, seed=1))
    assert loaded.fit(stm, 2, progress=False) == model.fit(stm, 2, progress=False)


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_a_bank_changes_recall_only_not_training(cls):
    stm = memory()
    banked, plain = (cls.for_memory(stm, seed=0, code_bank=b) for b in (4, 0))
    assert banked.fit(stm, 4, seed=0, progress=False) == plain.fit(stm, 4, seed=0, progress=False)
    weights = {k: v for k, v in banked.state_dict().items() if not k.startswith("bank.")}
    assert weights.keys() == plain.state_dict().keys()
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in weights.items())
