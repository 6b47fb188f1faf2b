"""Training until recall is good: fit_until's loop, the Subset sampler, RecallTarget and
``man-rl train --until``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import InvalidValueError
from man_rl.evaluation import RecallTarget, train_judge
from man_rl.ltm import TypeA, TypeB, Verdict, fit_until, stopping
from man_rl.ltm.common import KeyIndex
from man_rl.stm import Subset


def two_states(varied: bool = False) -> ShortTermMemory:
    """Two states of 8x8 frames; ``varied``: each state's frames differ visibly."""
    stm = ShortTermMemory(capacity=10, seed=0)
    rng = np.random.default_rng(0)
    for i in range(10):
        for key, level in (("dark", 30), ("light", 200)):
            frame = np.full((8, 8), level, np.uint8)
            if varied:
                frame[rng.integers(8), :] = level + 50  # a bright row somewhere
                frame[-1, -1] = 20 * i  # and no two frames alike
            else:
                frame[0, 0] += i % 2
            stm.add(key, frame)
    return stm


class Rule:
    """Met at the ``met_at``-th check; records the models' steps and what it was told."""

    def __init__(self, met_at: int | None, sampler=None) -> None:
        self.met_at, self._sampler, self.steps, self.stopped = met_at, sampler, [], None

    def sampler(self, memory):
        return self._sampler

    def check(self, model):
        self.steps.append(model.training_state.step)
        met = self.met_at is not None and len(self.steps) >= self.met_at
        return Verdict(met, len(self.steps), f"check {len(self.steps)}")

    def on_stop(self, stopped):
        self.stopped = stopped


class TestFitUntil:
    def test_stops_when_the_rule_is_met_and_says_so(self):
        stm = two_states()
        rule = Rule(met_at=3)
        stopped = fit_until(TypeA.for_memory(stm, seed=0), stm, rule, every=5, progress=False)
        assert (stopped.reason, stopped.steps, rule.steps) == ("met", 15, [5, 10, 15])
        assert rule.stopped is stopped and stopped.verdict.summary == "check 3"
        assert [step for step, _ in stopped.checks] == [5, 10, 15]
        assert str(stopped).startswith("target met after 15 steps")

    def test_max_steps_and_budget_stop_a_rule_never_met(self):
        stm = two_states()
        rule = Rule(met_at=None)
        stopped = fit_until(
            TypeA.for_memory(stm, seed=0), stm, rule, every=4, max_steps=10, progress=False
        )
        assert (stopped.reason, stopped.steps, rule.steps) == ("steps", 10, [4, 8, 10])
        assert "step limit reached, target not met" in str(stopped)
        stopped = fit_until(
            TypeA.for_memory(stm, seed=0), stm, Rule(None), budget=1.5, every=3, progress=False
        )
        assert stopped.reason == "budget" and stopped.steps > 0 and stopped.verdict is not None
        assert 1.0 <= stopped.seconds < 6.0

    def test_checks_grow_apart_when_they_are_slow(self):
        class SlowRule(Rule):
            def check(self, model):
                import time

                time.sleep(0.3)
                return super().check(model)

        stm = two_states()
        rule = SlowRule(met_at=3)
        fit_until(TypeA.for_memory(stm, seed=0), stm, rule, progress=False)
        chunks = np.diff([0, *rule.steps])
        assert chunks[0] == 200 and chunks[1] >= chunks[0] and chunks[2] >= chunks[1]

    def test_the_rate_cools_down_over_the_budgets_last_share(self, monkeypatch):
        clock = (0.5 * i for i in range(100_000))  # every look at the clock: 0.5 s later

        monkeypatch.setattr(stopping.time, "perf_counter", lambda: next(clock))

        class LrRule(Rule):
            def check(self, model):
                self.rates.append(model.training_state.optimizer.param_groups[0]["lr"])
                return super().check(model)

        stm = two_states()
        rule = LrRule(met_at=None)
        rule.rates = []
        fit_until(
            TypeA.for_memory(stm, seed=0), stm, rule, every=1, budget=100, lr=0.01, progress=False
        )
        rates = rule.rates  # the rate each chunk ended at (warm-up aside)
        assert rates[0] == 0.01 and len(rates) > 5
        assert rates == sorted(rates, reverse=True)
        assert 0.001 <= rates[-1] < 0.003  # near FINAL_LR_SHARE at the budget's end

    def test_continues_the_same_training_and_the_model_fit_keyword(self):
        stm = two_states()
        model = TypeB.for_memory(stm, seed=0)
        model.fit(stm, 5, seed=0, progress=False)
        rule = Rule(met_at=1)
        history = model.fit(stm, until=rule, progress=False)
        assert rule.stopped.reason == "met" and history["step"][-1] == 5 + 200
        with pytest.raises(InvalidValueError, match="steps=N, or until="):
            model.fit(stm, progress=False)
        with pytest.raises(InvalidValueError, match="budget= goes with until="):
            model.fit(stm, 3, budget=10, progress=False)

    @pytest.mark.parametrize(
        "options, message",
        [
            ({"budget": 0}, "budget"),
            ({"budget": float("inf")}, "budget"),
            ({"budget": "10"}, "budget"),
            ({"max_steps": 0}, "max_steps"),
            ({"every": -1}, "every"),
            ({"sampler": None}, "sets sampler itself"),
        ],
    )
    def test_bad_options_are_clear_errors(self, options, message):
        stm = two_states()
        with pytest.raises(InvalidValueError, match=message):
            fit_until(TypeA.for_memory(stm, seed=0), stm, Rule(1), progress=False, **options)


