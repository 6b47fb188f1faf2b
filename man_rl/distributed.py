"""Collection fanned out over worker processes or Ray tasks, merged into one short-term memory.

Each worker builds its own env and policy from the callables it is given, collects its share
of the steps in a :class:`MemoryWrapper` (seed ``seed + i`` for worker ``i``), and sends back
plain arrays (keys and frames, never pickled memory objects); the caller merges the results in
worker order, so the outcome does not depend on which worker finished first.

- :class:`CollectorPool` / :func:`collect_with_processes`: local processes. Each worker steps
  its env on its own, with no per-step round trip to the main process, so on a 2-core machine
  two workers collect ~1.9x as fast as one env (a lock-step ``AsyncVectorEnv`` reached ~1.1x
  there; see BENCHMARKS.md).
- :func:`collect_with_ray`: Ray tasks, for more than one machine (``pip install
  'man_rl[ray]'``).

The factories must be picklable: module-level functions or ``functools.partial`` of them.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import partial
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
    stop: Callable[[], bool] | None = None,
) -> list[tuple[Hashable, np.ndarray]]:
    """Collect ``steps`` steps in a fresh env; returns ``[(key, frames oldest first)]``.

    This is the body of one worker process or Ray task; it also runs on its own. ``stop()``
    returning true ends collection early (what was gathered is still returned).

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
    policy = epsilon_greedy(make_policy(env, seed=seed), env.action_space, epsilon, rng)
    collect(env, policy, steps, seed=seed, stop=stop)
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
    shares = _shares(steps, workers)
    try:
        import ray
    except ImportError:
        raise InvalidValueError(
            "Ray is not installed; install the extra with pip install 'man_rl[ray]'"
        ) from None
    if not ray.is_initialized():
        ray.init(**{"include_dashboard": False, "log_to_driver": False, **(ray_init or {})})
    task = ray.remote(collect_shard)
    futures = [
        task.remote(make_env, make_policy, share, seed=seed + i, capacity=capacity, epsilon=epsilon)
        for i, share in enumerate(shares)
    ]
    return merge_shards(ray.get(futures), memory, capacity)


