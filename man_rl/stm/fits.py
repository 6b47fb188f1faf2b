"""Whether a memory's worst case fits: ``capacity x expected keys x frame bytes`` in free RAM.

Only a warning at construction, as stable-baselines3's replay buffer gives: nothing is
allocated for the worst case, since a memory grows with the frames it actually holds.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     worst_case_fits(10**6, 10**4, (256, 256, 3))
    False
    >>> "GiB" in str(caught[0].message)
    True
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np


def available_memory_bytes() -> int | None:
    """Free RAM as the kernel reports it (``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def worst_case_fits(
    capacity: int, expected_keys: int, frame_shape: tuple[int, ...], folder: Path | None = None
) -> bool:
    """Warn (``ResourceWarning``) when ``capacity x expected_keys`` frames would not fit.

    In RAM the worst case is compared with free RAM; with a storage ``folder``, with the
    free space of its disk. Returns whether it fits (``True`` when free space is unknown).
    """
    worst = capacity * int(expected_keys) * int(np.prod(frame_shape))
    if folder is not None:
        free: int | None = shutil.disk_usage(folder).free
        where = f"disk space is free in {folder}"
    else:
        free = available_memory_bytes()
        where = "RAM is free"
    if free is not None and worst > free:
        warnings.warn(
            f"this memory may grow to {worst / 2**30:.2f} GiB ({capacity} frames x "
            f"{expected_keys} keys x {tuple(frame_shape)}) but only {free / 2**30:.2f} GiB "
            f"of {where}; lower capacity or collect fewer states",
            ResourceWarning,
            stacklevel=4,
        )
        return False
    return True


__all__ = ["available_memory_bytes", "worst_case_fits"]