class TestSubset:
    def test_draws_only_the_allowed_frames_balanced(self):
        allowed = [np.array([True, False, True, False]), np.array([False, True]), np.zeros(3, bool)]
        subset = Subset(allowed)
        labels, places = subset.draw_many(np.array([4, 2, 3]), 500, 2, np.random.default_rng(0))
        pairs = set(zip(labels.ravel().tolist(), places.ravel().tolist(), strict=True))
        assert pairs == {(0, 0), (0, 2), (1, 1)}
        assert 0.4 < np.mean(labels == 0) < 0.6  # balanced over the keys that have frames

    def test_refuses_a_memory_that_changed_and_an_empty_subset(self):
        subset = Subset([np.array([True, True])])
        with pytest.raises(InvalidValueError, match="memory changed"):
            subset.draw(np.array([3]), 4, np.random.default_rng(0))
        with pytest.raises(InvalidValueError, match="at least one"):
            Subset([np.zeros(2, bool)])

    def test_training_through_it_never_sees_the_left_out_frames(self):
        stm = ShortTermMemory(capacity=4)
        for level in (10, 20, 30, 40):
            stm.add("a", np.full((2, 2), level, np.uint8))
        subset = Subset([np.array([True, False, True, False])])
        frames, _ = stm.sample(200, sampler=subset)
        assert set(frames[:, 0, 0].tolist()) == {10, 30}


class Replay:
    """A fake model that "recalls" chosen real frames: what a perfect model, a confused
    one or a blurring one would draw, so the target's controls need no training."""

    def __init__(self, keys, frames_by_key, recognize=None):
        self.key_index = KeyIndex(keys)
        self.frames = frames_by_key
        self.frame_shape = next(iter(frames_by_key.values())).shape[1:]
        self.device = torch.device("cpu")
        self.recognizes = recognize is not None
        if recognize is not None:
            self.recognize = recognize

    def generate(self, labels, generator):
        out = []
        for i, label in enumerate(labels.tolist()):
            frames = self.frames[self.key_index.keys[label]]
            out.append(frames[i % len(frames)])
        x = torch.from_numpy(np.stack(out)).float() / 255
        return x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)


