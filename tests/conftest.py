"""Test-suite settings.

Torch runs single-threaded in the tests (and in the notebook kernels and CLI subprocesses
they start): the suite also runs subprocesses and Ray workers beside the training tests, and
torch's OpenMP threads slow down by orders of magnitude when the cores are oversubscribed.
"""

from __future__ import annotations

import os

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
