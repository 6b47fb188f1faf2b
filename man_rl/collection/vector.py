"""Collecting from a gymnasium vector env, stepped in lock-step, into one memory here.

For training loops that already step vector envs. On a few cores, worker processes that
each step their own env (:class:`~man_rl.collection.processes.CollectorPool`) collect
faster: a lock-step step waits for the slowest sub-env and for this process.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from man_rl.collection.core import CollectRequest, CollectResult, EnvFactory, worker_seeds
from man_rl.env.vector import KEY_INFO, make_memory_vec_env
from man_rl.errors import InvalidValueError
from man_rl.keys import KeyFn


class Vector:
    """``num_envs`` copies of ``make_env()`` in a gymnasium vector env, one memory here.

    Each sub-env ``i`` gets seed ``seed + i`` and a policy of its own (``make_policy(env,
    seed=seed + i)``, built on a scratch env made here), acting on its slice of the batch
    with ``info = {"state_key": ...}``. The vector env is made on the first collection and
    kept for the next ones until :meth:`close` (or the end of a ``with`` block).

    Args:
        make_env: ``make_env() -> gym.Env`` with ``render_mode="rgb_array"`` (picklable for
            ``"async"``).
        num_envs: sub-envs.
        mode: ``"async"`` (a process per sub-env) or ``"sync"`` (all in this process).
        key_fn: state keys (default: each env's adapter).

    Example:
        >>> from functools import partial
        >>> import gymnasium as gym, minigrid
        >>> from man_rl.collection import collect
        >>> make_env = partial(gym.make, "MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                    tile_size=8)
        >>> with Vector(make_env, 2, mode="sync") as source:
        ...     result = collect(source, None, 20, seed=0, capacity=5)
        >>> result.steps, result.envs
        (20, 2)
    """

    def __init__(
        self,
        make_env: EnvFactory,
        num_envs: int,
        *,
        mode: Literal["sync", "async"] = "async",
        key_fn: KeyFn | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise InvalidValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if mode not in ("sync", "async"):
            raise InvalidValueError(f"mode must be 'sync' or 'async', got {mode!r}")
        self.make_env, self.envs, self.mode, self.key_fn = make_env, num_envs, mode, key_fn
        self._vec: Any = None

    def close(self) -> None:
        """Close the vector env (its worker processes, for ``"async"``)."""
        if self._vec is not None:
            self._vec.close()
            self._vec = None

    def __enter__(self) -> Vector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, request: CollectRequest) -> CollectResult:
        """Step all sub-envs until ``steps`` sub-env steps were taken (see ``collect``)."""
        from tqdm import tqdm

        memory, steps, stop = request.target(), request.steps, request.stop
        seeds = worker_seeds(request.seed, self.envs)
        scratch = self.make_env()
        try:
            policies = [request.policy_for(scratch, s) for s in seeds]
        finally:
            scratch.close()
        if self._vec is None:
            self._vec = make_memory_vec_env(
                self.make_env,
                self.envs,
                vectorization_mode=self.mode,
                capacity=request.capacity,
                key_fn=self.key_fn if request.key_fn is None else request.key_fn,
                frame=request.frame,
            )
        vec = self._vec
        vec.memory = memory
        result = CollectResult(memory=memory, envs=self.envs)
        returns = np.zeros(self.envs)
        bar = tqdm(total=steps, disable=not request.progress, unit="step", desc="collect")
        try:
            obs, infos = vec.reset(seed=seeds)
            while result.steps < steps:
                if stop is not None and stop():
                    result.interrupted = True
                    break
                keys = infos.get(KEY_INFO)
                actions = np.asarray(
                    [act(_slice(obs, i), {KEY_INFO: keys[i]}) for i, act in enumerate(policies)]
                )
                obs, rewards, terminations, truncations, infos = vec.step(actions)
                result.steps += self.envs
                returns += rewards
                for i in np.flatnonzero(np.logical_or(terminations, truncations)):
                    result.episodes += 1
                    result.returns.append(float(returns[i]))
                    returns[i] = 0.0
                bar.update(self.envs)
        except KeyboardInterrupt:
            result.interrupted = True
            self.close()  # a step may have been cut half-way: start afresh next time
        finally:
            bar.close()
        return result


def _slice(obs: Any, i: int) -> Any:
    """Sub-env ``i``'s observation of a batch (dicts and tuples sliced leaf by leaf)."""
    if isinstance(obs, dict):
        return {k: _slice(v, i) for k, v in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_slice(v, i) for v in obs)
    return obs[i]


__all__ = ["Vector"]
