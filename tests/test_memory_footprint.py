"""RAM and address space follow the frames held, not the possible states (issue 11's bound).

Each run is in a fresh process (``benchmarks/footprint_bench.py``): peaks of ``RssAnon``
and ``VmSize`` above its baseline must stay within 1.10x the frame bytes held plus 50 MB in
RAM, and ``RssAnon`` under 50 MB on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.footprint_bench import MB, four_rooms_run, zipf_run

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="RssAnon and VmSize come from Linux's /proc"
)


@pytest.mark.parametrize("storage", [False, True], ids=["ram", "disk"])
def test_100000_possible_keys_1000_visited_zipf(storage):
    run = zipf_run(possible=100_000, visited=1_000, adds=30_000, capacity=100, storage=storage)
    assert run.keys == 1_000 or run.keys > 900  # nearly every visited key was drawn
    assert run.held > 150 * MB  # enough frames for the 1.10x factor to matter
    assert run.within(storage), run.line()


@pytest.mark.parametrize("storage", [False, True], ids=["ram", "disk"])
def test_the_four_rooms_snippet(storage):
    # 1,156 possible states of 1.1 MB frames: capacity x states would be 38 GB
    run = four_rooms_run(steps=300, storage=storage)
    assert run.frames > 250 and run.held >= 250 * MB
    assert run.within(storage), run.line()


def test_the_bound_rejects_a_dense_store():
    # the negative control: what a row per possible state (the old layout) would cost
    from benchmarks.footprint_bench import Footprint

    dense = Footprint(
        held=300 * MB, frames=300, keys=81, anon=330 * MB, address=20_000 * MB, seconds=1.0
    )
    assert not dense.within(storage=False)
    assert not Footprint(300 * MB, 300, 81, anon=200 * MB, address=0, seconds=1).within(True)
