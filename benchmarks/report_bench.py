"""The report page in headless Chromium: how fast 1,000 states open and a key is found.

A memory of 1,000 states ``(x, y, direction)`` (1-3 frames of 8 x 8 x 3 each) is reported
twice: memory only, and with recall figures (an untrained Type A recalls 8 samples of every
state and a judge trained 20 steps scores them: the page is what counts here, not the
model). Each page is opened ``repeats`` times; "opens" is the page's load event
(``performance.now()`` at ``load``: parsing, the state list, the first page of cards and
their pictures decoded), the browser's own start-up excluded and reported beside it.
"Finds" opens the page at ``#q=<a key>``: the search runs through the input event, as
typed, before the load event.

``python -m benchmarks --only report_bench``; ``--quick``: 100 states, one run each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.browser import dump_dom, find_chromium, page_url, root_data
from benchmarks.harness import Row

TARGET_MS = 2000.0


def grid_memory(states: int, seed: int = 0):
    """``states`` keys ``(x, y, d)`` (10 y values, 4 directions), 1-3 frames each."""
    from man_rl import ShortTermMemory

    rng = np.random.default_rng(seed)
    memory = ShortTermMemory(capacity=3)
    for i in range(states):
        x, rest = divmod(i, 40)
        y, d = divmod(rest, 4)
        colour = np.array([10 * x % 256, 25 * y, 60 * d])
        for _ in range(1 + i % 3):
            noise = rng.integers(0, 20, (8, 8, 3))
            memory.add((x, y, d), np.clip(colour + noise, 0, 255).astype(np.uint8))
    return memory


def _open(page: Path, repeats: int, **fragment: str) -> tuple[float, float, dict[str, str]]:
    """Median load-event ms and browser wall seconds of opening ``page``, and its data."""
    ready, wall, root = [], [], {}
    for _ in range(repeats):
        dom, seconds = dump_dom(page_url(page, **fragment))
        root = root_data(dom)
        ready.append(float(root["ready-ms"]))
        wall.append(seconds)
    return statistics.median(ready), statistics.median(wall), root


def run(quick: bool = False) -> list[Row]:
    from man_rl.evaluation import train_judge
    from man_rl.ltm import TypeA
    from man_rl.report import write_report

    states = 100 if quick else 1000
    repeats = 1 if quick else 3
    what = f"report page, {states:,} states"
    if find_chromium() is None:
        return [Row(what, "no Chromium installed", "-", None, f"<= {TARGET_MS:.0f} ms", None)]
    memory = grid_memory(states)
    rows = []
    with tempfile.TemporaryDirectory(prefix="manrl-report-bench-") as folder:
        started = time.perf_counter()
        plain = write_report(Path(folder) / "plain", memory).page
        plain_seconds = time.perf_counter() - started
        model = TypeA.for_memory(memory, seed=0)
        judge = train_judge(memory, steps=20, seed=0)
        started = time.perf_counter()
        judged = write_report(Path(folder) / "judged", memory, model=model, judge=judge).page
        judged_seconds = time.perf_counter() - started
        for label, page, seconds in (
            ("memory only", plain, plain_seconds),
            ("with recall figures", judged, judged_seconds),
        ):
            ms, wall, root = _open(page, repeats)
            rows.append(
                Row(
                    f"{what} ({label}) opens in Chromium",
                    f"{ms:,.0f} ms to load, {root['cards']} cards, "
                    f"{root['images-decoded']}/{root['images-shown']} pictures",
                    f"browser run {wall:.2f} s; report written in {seconds:.1f} s",
                    None,
                    f"<= {TARGET_MS:.0f} ms",
                    ms <= TARGET_MS,
                )
            )
        wanted = repr(memory.keys[states * 7 // 10])
        ms, wall, root = _open(judged, repeats, q=wanted)
        rows.append(
            Row(
                f"{what}: find a state by key ({wanted})",
                f"{ms:,.0f} ms to load with the search, {root['matches']} match, "
                f"filter + cards {root['render-ms']} ms",
                f"browser run {wall:.2f} s",
                None,
                f"<= {TARGET_MS:.0f} ms",
                ms <= TARGET_MS and root["matches"] == "1",
            )
        )
    return rows
