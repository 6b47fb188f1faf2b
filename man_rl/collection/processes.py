"""Collection in local worker processes, each stepping its own env, merged into one memory.

Each worker builds its env (``make_env()``) and policy, collects its share of the steps in a
:class:`~man_rl.env.wrapper.MemoryWrapper` (seed ``seed + i`` for worker ``i``), and sends
back its :class:`~man_rl.collection.core.CollectResult` (the memory travels as plain arrays);
the results are merged in worker order, so the outcome does not depend on which worker
finished first. There is no per-step round trip to this process: on a 2-core machine two
workers collect ~1.8x as fast as one env (a lock-step ``AsyncVectorEnv`` reached ~1.05x;
see BENCHMARKS.md).

Factories and policies must be picklable: module-level functions or ``functools.partial``
of them, defined in an importable module. The workers know every env id this process has
registered (from a string entry point) when a collection starts.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import partial
from typing import Any

import gymnasium as gym

from man_rl.collection.core import (
    CollectRequest,
    CollectResult,
    EnvFactory,
    EnvSource,
    shares,
    worker_seeds,
)
from man_rl.errors import InvalidValueError
from man_rl.stm.memory import ShortTermMemory


def check_workers(workers: Any) -> int:
    """``workers`` as an int >= 1, or a clear error."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidValueError(f"workers must be an int >= 1, got {workers!r}")
    return workers


def registered_specs() -> list[Any]:
    """Env specs of this process that another one can re-register (string entry points)."""
    return [spec for spec in gym.registry.values() if isinstance(spec.entry_point, str)]


def register_specs(specs: Sequence[Any]) -> None:
    """Register the specs this process does not know yet (in a worker).

    The module of a missing spec's entry point is imported first, so that a package
    registering its own ids on import (MiniGrid's, say) does so before any is copied.
    """
    for spec in specs:
        if spec.id in gym.registry:
            continue
        package = spec.entry_point.partition(":")[0].partition(".")[0]
        if package not in sys.modules:
            try:
                importlib.import_module(package)
            except ImportError:
                pass
        if spec.id not in gym.registry:
            gym.registry[spec.id] = spec


def _entry_point_modules() -> list[str]:
    """Modules of registered envs' entry points that this process has imported.

    Preloaded in the fork server, so each worker starts with the env packages in use.
    """
    names = {
        spec.entry_point.partition(":")[0]
        for spec in gym.registry.values()
        if isinstance(spec.entry_point, str)
    }
    return sorted(name for name in names if name in sys.modules)


def split(request: CollectRequest, workers: int) -> list[CollectRequest]:
    """One request per worker: worker ``i`` takes its share of the steps and seed ``seed + i``.

    Each worker fills a memory of its own (merged afterwards); none shows a progress bar.
    """
    return [
        replace(request, steps=share, seed=seed, memory=None, progress=False, stop=None)
        for share, seed in zip(
            shares(request.steps, workers), worker_seeds(request.seed, workers), strict=True
        )
    ]


def collect_shard(
    specs: Sequence[Any],
    make_env: EnvFactory,
    request: CollectRequest,
    stop: Callable[[], bool] | None = None,
) -> CollectResult:
    """The body of one worker: ``request`` in a fresh env, the env ids of ``specs`` known."""
    register_specs(specs)
    env = make_env()
    try:
        return EnvSource(env).run(replace(request, stop=stop))
    finally:
        env.close()


def check_picklable(**objects: Any) -> None:
    """Refuse, with what to do instead, factories the workers could not receive or import."""
    # A factory that cannot be pickled would otherwise fail inside the executor's feeder
    # thread, where (CPython 3.11) it can leave the pool hanging at shutdown; one defined in
    # an interactive __main__ pickles but cannot be found by the workers, which then die.
    main = sys.modules.get("__main__")
    interactive = not getattr(main, "__file__", None)
    for name, value in objects.items():
        if value is None:
            continue
        target = value.func if isinstance(value, partial) else value
        if interactive and getattr(target, "__module__", None) == "__main__":
            raise InvalidValueError(
                f"{name} ({getattr(target, '__name__', target)!r}) is defined in an interactive "
                "session, which worker processes cannot import: define it in a module (a .py "
                "file) and import it from there"
            )
        try:
            pickle.dumps(value)
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


def _should_stop() -> bool:
    return _STOP is not None and _STOP.is_set()


def _collect_in_worker(*args: Any) -> CollectResult:
    return collect_shard(*args, stop=_should_stop)


