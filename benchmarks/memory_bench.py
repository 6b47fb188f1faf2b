"""Short-term memory and wrapper speed against their natural baselines."""

from __future__ import annotations

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid envs)
import numpy as np

from benchmarks.harness import Row, interleaved, paired_ratios, rss_anon_bytes
from man_rl import MemoryWrapper, ShortTermMemory


def wrapper_step(steps: int, repeats: int) -> Row:
    """MemoryWrapper.step (render + store) vs bare env.step + env.render on Empty-8x8."""
    make = lambda: gym.make("MiniGrid-Empty-8x8-v0", render_mode="rgb_array", tile_size=8)  # noqa: E731
    bare, wrapped = make(), MemoryWrapper(make(), capacity=500)
    actions = np.random.default_rng(0).integers(3, size=steps)

    def run_bare() -> None:
        bare.reset(seed=0)
        for action in actions:
            _, _, terminated, truncated, _ = bare.step(action)
            bare.render()
            if terminated or truncated:
                bare.reset()

    def run_wrapped() -> None:
        wrapped.reset(seed=0)
        for action in actions:
            _, _, terminated, truncated, _ = wrapped.step(action)
            if terminated or truncated:
                wrapped.reset()

    run_bare(), run_wrapped()  # warm up
    mine, base = interleaved(run_wrapped, run_bare, repeats)
    ratio = mine / base
    return Row(
        "MemoryWrapper step, Empty-8x8 tile 8",
        f"{mine / steps * 1e6:.0f} us/step",
        f"bare step+render {base / steps * 1e6:.0f} us/step",
        ratio,
        "<= 1.05x bare",
        ratio <= 1.05,
    )


def _replay_buffer(size: int, shape: tuple[int, ...]):
    from stable_baselines3.common.buffers import ReplayBuffer

    return ReplayBuffer(
        size,
        gym.spaces.Box(0, 255, shape, np.uint8),
        gym.spaces.Discrete(4),
        device="cpu",
        handle_timeout_termination=False,
    )


def add_speed(n: int, repeats: int, shape=(64, 64, 3)) -> Row:
    """ShortTermMemory.add vs stable-baselines3 ReplayBuffer.add, 64x64x3 frames.

    Both are built and filled once first, so the timed adds are the steady state (a full ring
    overwriting its oldest frames), not first-touch page faults of fresh allocations.
    """
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(n + 1, *shape), dtype=np.uint8)
    keys = [(int(k) % 8, int(k) // 8 % 8, int(k) % 4) for k in rng.integers(0, 256, n)]
    action, reward, done = np.array([1]), np.array([0.0]), np.array([False])
    stm = ShortTermMemory(max(1, n // 64))
    buffer = _replay_buffer(n, shape)

    def ours() -> None:
        for key, frame in zip(keys, frames, strict=False):
            stm.add(key, frame)

    def sb3() -> None:
        for i in range(n):
            buffer.add(frames[i], frames[i + 1], action, reward, done, [{}])

    ours(), sb3()  # fill both: later rounds overwrite, as a long collection does
    mine, base = interleaved(ours, sb3, repeats)
    speedup = base / mine
    return Row(
        "ShortTermMemory.add, 64x64x3",
        f"{mine / n * 1e6:.1f} us/frame",
        f"SB3 ReplayBuffer.add {base / n * 1e6:.1f} us",
        speedup,
        ">= 2x faster",
        speedup >= 2,
    )


def sample_speed(batches: int, repeats: int, shape=(64, 64, 3), frames: int = 20_000) -> list[Row]:
    """ShortTermMemory.sample(256) balanced vs SB3's ReplayBuffer.sample(256) and the machine.

    The machine's gather limit: ``torch.index_select`` of 256 random frames (indices from
    ``torch.randint``) from one contiguous tensor of the same frames. The three are timed in
    turn, round after round; the ratios are medians of per-round ratios. Each batch is
    dropped before the next is drawn, as in training.
    (Keeping all of them alive, as an earlier version of this benchmark did, puts every batch
    in fresh pages and measures page faults more than sampling.)
    """
    import torch

    rng = np.random.default_rng(0)
    stm = ShortTermMemory(frames // 100 + 1, seed=0)
    buffer = _replay_buffer(frames, shape)
    frame = rng.integers(0, 256, size=shape, dtype=np.uint8)
    action, reward, done = np.array([1]), np.array([0.0]), np.array([False])
    for i in range(frames):
        stm.add(i % 100, frame)
        buffer.add(frame, frame, action, reward, done, [{}])
    contiguous = torch.from_numpy(
        rng.integers(0, 256, size=(frames, int(np.prod(shape))), dtype=np.uint8)
    )

    def gather_limit(n: int) -> None:
        torch.index_select(contiguous, 0, torch.randint(0, frames, (n,)))

    def draw(sample) -> None:
        for _ in range(batches):
            sample(256)  # used and dropped, as a training step does

    mine, (base, limit), (speedup, share) = paired_ratios(
        lambda: draw(stm.sample), [lambda: draw(buffer.sample), lambda: draw(gather_limit)], repeats
    )
    ours = f"{batches * 256 / mine:,.0f} frames/s ({batches / mine:,.0f} calls/s)"
    return [
        Row(
            "ShortTermMemory.sample(256) balanced",
            ours,
            f"SB3 ReplayBuffer.sample {batches * 256 / base:,.0f} frames/s",
            speedup,
            ">= 5x faster",
            speedup >= 5,
        ),
        Row(
            "ShortTermMemory.sample(256) vs the machine's gather limit",
            ours,
            f"torch.index_select of 256 random frames {batches / limit:,.0f} calls/s",
            share,
            ">= 0.9 of the limit",
            share >= 0.9,
        ),
    ]


def _fill_and_measure(frames: int, shape: tuple[int, ...], keys: int) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=shape, dtype=np.uint8)
    before = rss_anon_bytes()
    stm = ShortTermMemory(frames // keys, seed=0)
    for i in range(frames):
        stm.add(i % keys, frame)
    return rss_anon_bytes() - before, frames * frame.nbytes


def footprint(frames: int = 20_000, shape=(64, 64, 3), keys: int = 100) -> Row:
    """Resident memory added by holding ``frames`` frames vs their raw bytes.

    Measured in a fresh process: in this one, memory freed by earlier benchmarks would be
    reused without growing ``RssAnon`` and hide the memory's cost.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        grown, raw = pool.apply(_fill_and_measure, (frames, shape, keys))
    ratio = grown / raw
    return Row(
        f"memory footprint, {frames:,} frames 64x64x3",
        f"{grown / 2**20:.0f} MiB RssAnon",
        f"raw frame bytes {raw / 2**20:.0f} MiB",
        ratio,
        "<= 1.05x raw",
        ratio <= 1.05,
    )


def run(quick: bool = False) -> list[Row]:
    """All memory benchmarks; ``quick`` uses tiny settings (for the test suite)."""
    if quick:
        return [
            wrapper_step(50, 1),
            add_speed(200, 1),
            *sample_speed(2, 1, frames=1000),
            footprint(2000, keys=10),
        ]
    return [wrapper_step(3000, 7), add_speed(5000, 5), *sample_speed(20, 80), footprint()]
