"""The judge and its negative controls: every figure must catch the fake it is meant for.

Two synthetic memories, no model: ``varying`` (8 states, each its own checked background
with a small object on one of 9 tiles per frame, 28x28 colour) and ``one_screen`` (10 states
of one screen each, a MiniGrid-like grid with a block at the state's cell, 24x24 colour).
Each control is judged with :func:`man_rl.evaluation.judge_samples` against a judge trained
once per memory; the figures are printed (``pytest -s``) and asserted with explicit margins.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.errors import CorruptFileError, InvalidValueError, UnknownKeyError
from man_rl.evaluation import Judge, RealReference, judge_samples, train_judge
from man_rl.evaluation.judge import split_frames
from man_rl.evaluation.network import JudgeNet, judge_plan


def varying_memory(states=8, per_state=30, side=28, seed=0) -> ShortTermMemory:
    """Each state: its own two-colour checked background; per frame a 6x6 object on 1 of 9 tiles."""
    rng = np.random.default_rng(seed)
    stm = ShortTermMemory(capacity=per_state)
    yy, xx = np.mgrid[:side, :side]
    for state in range(states):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        cell = int(rng.integers(2, 5))
        checked = (((yy // cell) + (xx // cell)) % 2)[..., None] == 0
        background = np.where(checked, a, b).astype(np.uint8)
        colour = rng.integers(0, 256, 3)
        for _ in range(per_state):
            frame = background.copy()
            y, x = 2 + 9 * rng.integers(0, 3, 2)
            frame[y : y + 6, x : x + 6] = colour
            stm.add(state, frame)
    return stm


def one_screen_memory(states=10, per_state=8, side=24) -> ShortTermMemory:
    """MiniGrid-like: one grid, a 4x4 block at state ``s``'s cell; every frame of a state alike."""
    stm = ShortTermMemory(capacity=per_state)
    grid = np.full((side, side, 3), 40, np.uint8)
    grid[::6], grid[:, ::6] = 90, 90
    for state in range(states):
        frame = grid.copy()
        y, x = (state // 4) * 6 + 1, (state % 4) * 6 + 1
        frame[y : y + 4, x : x + 4] = (255, 60, 0) if state % 2 else (0, 200, 80)
        for _ in range(per_state):
            stm.add((state // 4, state % 4), frame)
    return stm


def box_blur(frames: np.ndarray, size: int = 9) -> np.ndarray:
    """``size`` x ``size`` box blur of uint8 frames [N, H, W, C] (edges repeated)."""
    pad = size // 2
    x = np.pad(frames.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    c = np.pad(x.cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0), (0, 0)))
    h, w = frames.shape[1:3]
    total = (
        c[:, size : size + h, size : size + w]
        - c[:, :h, size : size + w]
        - c[:, size : size + h, :w]
        + c[:, :h, :w]
    )
    return np.round(total / size**2).astype(np.uint8)


def pixel_noise(frames: np.ndarray, rng: np.random.Generator, sigma: float = 0.5) -> np.ndarray:
    """Frames plus N(0, sigma) per pixel (pixels in [0, 1]), clipped."""
    noisy = frames / 255.0 + rng.normal(0.0, sigma, frames.shape)
    return np.round(np.clip(noisy, 0.0, 1.0) * 255).astype(np.uint8)


def controls(judge: Judge, stm: ShortTermMemory) -> dict[str, dict]:
    """Samples per state of each control (as many as the state's held-out frames)."""
    rng = np.random.default_rng(1)
    keys = stm.keys
    train = {key: judge.real_frames(stm, key)[0] for key in keys}
    held = {key: judge.real_frames(stm, key)[1] for key in keys}
    mean = {key: np.round(stm.queue(key).mean(0)).astype(np.uint8) for key in keys}
    return {
        "real held-out": held,
        "mean frame": {key: np.repeat(mean[key][None], len(held[key]), 0) for key in keys},
        "9x9 blur": {key: box_blur(held[key]) for key in keys},
        "noise 0.5": {key: pixel_noise(held[key], rng) for key in keys},
        "one frame repeated": {key: np.repeat(train[key][:1], len(held[key]), 0) for key in keys},
        "wrong state": {key: held[keys[(i + 1) % len(keys)]] for i, key in enumerate(keys)},
    }


def _show(name: str, d: dict) -> str:
    def f(value, digits=3):
        return "None" if value is None else f"{value:.{digits}f}"

    return (
        f"{name:19s} acc/ceiling {f(d['accuracy_ratio'])} fidelity {f(d['fidelity'], 2)} "
        f"(mean frame {f(d['mean_frame_fidelity'], 2)}) diversity {f(d['diversity'])} "
        f"precision {f(d['precision'])} recall {f(d['recall'])} "
        f"coverage {f(d['manifold_coverage'])} copies {f(d['copies'], 2)} "
        f"FID {f(d['fid'])} KID {f(d['kid'], 4)}"
    )


@pytest.fixture(scope="module")
def judged() -> dict[str, dict[str, dict]]:
    """Every control's report on both memories (a judge trained once per memory)."""
    out = {}
    for name, stm in [("varying", varying_memory()), ("one_screen", one_screen_memory())]:
        judge = train_judge(stm, seed=0)
        print(f"\n{name}: {stm.num_keys} states {stm.frame_shape}, {judge}, {judge.info}")
        out[name] = {}
        for control, samples in controls(judge, stm).items():
            out[name][control] = judge_samples(judge, samples, stm, seed=0).to_dict()
            print(_show(control, out[name][control]))
    return out


@pytest.mark.parametrize("memory", ["varying", "one_screen"])
def test_real_held_out_frames_score_near_one(judged, memory):
    real = judged[memory]["real held-out"]
    assert real["judge"]["ceiling"] >= 0.95
    assert real["accuracy_ratio"] >= 0.95
    assert real["fidelity"] == pytest.approx(1.0, abs=0.05)
    assert real["precision"] >= 0.95
    assert real["recall"] >= 0.85
    assert real["manifold_coverage"] >= 0.85
    if memory == "varying":
        assert 0.8 <= real["diversity"] <= 1.25
        assert real["diversity_states"] == 8
    else:
        assert real["diversity"] is None and real["diversity_states"] == 0


def test_mean_frame_fails_diversity_on_varying_states(judged):
    mean, real = judged["varying"]["mean frame"], judged["varying"]["real held-out"]
    assert mean["diversity"] <= 0.05 < 0.8 <= real["diversity"]
    assert mean["recall"] <= 0.2
    # and its fidelity is the blur baseline the report gives beside every state
    assert mean["fidelity"] == pytest.approx(real["mean_frame_fidelity"])
    assert real["mean_frame_fidelity"] >= 3.0


def test_mean_frame_of_one_screen_states_is_the_screen(judged):
    # where a state has one screen its mean is that screen: nothing to catch
    mean = judged["one_screen"]["mean frame"]
    assert mean["fidelity"] == pytest.approx(1.0) and mean["copies"] == 1.0


@pytest.mark.parametrize("memory", ["varying", "one_screen"])
def test_box_blur_fails_fidelity(judged, memory):
    blur, real = judged[memory]["9x9 blur"], judged[memory]["real held-out"]
    assert blur["fidelity"] >= 5.0 * real["fidelity"]
    assert blur["copies"] == 0.0


@pytest.mark.parametrize("memory", ["varying", "one_screen"])
def test_pixel_noise_fails_fidelity_and_precision(judged, memory):
    noise, real = judged[memory]["noise 0.5"], judged[memory]["real held-out"]
    assert noise["fidelity"] >= 5.0 * real["fidelity"]
    assert noise["precision"] <= 0.2 < 0.95 <= real["precision"]
    assert noise["manifold_coverage"] <= 0.2
    assert noise["fid"] > 10 * max(real["fid"], 0.01)
    if memory == "varying":
        assert noise["diversity"] >= 2.0  # noise is "diverse" far beyond the real screens


def test_one_frame_repeated_fails_diversity_and_recall(judged):
    repeated, real = judged["varying"]["one frame repeated"], judged["varying"]["real held-out"]
    assert repeated["diversity"] <= 0.05
    assert repeated["recall"] <= 0.4 < 0.85 <= real["recall"]
    # coverage drops less: with ~9 distinct screens a state, one real point's ball is wide
    assert repeated["manifold_coverage"] <= real["manifold_coverage"] - 0.3
    assert repeated["copies"] == 1.0


@pytest.mark.parametrize("memory", ["varying", "one_screen"])
def test_frames_of_the_wrong_state_fail_judge_accuracy(judged, memory):
    wrong = judged[memory]["wrong state"]
    assert wrong["accuracy_ratio"] <= 0.2
    assert wrong["accuracy"] <= 0.2
    assert wrong["fidelity"] >= 5.0  # far from the asked state's own screens, too


def test_worst_states_and_per_state_entries(judged):
    wrong = judged["varying"]["wrong state"]
    assert len(wrong["per_state"]) == 8
    assert {"key", "accuracy", "fidelity", "diversity", "copies"} <= set(wrong["per_state"][0])
    assert wrong["worst_states"][0]["accuracy"] == min(s["accuracy"] for s in wrong["per_state"])


# ---------------------------------------------------------------- the judge itself


@pytest.fixture(scope="module")
def small():
    """A small varying memory, one state with a single frame, and a judge of it."""
    stm = varying_memory(states=4, per_state=10, side=16, seed=3)
    stm.add("lone", np.zeros((16, 16, 3), np.uint8))
    return stm, train_judge(stm, seed=0, steps=40)


def test_split_holds_out_a_fifth_per_state_seeded(small):
    stm, judge = small
    split = judge.split
    assert split.keys == stm.keys
    assert split.counts.tolist() == [10, 10, 10, 10, 1]
    assert [int(m.sum()) for m in split.masks()] == [2, 2, 2, 2, 0]  # a lone frame trains
    assert split.states_with_held_out == 4 == judge.info["states_with_held_out"]
    counts = np.array([10, 10, 1, 2])
    assert np.array_equal(split_frames(counts, 0.2, 0), split_frames(counts, 0.2, 0))
    assert not np.array_equal(split_frames(counts, 0.2, 0), split_frames(counts, 0.2, 1))
    train, held = judge.real_frames(stm, "lone")
    assert len(train) == 1 and len(held) == 0


def test_judge_is_seeded_and_leaves_the_global_rng_alone(small):
    stm, judge = small
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    again = train_judge(stm, seed=0, steps=40)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()  # noqa: NPY002
    frames = stm.all_frames().frames
    assert np.array_equal(again.features(frames), judge.features(frames))
    other = train_judge(stm, seed=1, steps=40)
    assert not np.array_equal(other.features(frames), judge.features(frames))


def test_predict_features_and_shapes(small):
    stm, judge = small
    frames, labels = stm.all_frames()
    assert judge.predict(frames).shape == labels.shape
    assert judge.features(frames).shape == (len(frames), judge.plan["features"])
    assert judge.features(frames[:0]).shape == (0, judge.plan["features"])
    with pytest.raises(InvalidValueError, match="uint8 frames"):
        judge.predict(frames.astype(np.float32))
    with pytest.raises(InvalidValueError, match="uint8 frames"):
        judge.predict(frames[:, :8])
    with pytest.raises(UnknownKeyError, match="knows no state"):
        judge.index_of("never seen")


def test_save_and_load_round_trip(small, tmp_path):
    stm, judge = small
    path = tmp_path / "judge.manrl"
    judge.save(path)
    loaded = Judge.load(path)
    frames = stm.all_frames().frames
    assert np.array_equal(loaded.features(frames), judge.features(frames))
    assert loaded.keys == judge.keys and loaded.frame_shape == judge.frame_shape
    assert loaded.ceiling == judge.ceiling and loaded.info == judge.info
    assert np.array_equal(loaded.split.held_out, judge.split.held_out)
    loaded.check_memory(stm)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "bad.manrl").write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        Judge.load(tmp_path / "bad.manrl")


def test_a_judge_refuses_a_memory_it_was_not_trained_on(small):
    stm, judge = small
    changed = stm.copy()
    changed.add(0, np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(InvalidValueError, match="trained on other frames"):
        judge.check_memory(changed)
    with pytest.raises(InvalidValueError, match="trained on other frames"):
        judge_samples(judge, {0: stm.queue(0)}, changed)


def test_train_judge_checks_its_arguments():
    stm = varying_memory(states=2, per_state=3, side=8)
    with pytest.raises(InvalidValueError, match="held_out_share"):
        train_judge(stm, held_out_share=1.0)
    with pytest.raises(InvalidValueError, match="steps"):
        train_judge(stm, steps=0)
    with pytest.raises(InvalidValueError, match="no frame"):
        train_judge(ShortTermMemory(capacity=2))


def test_network_is_sized_from_the_frame_and_linear_in_states():
    plans = {shape: judge_plan(shape) for shape in [(8, 8), (24, 24, 3), (40, 40, 3)]}
    plans |= {shape: judge_plan(shape) for shape in [(64, 64, 3), (128, 128, 3), (152, 152, 3)]}
    assert plans[(8, 8)]["in_channels"] == 1 and plans[(8, 8)]["patch"] == 1
    assert [plans[s]["patch"] for s in [(24, 24, 3), (40, 40, 3), (64, 64, 3)]] == [2, 2, 4]
    assert plans[(128, 128, 3)]["patch"] == plans[(152, 152, 3)]["patch"] == 8
    widths = [plans[s]["channels"][-1] for s in [(8, 8), (40, 40, 3), (128, 128, 3)]]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # more channels for bigger
    for shape, plan in plans.items():
        net = JudgeNet(plan, shape, 5)
        _, logits = net(torch.zeros(2, plan["in_channels"], *shape[:2]))
        assert logits.shape == (2, 5)

    def parameters(states):
        net = JudgeNet(plans[(40, 40, 3)], (40, 40, 3), states)
        return sum(p.numel() for p in net.parameters())

    # one linear layer to the states: (features + 1) parameters per state, nothing more
    assert parameters(800) - parameters(100) == 700 * (plans[(40, 40, 3)]["features"] + 1)
    with pytest.raises(InvalidValueError, match="shape"):
        judge_plan((4,))


def test_grey_frames_of_any_size():
    rng = np.random.default_rng(0)
    stm = ShortTermMemory(capacity=6)
    for state in range(3):
        for _ in range(6):
            stm.add(state, rng.integers(80 * state, 80 * state + 40, (9, 13), dtype=np.uint8))
    judge = train_judge(stm, seed=0, steps=60)
    assert judge.ceiling == 1.0
    report = judge_samples(judge, {s: stm.queue(s) for s in stm.keys}, stm)
    assert report.accuracy == 1.0 and report.copies == 1.0


# RealReference: the real frames' side of judge_samples, computed once and reused


@pytest.fixture(scope="module")
def judged_memory():
    stm = varying_memory(states=5, per_state=12, side=16, seed=4)
    return stm, train_judge(stm, seed=0, steps=60)


def test_a_kept_reference_gives_the_same_report_as_a_fresh_one(judged_memory):
    stm, judge = judged_memory
    reference = RealReference(judge, stm)
    for name, samples in controls(judge, stm).items():
        fresh = judge_samples(judge, samples, stm, seed=2).to_dict()
        kept = judge_samples(judge, samples, stm, seed=2, reference=reference).to_dict()
        assert kept == fresh, name


def test_real_frames_are_embedded_once_however_often_a_model_is_judged(judged_memory):
    stm, judge = judged_memory
    reference = RealReference(judge, stm)
    samples = {key: judge.real_frames(stm, key)[1] for key in stm.keys}
    embedded = []
    original = judge.features
    judge.features = lambda frames: embedded.append(len(frames)) or original(frames)
    try:
        for _ in range(3):
            judge_samples(judge, samples, stm, reference=reference)
        first = len(embedded)
        judge_samples(judge, samples, stm)  # no reference: the real frames again
    finally:
        del judge.features
    assert first == stm.num_keys  # one call per state, on the first judgement only
    assert len(embedded) == 2 * stm.num_keys


def test_only_the_states_asked_for_are_computed(judged_memory):
    stm, judge = judged_memory
    reference = RealReference(judge, stm)
    key = stm.keys[0]
    judge_samples(judge, {key: stm.queue(key)}, stm, reference=reference)
    assert list(reference._states) == [key]
    assert reference.state(key) is reference.state(key)


def test_a_reference_belongs_to_one_judge_and_one_memory(judged_memory):
    stm, judge = judged_memory
    other = train_judge(stm, seed=1, steps=10)
    reference = RealReference(judge, stm)
    samples = {stm.keys[0]: stm.queue(stm.keys[0])}
    with pytest.raises(InvalidValueError, match="another judge"):
        judge_samples(other, samples, stm, reference=reference)
    changed = stm.copy()
    changed.add(stm.keys[0], np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(InvalidValueError, match="trained on other frames"):
        judge_samples(judge, samples, changed, reference=reference)
    with pytest.raises(InvalidValueError, match="trained on other frames"):
        RealReference(judge, changed)