def _shares(steps: int, workers: int) -> list[int]:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidValueError(f"workers must be an int >= 1, got {workers!r}")
    if steps < workers:
        raise InvalidValueError(f"steps ({steps}) must be at least the number of workers")
    return [steps // workers + (i < steps % workers) for i in range(workers)]


def merge_shards(
    shards: Sequence[list[tuple[Hashable, np.ndarray]]],
    memory: ShortTermMemory | None,
    capacity: int,
) -> ShortTermMemory:
    """Add the shards' frames to ``memory`` (a new one of ``capacity`` if ``None``), in order."""
    memory = memory if memory is not None else ShortTermMemory(capacity)
    for shard in shards:
        for key, frames in shard:
            for frame in frames:
                memory.add(key, frame)
    return memory


def _check_picklable(**factories: Any) -> None:
    # A factory that cannot be pickled would otherwise fail inside the executor's feeder
    # thread, where (CPython 3.11) it can leave the pool hanging at shutdown; one defined in
    # an interactive __main__ pickles but cannot be found by the workers, which then die.
    main = sys.modules.get("__main__")
    interactive = not getattr(main, "__file__", None)
    for name, factory in factories.items():
        target = factory.func if isinstance(factory, partial) else factory
        if interactive and getattr(target, "__module__", None) == "__main__":
            raise InvalidValueError(
                f"{name} ({getattr(target, '__name__', target)!r}) is defined in an interactive "
                "session, which worker processes cannot import: define it in a module (a .py "
                "file) and import it from there"
            )
        try:
            pickle.dumps(factory)
        except Exception as error:
            raise InvalidValueError(
                f"{name} must be picklable to reach the worker processes: use a module-level "
                f"function or functools.partial of one, not a lambda or a local function "
                f"({type(error).__name__}: {error})"
            ) from None


_STOP: Any = None  # the pool's stop event, in each worker process


def _start_worker(stop: Any) -> None:
    # Ctrl-C reaches every process of the terminal's group: the main process decides what
    # happens and tells the workers through `stop`, so each one returns what it gathered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _STOP
    _STOP = stop
    from man_rl.envs import register_envs

    register_envs()  # MiniGrid's ids and man_rl's, as the main process knows them


def _should_stop() -> bool:
    return _STOP is not None and _STOP.is_set()


def _collect_in_worker(
    make_env: EnvFactory,
    make_policy: PolicyFactory,
    steps: int,
    seed: int,
    capacity: int,
    epsilon: float,
) -> list[tuple[Hashable, np.ndarray]]:
    return collect_shard(
        make_env,
        make_policy,
        steps,
        seed=seed,
        capacity=capacity,
        epsilon=epsilon,
        stop=_should_stop,
    )


class CollectorPool:
    """Local worker processes that collect shards in parallel; reuse it across calls.

    Workers start once (from a fork server, with man_rl already imported, where the platform
    has one) and stay up until :meth:`close` or the end of a ``with`` block, so repeated
    collections pay the start-up once. MiniGrid's and man_rl's env ids are registered in
    each worker; for other packages' envs, name the module in the id
    (``gym.make("my_pkg:MyEnv-v0")``) so that the worker imports it.

    Workers start with ``forkserver`` (or ``spawn``), not ``fork``, which is not safe once
    torch has started threads: as with any such multiprocessing code, a script that uses
    the pool needs the ``if __name__ == "__main__":`` guard, and the factories must live in
    an importable module.

    Args:
        workers: number of processes (one env each); the machine's core count is a good
            choice.

    Example:
        >>> from functools import partial
        >>> import gymnasium as gym
        >>> from man_rl.agents import make_policy
        >>> make_env = partial(gym.make, "MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                    tile_size=8)
        >>> with CollectorPool(2) as pool:
        ...     memory = pool.collect(make_env, partial(make_policy, "random"), 200,
        ...                           seed=0, capacity=50)
        >>> memory.num_keys > 1, memory.frame_shape
        (True, (40, 40, 3))
    """

    def __init__(self, workers: int) -> None:
        _shares(workers, workers)  # checks workers
        self.workers = workers
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(["man_rl.distributed", "man_rl.agents", "minigrid"])
        self._context = context
        self._stop = context.Event()
        self._busy = threading.Lock()
        self._closed = False
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(self._stop,),
        )

    def collect(
        self,
        make_env: EnvFactory,
        make_policy: PolicyFactory,
        steps: int,
        *,
        seed: int = 0,
        capacity: int = 500,
        epsilon: float = 0.0,
        memory: ShortTermMemory | None = None,
    ) -> ShortTermMemory:
        """Split ``steps`` over the workers (seeds ``seed + i``) and merge what they collected.

        ``make_env()`` builds a worker's env (with ``render_mode="rgb_array"`` for screens);
        ``make_policy(env, seed=seed)`` its policy ``(obs, info) -> action``; ``epsilon`` adds
        random actions. Frames are added to ``memory`` (a new one of ``capacity`` if
        ``None``), worker 0's first, and it is returned.

        On Ctrl-C (``KeyboardInterrupt``) the workers stop, their frames are still merged
        into ``memory``, and then the ``KeyboardInterrupt`` is raised again: pass ``memory``
        to keep what was gathered. (A SIGTERM sent to the whole process group ends the
        workers too, and their frames are lost; one sent to the main process alone is
        handled like Ctrl-C by ``man-rl collect``.) An error in one worker stops the others
        and is raised (the first worker's in order, with its traceback); the frames of that
        call are then not merged. One call at a time per pool.
        """
        shares = _shares(steps, self.workers)
        _check_picklable(make_env=make_env, make_policy=make_policy)
        if self._closed:
            raise InvalidValueError("this CollectorPool was closed; make a new one")
        if not self._busy.acquire(blocking=False):
            raise InvalidValueError(
                "this CollectorPool is already collecting (in another thread); use one pool "
                "per thread"
            )
        try:
            return self._collect(make_env, make_policy, shares, seed, capacity, epsilon, memory)
        finally:
            self._busy.release()

    def _collect(
        self,
        make_env: EnvFactory,
        make_policy: PolicyFactory,
        shares: list[int],
        seed: int,
        capacity: int,
        epsilon: float,
        memory: ShortTermMemory | None,
    ) -> ShortTermMemory:
        if getattr(self._executor, "_broken", False):  # a worker died since the last call
            self._restart()
        self._stop.clear()
        futures = [
            self._executor.submit(
                _collect_in_worker, make_env, make_policy, share, seed + i, capacity, epsilon
            )
            for i, share in enumerate(shares)
        ]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
            if any(future.done() and future.exception() for future in futures):
                self._stop.set()
                wait(futures)
            shards = [future.result() for future in futures]  # raises the first error
        except KeyboardInterrupt:
            self._stop.set()
            wait(futures)
            finished = [f.result() for f in futures if f.exception() is None]
            merge_shards(finished, memory, capacity)
            raise
        except BrokenProcessPool as error:
            self._restart()
            raise BrokenProcessPool(
                f"{error} A worker process died: it was killed (out of memory?) or could not "
                "import the env or policy factory (they must live in an importable module). "
                "The pool has been restarted."
            ) from error
        return merge_shards(shards, memory, capacity)

    def _restart(self) -> None:
        # Kill what is left of a broken pool (a survivor may be blocked writing a result
        # nobody reads, which would hang the interpreter at exit), then start afresh.
        for process in list(getattr(self._executor, "_processes", {}).values()):
            process.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    def close(self) -> None:
        """Stop the worker processes (a closed pool cannot collect again).

        Workers still collecting (the pool left by an exception, e.g. a Ctrl-C before
        :meth:`collect` could handle it) are told to stop first, so closing never waits for
        a whole shard.
        """
        self._closed = True
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> CollectorPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def collect_with_processes(
    make_env: EnvFactory,
    make_policy: PolicyFactory,
    steps: int,
    *,
    workers: int,
    seed: int = 0,
    capacity: int = 500,
    epsilon: float = 0.0,
    memory: ShortTermMemory | None = None,
) -> ShortTermMemory:
    """:meth:`CollectorPool.collect` in a pool of ``workers`` processes made for this call."""
    with CollectorPool(workers) as pool:
        return pool.collect(
            make_env,
            make_policy,
            steps,
            seed=seed,
            capacity=capacity,
            epsilon=epsilon,
            memory=memory,
        )


__all__ = [
    "CollectorPool",
    "collect_shard",
    "collect_with_processes",
    "collect_with_ray",
    "merge_shards",
]
