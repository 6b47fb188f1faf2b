"""Timing helpers: interleaved repeats, medians, and one table of results.

Absolute times on shared 2-core machines are noisy, so every benchmark times its subject and
its baseline alternately in the same process and reports the ratio of the medians.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    """One line of the results table."""

    what: str
    measured: str
    against: str
    ratio: float | None
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: "-"}[self.met]
        return [self.what, self.measured, self.against, ratio, self.target, met]


def interleaved(
    subject: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median seconds of ``subject()`` and ``baseline()``, run alternately ``repeats`` times."""
    subject_times, baseline_times = [], []
    for _ in range(repeats):
        for fn, times in ((subject, subject_times), (baseline, baseline_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(subject_times), statistics.median(baseline_times)


def interleaved_many(subjects: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median seconds of each of ``subjects``, run in turn ``repeats`` times."""
    times: list[list[float]] = [[] for _ in subjects]
    for _ in range(repeats):
        for fn, spent in zip(subjects, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def paired_ratios(
    subject: Callable[[], object], others: list[Callable[[], object]], rounds: int
) -> tuple[float, list[float], list[float]]:
    """Median seconds of ``subject`` and of each of ``others``, and the median per-round ratios.

    Each round times ``subject`` then each other in turn; a ratio is ``other / subject`` of
    one round, so a slow stretch of a shared machine moves both sides of it together.
    """
    mine: list[float] = []
    theirs: list[list[float]] = [[] for _ in others]
    for _ in range(rounds):
        start = time.perf_counter()
        subject()
        mine.append(time.perf_counter() - start)
        for fn, spent in zip(others, theirs, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    ratios = [
        statistics.median(t / m for t, m in zip(spent, mine, strict=True)) for spent in theirs
    ]
    return statistics.median(mine), [statistics.median(spent) for spent in theirs], ratios


def rss_anon_bytes() -> int:
    """Anonymous resident memory of this process (``RssAnon``), 0 where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def render_table(rows: list[Row]) -> str:
    """A Markdown table of ``rows``."""
    head = ["what", "measured", "against", "ratio", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
