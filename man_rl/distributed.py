"""Collection fanned out over Ray tasks, merged into one short-term memory.

Ray is optional: ``pip install 'man_rl[ray]'``. Each task builds its own env and policy from
the callables it is given, collects its share of the steps in a :class:`MemoryWrapper`, and
sends back plain arrays (keys and frames, never pickled memory objects); the driver merges the
results in task order, so the outcome does not depend on which task finished first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import gymnasium as gym
import numpy as np

from man_rl.collect import Policy, collect, epsilon_greedy
from man_rl.errors import InvalidValueError
from man_rl.memory import ShortTermMemory
from man_rl.wrapper import MemoryWrapper

EnvFactory = Callable[[], gym.Env]
PolicyFactory = Callable[[gym.Env, int], Policy]


def collect_shard(
    make_env: EnvFactory,
    make_policy: PolicyFactory,
    steps: int,
    *,
    seed: int,
    capacity: int,
    epsilon: float = 0.0,
) -> list[tuple[Hashable, np.ndarray]]:
    """Collect ``steps`` steps in a fresh env; returns ``[(key, frames oldest first)]``.

    This is the body of one Ray task; it also runs without Ray.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> make_env = lambda: gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                             tile_size=8)
        >>> shard = collect_shard(make_env, lambda env, seed: (lambda obs, info: 2), 3,
        ...                       seed=0, capacity=5)
        >>> [key for key, frames in shard]
        [(1, 1, 0), (2, 1, 0), (3, 1, 0)]
    """
    env = MemoryWrapper(make_env(), capacity=capacity)
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    policy = epsilon_greedy(make_policy(env, seed), env.action_space, epsilon, rng)
    collect(env, policy, steps, seed=seed)
    env.close()
    return [(key, env.memory.queue(key)) for key in env.memory.keys]


def collect_with_ray(
    make_env: EnvFactory,
    make_policy: PolicyFactory,
    steps: int,
    *,
    workers: int,
    seed: int = 0,
    capacity: int = 500,
    epsilon: float = 0.0,
    memory: ShortTermMemory | None = None,
    ray_init: dict[str, Any] | None = None,
) -> ShortTermMemory:
    """Split ``steps`` over ``workers`` Ray tasks (seeds ``seed + i``) and merge the results.

    Starts a local Ray instance when none is running (``ray_init`` is passed to
    ``ray.init``); the factories must be importable or picklable by Ray (module-level
    functions or ``functools.partial`` of them).
    """
    if workers < 1:
        raise InvalidValueError(f"workers must be >= 1, got {workers}")
    if steps < workers:
        raise InvalidValueError(f"steps ({steps}) must be at least the number of workers")
    try:
        import ray
    except ImportError:
        raise InvalidValueError(
            "Ray is not installed; install the extra with pip install 'man_rl[ray]'"
        ) from None
    if not ray.is_initialized():
        ray.init(**{"include_dashboard": False, "log_to_driver": False, **(ray_init or {})})
    task = ray.remote(collect_shard)
    shares = [steps // workers + (i < steps % workers) for i in range(workers)]
    futures = [
        task.remote(make_env, make_policy, share, seed=seed + i, capacity=capacity, epsilon=epsilon)
        for i, share in enumerate(shares)
    ]
    memory = memory if memory is not None else ShortTermMemory(capacity)
    for shard in ray.get(futures):
        for key, frames in shard:
            for frame in frames:
                memory.add(key, frame)
    return memory


__all__ = ["collect_shard", "collect_with_ray"]
