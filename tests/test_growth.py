"""Tests of growing long-term memories (man_rl.ltm.growth): new keys added, learning kept."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import CorruptFileError, InvalidTypeError, UnknownKeyError
from man_rl.ltm import TypeA, TypeB, load_model
from man_rl.ltm.growth import GrowthLog, grow, nearest_known

SHAPE = (8, 8)
# (x, y) of a bright 2x2 block on a dark 8x8 screen: 16 states, neighbours look alike
CELLS = [(x, y) for y in range(4) for x in range(4)]

VARIANTS = [
    pytest.param(TypeA, {}, id="A"),
    pytest.param(TypeB, {}, id="B"),
    pytest.param(TypeB, {"state_readout": False}, id="B-raw-readout"),
    pytest.param(TypeA, {"code_bank": 3}, id="A-bank"),
    pytest.param(TypeB, {"code_bank": 3}, id="B-bank"),
]


def block_memory(cells, per_key=4, seed=0) -> ShortTermMemory:
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=10)
    for x, y in cells:
        for _ in range(per_key):
            frame = rng.integers(0, 30, SHAPE).astype(np.uint8)
            frame[2 * y : 2 * y + 2, 2 * x : 2 * x + 2] = 230
            stm.add((x, y), frame)
    return stm


def recalled(model, keys, seed=0):
    return {key: model.recall(key, 4, seed=seed) for key in keys}


@pytest.mark.parametrize(("cls", "options"), VARIANTS)
def test_old_states_recall_the_same_frames_after_growth(cls, options):
    old, new = CELLS[:6], CELLS[6:9]
    model = cls.for_memory(block_memory(old), seed=0, **options)
    model.fit(block_memory(old), steps=15, seed=0, progress=False)
    before = recalled(model, old)
    draw = torch.Generator().manual_seed(7)
    before_draw = model.recall(old[2], 5, generator=draw)
    assert model.grow(new, memory=block_memory(CELLS[:9])) == new
    assert model.keys == [*old, *new]
    after = recalled(model, old)
    draw = torch.Generator().manual_seed(7)
    pairs = [(after[key], before[key]) for key in old]
    pairs.append((model.recall(old[2], 5, generator=draw), before_draw))
    posterior_readout = cls is TypeB and options.get("state_readout", True)
    for now, then in pairs:
        if posterior_readout:
            # the new state's entry (~e^-36 for an old state's draw) joins the softmax of
            # the state readout: equal up to float rounding, a grey level on a rare pixel
            diff = np.abs(now.astype(int) - then.astype(int))
            assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.01 * diff.size
        else:
            np.testing.assert_array_equal(now, then)
    # ... and the control: the same check sees a change of the weights
    with torch.no_grad():
        model.decoder.head.weight.mul_(1.5)
    assert any(not np.array_equal(recalled(model, old)[k], before[k]) for k in old)


@pytest.mark.parametrize(("cls", "options"), VARIANTS)
def test_growth_keeps_adam_moments_padded_with_zeros(cls, options):
    old = CELLS[:5]
    model = cls.for_memory(block_memory(old), seed=0, **options)
    model.fit(block_memory(old), steps=4, seed=0, progress=False)
    optimizer = model.training_state.optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    before = {
        names[id(p)]: {k: v.clone() for k, v in optimizer.state[p].items()}
        for p in model.parameters()
    }
    shapes = {n: p.shape for n, p in model.named_parameters()}
    model.grow(CELLS[5:8], memory=block_memory(CELLS[:8]))
    params = dict(model.named_parameters())
    assert [id(p) for g in optimizer.param_groups for p in g["params"]] == [
        id(p) for p in model.parameters()
    ]
    grown = [n for n in params if params[n].shape != shapes[n]]
    assert grown
    for name, param in params.items():
        moments = optimizer.state[param]
        assert float(moments["step"]) == 4
        for which in ("exp_avg", "exp_avg_sq"):
            old, now = before[name][which], moments[which]
            assert now.shape == param.shape
            assert now.abs().sum() == pytest.approx(old.abs().sum().item(), rel=1e-6)
            if name in grown:  # the old values kept, every new entry zero
                assert torch.count_nonzero(now) == torch.count_nonzero(old)
            else:
                assert torch.equal(now, old)
    model.fit(block_memory(CELLS[:8]), steps=2, progress=False)  # Adam steps on
    assert float(optimizer.state[next(iter(params.values()))]["step"]) == 6


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_fit_grows_by_default_and_a_grown_model_saves_and_loads(cls, tmp_path):
    memory = block_memory(CELLS[:4])
    model = cls.for_memory(memory, seed=0)
    model.fit(memory, steps=3, seed=0, progress=False)
    assert model.growth_log is None
    for cell in CELLS[4:6]:
        memory.add(cell, block_memory([cell]).queue(cell)[0])
    model.fit(memory, steps=2, progress=False)  # 2 keys added at step 3
    memory.add(CELLS[6], block_memory([CELLS[6]]).queue(CELLS[6])[0])
    history = model.fit(memory, steps=2, progress=False)  # 1 more at step 5
    assert history["step"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert model.keys == CELLS[:7]
    assert model.growth_log == GrowthLog(initial_keys=4, added_at_step=[3, 3, 5])
    if cls is TypeB:
        assert model.config.latent_dim == 7 + 16
    path = tmp_path / "grown.manrl"
    model.save(path)
    loaded = load_model(path)
    assert loaded.keys == model.keys and loaded.growth_log == model.growth_log
    assert loaded.config == model.config
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    for key in CELLS[:7]:
        np.testing.assert_array_equal(loaded.recall(key, 3, seed=1), model.recall(key, 3, seed=1))
    memory.add(CELLS[7], block_memory([CELLS[7]]).queue(CELLS[7])[0])
    assert loaded.fit(memory, steps=1, progress=False)["step"][-1] == 8.0
    assert loaded.growth_log.added_at_step == [3, 3, 5, 7]


def test_grow_skips_known_keys_and_refuses_other_models():
    model = TypeA.for_memory(block_memory(CELLS[:2]), seed=0)
    assert grow(model, [CELLS[0], CELLS[2], CELLS[2], np.int64(5)]) == [CELLS[2], 5]
    assert grow(model, CELLS[:3]) == []
    assert model.growth_log == GrowthLog(2, [0, 0])  # never trained: step 0
    with pytest.raises(InvalidTypeError, match=r"only models with a growth plan"):
        grow(torch.nn.Linear(2, 2), ["a"])


def test_a_new_state_starts_from_the_known_state_that_looks_most_alike():
    memory = block_memory(CELLS[:8])
    # from the prior: a state copied from its look-alike has no banked codes of its own yet
    model = TypeA.for_memory(block_memory(CELLS[:6]), seed=0, code_bank=0)
    model.fit(block_memory(CELLS[:6]), steps=60, seed=0, progress=False)
    sources = nearest_known(model, CELLS[6:8], memory)
    assert None not in sources
    assert nearest_known(model, CELLS[6:8], None) == [None, None]
    assert nearest_known(model, [(9, 9)], memory) == [None]  # no frame of it
    # a state copied from its look-alike recalls the look-alike's screen before training
    model.grow(CELLS[6:8], memory=memory)
    for new, source in zip(CELLS[6:8], sources, strict=True):
        np.testing.assert_array_equal(
            model.recall(new, 2, seed=0), model.recall(model.keys[source], 2, seed=0)
        )


def test_growth_records_must_match_the_keys():
    assert GrowthLog.from_meta({"initial_keys": 2, "added_at_step": [4]}, 3) == GrowthLog(2, [4])
    with pytest.raises(CorruptFileError, match="does not match"):
        GrowthLog.from_meta({"initial_keys": 2, "added_at_step": [4]}, 4)
    with pytest.raises(CorruptFileError, match="unreadable"):
        GrowthLog.from_meta({"initial_keys": 2}, 2)


def test_man_rl_train_resume_grows_unless_told_not_to(tmp_path, capsys):
    memory = block_memory(CELLS[:3])
    path, ckpt = tmp_path / "stm.manrl", tmp_path / "ltm.manrl"
    memory.save(path)
    argv = ["train", "--memory", str(path), "--model", "B", "--steps", "2", "--out", str(ckpt)]
    assert main([*argv, "--quiet"]) == 0
    block_memory(CELLS[:5]).save(path)
    assert main([*argv, "--quiet", "--resume", "--no-grow"]) == 2
    assert "grow=False" in capsys.readouterr().err
    assert main([*argv, "--quiet", "--resume"]) == 0
    assert "2 states added" in capsys.readouterr().out
    model = TypeB.load(ckpt)
    assert model.keys == CELLS[:5] and model.growth_log == GrowthLog(3, [2, 2])


def test_growth_off_leaves_the_model_as_it_was():
    memory = block_memory(CELLS[:3])
    model = TypeA.for_memory(block_memory(CELLS[:2]), seed=0)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UnknownKeyError, match=r"\(2, 0\)"):
        model.fit(memory, steps=1, progress=False, grow=False)
    assert model.keys == CELLS[:2] and model.growth_log is None
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_a_grown_model_learns_the_states_met_late_in_half_the_steps_of_a_fresh_one():
    from benchmarks.growth_bench import growth_run
    from man_rl.envs import random_walk_memory
    from man_rl.evaluation import train_judge

    memory = random_walk_memory(
        "MiniGrid-Empty-5x5-v0", steps=3000, capacity=10, seed=0, tile_size=4
    )
    judge = train_judge(memory, seed=0, steps=150)
    run = growth_run(TypeA, memory, judge, check_every=10, budget=600, seed=0)
    assert (run.old_states, run.new_states) == (17, 17)
    assert run.fresh_accuracy >= 0.99 and run.new_after >= 0.99
    assert run.new_at_growth < 0.5  # the control: the late states were not known already
    assert run.grown_steps <= run.fresh_steps / 2, (run.grown_steps, run.fresh_steps)
    assert abs(run.old_after - run.old_before) <= 0.02
    assert run.met


def test_type_b_switches_to_the_simplex_mean_when_it_grows_past_hidden_dim():
    model = TypeB(["a", "b", "c"], (4, 4), hidden_dim=4, seed=0)
    assert model.config.simplex_mean is None and not model.uses_simplex_mean  # 3 <= 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.grow(["d", "e"])  # 5 > 4: switched, nothing to warn about
    assert model.uses_simplex_mean
    # only a model told to keep the linear mean is warned, once
    linear = TypeB(["a", "b", "c"], (4, 4), hidden_dim=4, simplex_mean=False, seed=0)
    with pytest.warns(UserWarning, match="leave simplex_mean=None"):
        linear.grow(["d", "e"])
    assert not linear.uses_simplex_mean
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linear.grow(["f"])  # already past it: said once
