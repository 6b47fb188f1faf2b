"""Test-suite settings.

Torch runs single-threaded in the tests (and in the notebook kernels and CLI subprocesses
they start): the suite also runs subprocesses and Ray workers beside the training tests, and
torch's OpenMP threads slow down by orders of magnitude when the cores are oversubscribed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import torch

torch.set_num_threads(1)


def _dot_memory(size: int = 32, states: int = 100, dot: int = 2):
    """One screen per state: a two-tone room and a red dot where the state is (as MiniGrid's
    agent is a few pixels of a large frame)."""
    from man_rl import ShortTermMemory

    stm = ShortTermMemory(capacity=1)
    room = np.full((size, size, 3), 40, np.uint8)
    room[: size // 2] = 90
    per_row = size // dot
    for state in range(states):
        frame = room.copy()
        row, col = divmod(state, per_row)
        frame[row * dot : (row + 1) * dot, col * dot : (col + 1) * dot] = (255, 0, 0)
        stm.add(state, frame)
    return stm


@pytest.fixture
def dot_memory():
    """``dot_memory(size=32, states=100, dot=2)``: a memory of one screen per state, whose
    states differ only in a small red dot."""
    return _dot_memory


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Callable[[str], Path]]:
    """``small_disk(size)``: a real tmpfs of ``size`` (``"4m"``, ``"192k"``) under tmp_path,
    unmounted after the test; skips where it cannot mount (it needs root)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("a real small disk needs root (the simulated full disk runs instead)")
        disk = tmp_path / f"disk-{len(mounted)}"
        disk.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