class CollectorPool:
    """Local worker processes collecting from ``make_env()`` in parallel; reuse it across calls.

    A source for :func:`~man_rl.collection.core.collect`. Workers start once (from a fork
    server, with man_rl already imported, where the platform has one) and stay up until
    :meth:`close` or the end of a ``with`` block, so repeated collections pay the start-up
    once. Workers start with ``forkserver`` (or ``spawn``), not ``fork``, which is not safe
    once torch has started threads: as with any such multiprocessing code, a script that uses
    the pool needs the ``if __name__ == "__main__":`` guard.

    On Ctrl-C the workers stop, their frames are still merged and the result says
    ``interrupted``. (A SIGTERM sent to the whole process group ends the workers too, and
    their frames are lost; one sent to the main process alone is handled like Ctrl-C by
    ``man-rl collect``.) An error in one worker stops the others and is raised (the first
    worker's in order, with its traceback). One collection at a time per pool.

    Args:
        make_env: ``make_env() -> gym.Env`` with ``render_mode="rgb_array"``, picklable.
        workers: number of processes (one env each); the machine's core count is a good
            choice.

    Example:
        >>> from functools import partial
        >>> import gymnasium as gym, minigrid
        >>> from man_rl.collection import collect
        >>> make_env = partial(gym.make, "MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                    tile_size=8)
        >>> with CollectorPool(make_env, 2) as pool:
        ...     result = collect(pool, None, 200, seed=0, capacity=50)
        >>> result.envs, result.steps, result.memory.frame_shape
        (2, 200, (40, 40, 3))
    """

    def __init__(self, make_env: EnvFactory, workers: int) -> None:
        self.envs = check_workers(workers)
        self.make_env = make_env
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            preload = ["man_rl.collection.processes", *_entry_point_modules()]
            context.set_forkserver_preload(preload)
        self._context = context
        self._stop = context.Event()
        self._busy = threading.Lock()
        self._closed = False
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.envs, mp_context=self._context, initializer=_start_worker, initargs=(self._stop,)
        )

    def run(self, request: CollectRequest) -> CollectResult:
        """Split ``steps`` over the workers and merge what they collected (see ``collect``).

        ``stop`` is asked in this process while the workers run; ``progress`` is not shown.
        """
        check_picklable(
            make_env=self.make_env,
            policy=request.policy,
            make_policy=request.make_policy,
            key_fn=request.key_fn,
        )
        if self._closed:
            raise InvalidValueError("this CollectorPool was closed; make a new one")
        if not self._busy.acquire(blocking=False):
            raise InvalidValueError(
                "this CollectorPool is already collecting (in another thread); use one pool "
                "per thread"
            )
        try:
            tasks = [
                (registered_specs(), self.make_env, part) for part in split(request, self.envs)
            ]
            return self._run(tasks, request.target(), request.stop)
        finally:
            self._busy.release()

    def _run(
        self, tasks: list[tuple], memory: ShortTermMemory, stop: Callable[[], bool] | None
    ) -> CollectResult:
        if getattr(self._executor, "_broken", False):  # a worker died since the last call
            self._restart()
        self._stop.clear()
        futures = [self._executor.submit(_collect_in_worker, *task) for task in tasks]
        interrupted = False
        try:
            while True:
                done, pending = wait(futures, timeout=0.1, return_when=FIRST_EXCEPTION)
                if any(f.exception() for f in done):
                    self._stop.set()  # an error: the others stop too
                    break
                if not pending:
                    break
                if stop is not None and stop():
                    interrupted = True
                    self._stop.set()
                    break
            wait(futures)
            parts = [future.result() for future in futures]  # raises the first error
        except KeyboardInterrupt:
            self._stop.set()
            wait(futures)
            finished = [f.result() for f in futures if f.exception() is None]
            return CollectResult.combine(finished, memory, interrupted=True)
        except BrokenProcessPool as error:
            self._restart()
            raise BrokenProcessPool(
                f"{error} A worker process died: it was killed (out of memory?) or could not "
                "import the env or policy factory (they must live in an importable module). "
                "The pool has been restarted."
            ) from error
        return CollectResult.combine(parts, memory, interrupted=interrupted)

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
        :meth:`run` could handle it) are told to stop first, so closing never waits for a
        whole shard.
        """
        self._closed = True
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> CollectorPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = [
    "CollectorPool",
    "check_picklable",
    "check_workers",
    "collect_shard",
    "register_specs",
    "registered_specs",
    "split",
]
