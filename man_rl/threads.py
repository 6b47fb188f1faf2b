"""How many threads torch may use here: the cores no other process is busy on.

torch starts one intra-op thread per core and its OpenMP threads spin while they wait. Beside
one other process doing the same (a second run, an agent training on the CPU), the two sets
of threads spin against each other: on 2 cores a Type B ``fit`` step went from 24 ms to
1,062 ms. One thread beside that neighbour took 49 ms. So the package measures how busy
the other processes keep this process's cores (``/proc/stat`` less this process's own CPU
time) and gives torch the rest, at least one and never more than the user allowed torch
(``torch.get_num_threads()`` when the work starts: ``OMP_NUM_THREADS`` or
``torch.set_num_threads`` set it). It looks again every few seconds while it works, so a
neighbour that starts or stops mid-run is followed. ``threads=N`` (``--threads N``) fixes the
number instead. Where ``/proc/stat`` does not exist (macOS, Windows) torch's own setting is
used unchanged.

Example:
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with TorchThreads(1) as plan:
    ...     torch.get_num_threads(), plan.threads, plan.reason
    (1, 1, 'asked for')
    >>> torch.get_num_threads() == before
    True
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from types import TracebackType

import torch

from man_rl.errors import InvalidValueError

#: Seconds between two looks at how busy the other processes are, while working.
RECHECK_SECONDS = 2.0
#: The first look of a run measures over this long, when no recent look can be reused.
FIRST_LOOK_SECONDS = 0.2
# A core counts as free when other processes use less than 1 - this of it.
_SLACK = 0.3


def check_threads(threads: int | None) -> int | None:
    """``None`` (choose) or an int >= 1; anything else is a clear error."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidValueError(
            f"threads must be an int >= 1 (or None to let man_rl choose), got {threads!r}"
        )
    return threads


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _busy_seconds() -> float | None:
    """CPU seconds spent busy so far on the cores this process may use (``None``: unknown)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
        cpus = os.sched_getaffinity(0)
    except (OSError, AttributeError):
        return None
    ticks = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        fields = [int(v) for v in rest.split()]
        # user nice system idle iowait irq softirq steal ...: busy is all but idle, iowait
        ticks += sum(fields[:8]) - fields[3] - fields[4]
    return ticks / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class _Sample:
    """One reading of the counters: wall clock, busy CPU seconds, this process's seconds."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.busy = _busy_seconds()
        self.own = _own_seconds()

    def others_since(self, earlier: _Sample) -> float | None:
        """Cores the other processes kept busy on average between ``earlier`` and this."""
        elapsed = self.wall - earlier.wall
        if self.busy is None or earlier.busy is None or elapsed <= 0:
            return None
        others = (self.busy - earlier.busy) - (self.own - earlier.own)
        return max(0.0, others / elapsed)


_last_sample: _Sample | None = None
_last_value: float | None = None


def neighbour_cores(min_seconds: float = FIRST_LOOK_SECONDS) -> float | None:
    """Cores of this process's that other processes keep busy, lately (``None``: unknown).

    Measured since the last call when that was at least ``min_seconds`` and at most a
    minute ago; the last figure again when the last call was under ``min_seconds`` ago (so
    a loop calling ``fit`` for a few steps at a time does not wait each time); else over a
    fresh ``min_seconds`` wait.
    """
    global _last_sample, _last_value
    now = _Sample()
    if now.busy is None:
        return None
    earlier = _last_sample
    since = math.inf if earlier is None else now.wall - earlier.wall
    if since < min_seconds and _last_value is not None:
        return _last_value
    if not min_seconds <= since <= 60.0:
        time.sleep(min_seconds)
        earlier, now = now, _Sample()
    assert earlier is not None
    _last_sample = now
    _last_value = now.others_since(earlier)
    return _last_value


def free_threads(limit: int, neighbours: float | None, cores: int | None = None) -> int:
    """Threads for torch: the cores others leave free, between 1 and ``limit``.

    ``cores``: the cores this process may use (default: :func:`usable_cores`).

    Example:
        >>> free_threads(2, 0.0, cores=2), free_threads(2, 1.9, cores=2)
        (2, 1)
        >>> free_threads(8, 2.2, cores=8), free_threads(4, None)
        (6, 4)
    """
    if neighbours is None:
        return limit
    free = (usable_cores() if cores is None else cores) - neighbours
    return max(1, min(limit, int(free + _SLACK)))


class TorchThreads:
    """A context that gives torch the threads this machine can spare, and puts them back.

    Entering sets ``torch.set_num_threads`` to ``threads`` when given, else to the cores the
    other processes leave free (at most torch's setting at entry); :meth:`update` looks again
    every :data:`RECHECK_SECONDS` (call it as often as you like, e.g. once a step); leaving
    restores torch's setting. Nested contexts leave the choice to the outermost one.

    Args:
        threads: a fixed number of threads (``None``: choose, and follow the neighbours).

    Example:
        >>> with TorchThreads() as plan:
        ...     1 <= plan.threads <= max(1, plan.limit)
        True
    """

    _outer: TorchThreads | None = None

    def __init__(self, threads: int | None = None) -> None:
        self.asked = check_threads(threads)
        self.limit = torch.get_num_threads()
        self.threads = self.limit
        self.reason = "outer"
        self._restore: int | None = None
        self._next_check = math.inf

    def __enter__(self) -> TorchThreads:
        outer = TorchThreads._outer
        if outer is not None and self.asked is None:
            self.threads, self.reason = outer.threads, outer.reason
            return self
        if outer is None:
            TorchThreads._outer = self
        self._restore = torch.get_num_threads()
        if self.asked is not None:
            self.threads, self.reason = self.asked, "asked for"
        else:
            self._choose(neighbour_cores())
        torch.set_num_threads(self.threads)
        return self

    def _choose(self, neighbours: float | None) -> None:
        self.threads = free_threads(self.limit, neighbours)
        if neighbours is None:
            self.reason = "torch's setting (load not readable here)"
        elif self.threads < self.limit:
            self.reason = f"other processes busy on {neighbours:.1f} of {usable_cores()} cores"
        else:
            self.reason = f"{usable_cores()} cores free"
        self._next_check = time.monotonic() + RECHECK_SECONDS

    def update(self) -> int:
        """Look at the neighbours again if it is time; returns the threads in use."""
        outer = TorchThreads._outer
        if self._restore is None and outer is not None and outer is not self:
            self.threads = outer.update()  # a nested context: the outermost one chooses
            return self.threads
        if self._restore is None or self.asked is not None or time.monotonic() < self._next_check:
            return self.threads
        before = self.threads
        self._choose(neighbour_cores(min_seconds=RECHECK_SECONDS / 2))
        if self.threads != before:
            torch.set_num_threads(self.threads)
        return self.threads

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if TorchThreads._outer is self:
            TorchThreads._outer = None
        if self._restore is not None:
            torch.set_num_threads(self._restore)
            self._restore = None


__all__ = [
    "FIRST_LOOK_SECONDS",
    "RECHECK_SECONDS",
    "TorchThreads",
    "check_threads",
    "free_threads",
    "neighbour_cores",
    "usable_cores",
]
