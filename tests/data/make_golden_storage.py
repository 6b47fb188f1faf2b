"""Write tests/data/stm_storage_v1/: an on-disk short-term memory folder of storage version 1.

Run once, with the man_rl that wrote storage version 1 (0.1.0, before the frame pool):
``python tests/data/make_golden_storage.py``. It refuses to overwrite the folder, so the
golden copy stays what that version wrote; tests/test_storage_golden.py opens a copy of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "stm_storage_v1"


def golden_adds() -> list[tuple[object, np.ndarray]]:
    """The adds that built the folder: 3 keys, capacity 3, one ring wrapped twice."""
    adds = []
    for i in range(11):
        key = [(1, 1, 0), "b", 7][i % 3 if i < 9 else 0]
        adds.append((key, np.full((4, 5, 3), 10 * i + 1, dtype=np.uint8)))
    return adds


def main() -> int:
    from man_rl import ShortTermMemory

    if FOLDER.exists():
        print(f"{FOLDER} exists; refusing to overwrite the golden folder", file=sys.stderr)
        return 1
    with ShortTermMemory(3, storage=FOLDER, seed=5) as stm:
        for key, frame in golden_adds():
            stm.add(key, frame)
    (FOLDER / "lock").unlink()
    print(f"wrote {FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