class TestRecallTarget:
    def judged(self, stm):
        judge = train_judge(stm, steps=60, seed=0)
        return judge, {k: judge.real_frames(stm, k)[0] for k in stm.keys}

    def test_real_frames_meet_it(self):
        stm = two_states(varied=True)
        judge, train = self.judged(stm)
        target = RecallTarget(stm, judge=judge)
        verdict = target.check(Replay(stm.keys, train))
        assert verdict.met and verdict.figure == 1.0 and "diversity" in verdict.summary

    def test_negative_controls_wrong_state_mean_frame_and_bad_recognition(self):
        stm = two_states(varied=True)
        judge, train = self.judged(stm)
        target = RecallTarget(stm, judge=judge)
        swapped = {"dark": train["light"], "light": train["dark"]}
        verdict = target.check(Replay(stm.keys, swapped))
        assert not verdict.met and verdict.figure == 0.0
        means = {k: np.round(f.mean(0, keepdims=True)).astype(np.uint8) for k, f in train.items()}
        verdict = target.check(Replay(stm.keys, means))
        assert not verdict.met  # one blurred screen: no diversity, far from every real one
        assert "fidelity" in verdict.summary and "diversity" in verdict.summary
        blind = Replay(stm.keys, train, recognize=lambda frames: [None] * len(frames))
        verdict = target.check(blind)
        assert not verdict.met and "recognition 0.000" in verdict.summary
        seeing = Replay(stm.keys, train, recognize=lambda frames: ["dark"] * len(frames))
        assert "recognition 0.500" in target.check(seeing).summary

    def test_invisible_variety_is_not_asked_for(self):
        stm = two_states(varied=False)  # frames differ by one grey level in one pixel
        judge, train = self.judged(stm)
        one = {k: f[:1] for k, f in train.items()}
        verdict = RecallTarget(stm, judge=judge).check(Replay(stm.keys, one))
        assert verdict.met and "diversity" not in verdict.summary

    def test_training_leaves_the_judges_held_out_frames_out(self):
        stm = two_states(varied=True)
        target = RecallTarget(stm, seed=0)
        subset = target.sampler(stm)
        frames, labels = stm.sample(400, sampler=subset)
        for i, key in enumerate(stm.keys):
            _, held = target.judge.real_frames(stm, key)
            drawn = {f.tobytes() for f in frames[labels == i]}
            assert len(held) and not drawn & {f.tobytes() for f in held}
        with pytest.raises(InvalidValueError, match="another memory"):
            target.sampler(two_states())

    @pytest.mark.parametrize(
        "options", [{"share": 0}, {"share": 1.5}, {"fidelity": 0}, {"diversity": (2, 1)}]
    )
    def test_bad_settings(self, options):
        with pytest.raises(InvalidValueError):
            RecallTarget(two_states(), **options)


def minigrid_file(tmp_path, env_id, steps, capacity=6):
    from man_rl.envs import random_walk_memory

    memory = random_walk_memory(env_id, steps=steps, capacity=capacity, seed=0, tile_size=4)
    path = tmp_path / "memory.manrl"
    memory.save(path)
    return path


def test_train_until_meets_the_target_on_empty_5x5(tmp_path, capsys):
    memory = minigrid_file(tmp_path, "MiniGrid-Empty-5x5-v0", 600)
    out = tmp_path / "ltm.manrl"
    argv = ["train", "--memory", str(memory), "--model", "B", "--out", str(out), "--until"]
    assert main([*argv, "--budget", "300", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "stopped: target met after" in printed
    assert "judge acc" in printed and "fidelity" in printed and "recognition" in printed
    steps = int(printed.split("target met after ")[1].split(" steps")[0])
    assert TypeB.load(out).training_state.step == steps


def test_train_until_stops_by_itself_on_dynamic_obstacles(tmp_path, capsys):
    memory = minigrid_file(tmp_path, "MiniGrid-Dynamic-Obstacles-5x5-v0", 600)
    out = tmp_path / "ltm.manrl"
    argv = ["train", "--memory", str(memory), "--model", "A", "--out", str(out)]
    assert main([*argv, "--budget", "0.01", "--quiet"]) == 2  # not even the judge fits
    assert "spent before the first training step" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, "--budget", "300", "--quiet"]) == 0  # no --steps: until good
    printed = capsys.readouterr().out
    line = next(s for s in printed.splitlines() if s.startswith("stopped: "))
    assert "stopped: target met after" in line and "judge acc" in line  # ~400 steps, 16 s
    assert "diversity" in line  # its obstacles move: a state's screens vary
    assert TypeA.load(out).training_state.step > 0


def test_train_until_options_are_checked(capsys):
    base = ["train", "--memory", "m", "--model", "A", "--out", "o"]
    for extra in (["--until", "1.5"], ["--until", "0"], ["--budget", "-3"]):
        with pytest.raises(SystemExit) as info:
            main([*base, *extra])
        assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_cli_shows_the_library_defaults():
    # man-rl train keeps its own copies so that --help need not import torch
    from man_rl.cli import train
    from man_rl.evaluation.target import DEFAULT_SHARE
    from man_rl.ltm.stopping import DEFAULT_BUDGET

    assert (train.DEFAULT_SHARE, train.DEFAULT_BUDGET) == (DEFAULT_SHARE, DEFAULT_BUDGET)
