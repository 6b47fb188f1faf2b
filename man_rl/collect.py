"""Collection: run a policy in a :class:`MemoryWrapper` and fill its short-term memory."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.memory import ShortTermMemory
from man_rl.wrapper import MemoryWrapper

Policy = Callable[[Any, dict[str, Any]], Any]


@dataclass
class CollectResult:
    """What :func:`collect` did: steps taken, episodes finished, and whether it was stopped."""

    steps: int = 0
    episodes: int = 0
    interrupted: bool = False
    returns: list[float] = field(default_factory=list)


def epsilon_greedy(
    policy: Policy, action_space: gym.Space, epsilon: float, rng: np.random.Generator
) -> Policy:
    """Wrap ``policy`` so that with probability ``epsilon`` it takes a uniform random action.

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> always_zero = lambda obs, info: 0
        >>> explore = epsilon_greedy(always_zero, gym.spaces.Discrete(3), 1.0,
        ...                          np.random.default_rng(0))
        >>> sorted({explore(None, {}) for _ in range(50)})
        [0, 1, 2]
    """
    if not 0.0 <= epsilon <= 1.0:
        raise InvalidValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if not isinstance(action_space, gym.spaces.Discrete) and epsilon > 0:
        raise InvalidValueError(
            f"epsilon-greedy exploration needs a Discrete action space, got {action_space}"
        )

    def act(obs: Any, info: dict[str, Any]) -> Any:
        if epsilon > 0 and rng.random() < epsilon:
            return int(action_space.start + rng.integers(action_space.n))
        return policy(obs, info)

    return act


def collect(
    env: MemoryWrapper,
    policy: Policy,
    steps: int,
    *,
    seed: int | None = None,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> CollectResult:
    """Run ``policy`` for ``steps`` env steps, resetting at episode ends.

    Every visited state's frame lands in ``env.memory`` (the wrapper does that). Ctrl-C (or a
    SIGTERM turned into ``KeyboardInterrupt``) stops the loop and returns what was done so far
    with ``interrupted=True``, so the caller can save the memory; so does ``stop()``
    returning true (checked before each step; worker processes use it).

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = MemoryWrapper(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                              tile_size=8), capacity=10)
        >>> result = collect(env, lambda obs, info: 2, steps=20, seed=0)
        >>> result.steps, len(env.memory) > 0
        (20, True)
    """
    if steps < 1:
        raise InvalidValueError(f"steps must be >= 1, got {steps}")
    result = CollectResult()
    bar = _progress_bar(steps, progress)
    episode_return = 0.0
    try:
        obs, info = env.reset(seed=seed)
        for _ in range(steps):
            if stop is not None and stop():
                result.interrupted = True
                break
            obs, reward, terminated, truncated, info = env.step(policy(obs, info))
            result.steps += 1
            episode_return += float(reward)
            bar.update(1)
            if terminated or truncated:
                result.episodes += 1
                result.returns.append(episode_return)
                episode_return = 0.0
                obs, info = env.reset()
                bar.set_postfix(states=env.memory.num_keys, episodes=result.episodes, refresh=False)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
    return result


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", desc="collect")


@dataclass
class CoverageSummary:
    """States seen and frames per state; ``never_seen`` when the state space is known."""

    states_seen: int
    frames: int
    min_per_state: int
    median_per_state: float
    max_per_state: int
    never_seen: list[Hashable] | None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"states seen: {self.states_seen}",
            f"frames held: {self.frames} (per state: min {self.min_per_state}, "
            f"median {self.median_per_state:g}, max {self.max_per_state})",
        ]
        if self.never_seen is not None:
            shown = ", ".join(map(repr, self.never_seen[:10]))
            more = " ..." if len(self.never_seen) > 10 else ""
            out.append(f"states never seen: {len(self.never_seen)} {shown}{more}".rstrip())
        return out


def summarize(
    memory: ShortTermMemory, known_states: Iterable[Hashable] | None = None
) -> CoverageSummary:
    """Summarise what ``memory`` holds, and which of ``known_states`` it never saw."""
    counts = np.array(list(memory.counts().values()) or [0])
    never = None
    if known_states is not None:
        never = [key for key in known_states if key not in memory]
    return CoverageSummary(
        states_seen=memory.num_keys,
        frames=len(memory),
        min_per_state=int(counts.min()),
        median_per_state=float(np.median(counts)),
        max_per_state=int(counts.max()),
        never_seen=never,
    )


__all__ = ["CollectResult", "CoverageSummary", "Policy", "collect", "epsilon_greedy", "summarize"]
