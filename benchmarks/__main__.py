"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from benchmarks.harness import machine, render_table

SUITES = (
    "memory_bench",
    "footprint_bench",
    "model_bench",
    "pipeline_bench",
    "recall_bench",
    "report_bench",
    "growth_bench",
    "threads_bench",
    "outofbox_bench",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    parser.add_argument("--only", nargs="*", choices=SUITES, help="run only these suites")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for name in args.only or SUITES:
        rows += importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)
    print(f"machine: {machine()}")
    print(render_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
