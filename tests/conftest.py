"""Test-suite settings.

Torch runs single-threaded in the tests (and in the notebook kernels and CLI subprocesses
they start): the suite also runs subprocesses and Ray workers beside the training tests, and
torch's OpenMP threads slow down by orders of magnitude when the cores are oversubscribed.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import torch

torch.set_num_threads(1)
