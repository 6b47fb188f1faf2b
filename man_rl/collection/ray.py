"""Collection fanned out over Ray tasks (one machine or many): ``pip install 'man_rl[ray]'``.

The same contract as the other sources: worker ``i`` collects its share with seed
``seed + i``, the results are merged in worker order, Ctrl-C stops every task and keeps
what they gathered (each task polls a shared stop flag every few hundred steps).
"""

from __future__ import annotations

from typing import Any

from man_rl.collection.core import CollectRequest, CollectResult, EnvFactory
from man_rl.collection.processes import check_workers, collect_shard, registered_specs, split
from man_rl.errors import InvalidValueError

_POLL_EVERY = 256  # steps between two looks at the stop flag (each is a round trip)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InvalidValueError(
            "Ray is not installed; install the extra with pip install 'man_rl[ray]'"
        ) from None
    return ray


class _PolledStop:
    """``stop()`` for a task: asks the shared flag every ``_POLL_EVERY`` calls."""

    def __init__(self, flag: Any) -> None:
        self.flag, self.calls, self.stopped = flag, 0, False

    def __call__(self) -> bool:
        self.calls += 1
        if not self.stopped and self.calls % _POLL_EVERY == 0:
            self.stopped = bool(_ray().get(self.flag.is_set.remote()))
        return self.stopped


def _task(flag: Any, *args: Any) -> CollectResult:
    return collect_shard(*args, stop=_PolledStop(flag))  # type: ignore[misc]


class _StopFlag:
    def __init__(self) -> None:
        self.value = False

    def set(self) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


class RayTasks:
    """``workers`` Ray tasks collecting from ``make_env()``, merged in worker order.

    A source for :func:`~man_rl.collection.core.collect`. Starts a local Ray instance when
    none is running (``ray_init`` is passed to ``ray.init``); the factories must be
    importable or picklable by Ray (module-level functions or ``functools.partial`` of
    them).

    Args:
        make_env: ``make_env() -> gym.Env`` with ``render_mode="rgb_array"``.
        workers: number of tasks.
        ray_init: keywords for ``ray.init`` when this starts Ray.
    """

    def __init__(
        self, make_env: EnvFactory, workers: int, *, ray_init: dict[str, Any] | None = None
    ) -> None:
        self.make_env, self.envs, self.ray_init = make_env, check_workers(workers), ray_init

    def run(self, request: CollectRequest) -> CollectResult:
        """Split ``steps`` over the tasks and merge what they collected (see ``collect``)."""
        ray = _ray()
        if not ray.is_initialized():
            defaults = {"include_dashboard": False, "log_to_driver": False}
            ray.init(**{**defaults, **(self.ray_init or {})})
        flag = ray.remote(_StopFlag).remote()
        task = ray.remote(_task)
        specs = registered_specs()
        futures = [
            task.remote(flag, specs, self.make_env, part) for part in split(request, self.envs)
        ]
        stop = request.stop
        interrupted = False
        try:
            pending = list(futures)
            while pending:
                _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.1)
                if pending and stop is not None and stop():
                    interrupted = True
                    flag.set.remote()
                    break
            parts = ray.get(futures)
        except KeyboardInterrupt:
            flag.set.remote()
            parts = ray.get(futures)
            interrupted = True
        return CollectResult.combine(parts, request.target(), interrupted=interrupted)


__all__ = ["RayTasks"]
