"""Collection: run a policy in an env and fill a short-term memory; one entry point, one result.

:func:`collect` takes a *source* of experience and returns a :class:`CollectResult` whatever
runs it:

- a ``gym.Env`` (a :class:`~man_rl.env.wrapper.MemoryWrapper`, or any env, which is wrapped);
- :class:`~man_rl.collection.vector.Vector`: a gymnasium vector env stepped in lock-step;
- :class:`~man_rl.collection.processes.CollectorPool`: local worker processes, each
  stepping its own env;
- :class:`~man_rl.collection.ray.RayTasks`: Ray tasks, on one machine or many.

Every source explores the same way (:func:`exploring_policy`, seeded), and Ctrl-C does the
same everywhere: collection stops, what was gathered is in ``result.memory`` and
``result.interrupted`` is true, so the caller can save it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from man_rl.env.wrapper import FrameSource, MemoryWrapper
from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.keys import KeyFn
from man_rl.stm.memory import ShortTermMemory

Policy = Callable[[Any, dict[str, Any]], Any]
#: ``make_policy(env, seed) -> Policy``: builds a policy for one env (in a worker, say).
PolicyFactory = Callable[..., Policy]
EnvFactory = Callable[[], gym.Env]
#: Frames kept per state when a source makes the memory.
DEFAULT_CAPACITY = 500


@dataclass
class CollectResult:
    """What :func:`collect` gathered and did, whatever source ran it.

    Attributes:
        memory: the short-term memory holding the frames.
        steps: env steps taken (over all envs).
        episodes: episodes finished.
        interrupted: stopped early (Ctrl-C, ``stop()``), with what was gathered kept.
        returns: the return of each finished episode (workers' in worker order).
        envs: how many envs collected (sub-envs or workers).
    """

    memory: ShortTermMemory
    steps: int = 0
    episodes: int = 0
    interrupted: bool = False
    returns: list[float] = field(default_factory=list)
    envs: int = 1

    @classmethod
    def combine(
        cls, parts: Sequence[CollectResult], memory: ShortTermMemory, *, interrupted: bool = False
    ) -> CollectResult:
        """One result of ``parts``, their memories merged into ``memory`` in order."""
        for part in parts:
            memory.merge(part.memory)
        return cls(
            memory=memory,
            steps=sum(p.steps for p in parts),
            episodes=sum(p.episodes for p in parts),
            interrupted=interrupted or any(p.interrupted for p in parts),
            returns=[r for p in parts for r in p.returns],
            envs=len(parts),
        )


@dataclass(frozen=True)
class CollectRequest:
    """What :func:`collect` asks a source for: the arguments of ``collect``, checked.

    ``memory`` is the memory to add to, ``None`` for a new one of ``capacity`` seeded with
    ``seed`` (:meth:`target`).
    """

    policy: Policy | None
    make_policy: PolicyFactory | None
    steps: int
    memory: ShortTermMemory | None
    capacity: int
    seed: int | None
    epsilon: float
    progress: bool
    stop: Callable[[], bool] | None
    key_fn: KeyFn | None = None
    frame: FrameSource = "auto"

    def target(self) -> ShortTermMemory:
        """The memory to add to: the one given, or a new one."""
        if self.memory is not None:
            return self.memory
        return ShortTermMemory(self.capacity, seed=self.seed)

    def policy_for(self, env: gym.Env, seed: int | None) -> Policy:
        """The exploring policy of one env: ``make_policy(env, seed=seed)`` or ``policy``."""
        base = self.make_policy(env, seed=seed) if self.make_policy is not None else self.policy
        return exploring_policy(base, env.action_space, self.epsilon, seed)


class Source(Protocol):
    """Something :func:`collect` can collect from (see the module docstring)."""

    def run(self, request: CollectRequest) -> CollectResult:
        """Collect ``request.steps`` steps (see :func:`collect`)."""
        ...


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
    epsilon = _check_epsilon(epsilon)
    if not isinstance(action_space, gym.spaces.Discrete) and epsilon > 0:
        raise InvalidValueError(
            f"epsilon-greedy exploration needs a Discrete action space, got {action_space}"
        )

    def act(obs: Any, info: dict[str, Any]) -> Any:
        if epsilon > 0 and rng.random() < epsilon:
            return int(action_space.start + rng.integers(action_space.n))
        return policy(obs, info)

    return act


def exploring_policy(
    policy: Policy | None, action_space: gym.Space, epsilon: float, seed: int | None
) -> Policy:
    """The policy every source acts with: ``policy`` with epsilon-greedy exploration, seeded.

    ``policy=None`` acts uniformly at random (``action_space.sample()`` for spaces that are
    not ``Discrete``). The same seed gives the same actions.

    Example:
        >>> import gymnasium as gym
        >>> act = exploring_policy(None, gym.spaces.Discrete(3), 0.0, seed=0)
        >>> [act(None, {}) for _ in range(5)]
        [2, 1, 1, 0, 0]
    """
    epsilon = _check_epsilon(epsilon)
    rng = np.random.default_rng(seed)
    if policy is None:
        if isinstance(action_space, gym.spaces.Discrete):
            start, n = int(action_space.start), int(action_space.n)
            return lambda obs, info: start + int(rng.integers(n))
        action_space.seed(None if seed is None else int(seed))
        return lambda obs, info: action_space.sample()
    return policy if epsilon == 0 else epsilon_greedy(policy, action_space, epsilon, rng)


def _check_epsilon(epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.floating)):
        raise InvalidTypeError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise InvalidValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return float(epsilon)


def check_steps(steps: Any, workers: int = 1) -> int:
    """``steps`` as an int >= ``workers`` (each env takes at least one), or a clear error."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise InvalidTypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise InvalidValueError(f"steps must be >= 1, got {steps}")
    if steps < workers:
        raise InvalidValueError(f"steps ({steps}) must be at least the number of workers")
    return int(steps)


def shares(steps: int, workers: int) -> list[int]:
    """``steps`` split over ``workers`` as evenly as possible, the first ones taking more."""
    return [steps // workers + (i < steps % workers) for i in range(workers)]


def worker_seeds(seed: int | None, workers: int) -> list[int | None]:
    """``seed + i`` for worker ``i`` (``None``: fresh entropy for each)."""
    if seed is None:
        return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence().spawn(workers)]
    return [seed + i for i in range(workers)]


def collect(
    source: gym.Env | Source,
    policy: Policy | None,
    steps: int,
    *,
    make_policy: PolicyFactory | None = None,
    memory: ShortTermMemory | None = None,
    capacity: int | None = None,
    seed: int | None = None,
    epsilon: float = 0.0,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
    key_fn: KeyFn | None = None,
    frame: FrameSource = "auto",
) -> CollectResult:
    """Run a policy for ``steps`` env steps in all, storing every visited state's frame.

    Args:
        source: a ``gym.Env`` (a :class:`MemoryWrapper`, or any env made with
            ``render_mode="rgb_array"``, which is wrapped), or a source of several envs
            (:class:`~man_rl.collection.vector.Vector`,
            :class:`~man_rl.collection.processes.CollectorPool`,
            :class:`~man_rl.collection.ray.RayTasks`).
        policy: ``policy(obs, info) -> action`` (``info["state_key"]`` is the state), or
            ``None`` for uniform random actions. Worker sources pickle it to each worker.
        steps: env steps in all (split over the envs of a source).
        make_policy: instead of ``policy``, ``make_policy(env, seed=seed)`` builds one for
            each env (in its worker process, for worker sources; picklable then).
        memory: the memory to add to (default: the wrapper's, or a new one of
            ``capacity`` seeded with ``seed``).
        capacity: frames per state of a new memory (default 500).
        seed: seeds the env resets, the exploration and ``make_policy`` (env ``i`` of a
            source gets ``seed + i``); ``None``: fresh entropy.
        epsilon: chance of a uniform random action per step (needs a ``Discrete`` space).
        progress: show a progress bar (one env and vector envs).
        stop: ``stop() -> bool``, asked before each step; true stops collection early.
        key_fn: state keys of the envs the source wraps (default: each env's adapter); a
            :class:`MemoryWrapper` given as the source keeps its own. Worker sources pickle it.
        frame: where the wrapped envs' frames come from (see :class:`MemoryWrapper`).

    Returns:
        A :class:`CollectResult`; ``interrupted`` when Ctrl-C or ``stop()`` ended it early.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8)
        >>> result = collect(env, lambda obs, info: 2, steps=20, seed=0, capacity=10)
        >>> result.steps, result.episodes, len(result.memory) > 0
        (20, 0, True)
    """
    if policy is not None and make_policy is not None:
        raise InvalidValueError("give collect either policy or make_policy, not both")
    if isinstance(source, gym.Env):
        source = EnvSource(source)
    if not hasattr(source, "run"):
        raise InvalidTypeError(
            f"cannot collect from {type(source).__name__}: give a gym.Env, or a source "
            "(man_rl.collection.Vector, CollectorPool or RayTasks)"
        )
    request = CollectRequest(
        policy=policy,
        make_policy=make_policy,
        steps=check_steps(steps, getattr(source, "envs", 1)),
        memory=memory,
        capacity=DEFAULT_CAPACITY if capacity is None else capacity,
        seed=seed,
        epsilon=_check_epsilon(epsilon),
        progress=progress,
        stop=stop,
        key_fn=key_fn,
        frame=frame,
    )
    return source.run(request)


class EnvSource:
    """One env, stepped in this process (what :func:`collect` makes of a ``gym.Env``).

    Args:
        env: a :class:`MemoryWrapper`, or an env to wrap in one.
    """

    envs = 1

    def __init__(self, env: gym.Env) -> None:
        self.env = env

    def run(self, request: CollectRequest) -> CollectResult:
        """Collect ``request.steps`` steps from the env (see :func:`collect`)."""
        env, stop = self.env, request.stop
        if isinstance(env, MemoryWrapper):
            if request.memory is not None and request.memory is not env.memory:
                raise InvalidValueError(
                    "the env's MemoryWrapper writes to its own memory; pass memory= to the "
                    "wrapper instead, or give collect the unwrapped env"
                )
        else:
            env = MemoryWrapper(
                env, memory=request.target(), key_fn=request.key_fn, frame=request.frame
            )
        act = request.policy_for(env, request.seed)
        result = CollectResult(memory=env.memory)
        bar = _progress_bar(request.steps, request.progress)
        episode_return = 0.0
        try:
            obs, info = env.reset(seed=request.seed)
            for _ in range(request.steps):
                if stop is not None and stop():
                    result.interrupted = True
                    break
                obs, reward, terminated, truncated, info = env.step(act(obs, info))
                result.steps += 1
                episode_return += float(reward)
                bar.update(1)
                if terminated or truncated:
                    result.episodes += 1
                    result.returns.append(episode_return)
                    episode_return = 0.0
                    obs, info = env.reset()
                    postfix = {"states": env.memory.num_keys, "episodes": result.episodes}
                    bar.set_postfix(postfix, refresh=False)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            bar.close()
        return result


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", desc="collect")


__all__ = [
    "DEFAULT_CAPACITY",
    "CollectRequest",
    "CollectResult",
    "EnvFactory",
    "EnvSource",
    "Policy",
    "PolicyFactory",
    "Source",
    "check_steps",
    "collect",
    "epsilon_greedy",
    "exploring_policy",
    "shares",
    "worker_seeds",
]
