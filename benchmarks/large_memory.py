"""A short-term memory larger than RAM: fill, save, reopen, load and sample it on disk.

``python -m benchmarks.large_memory --frames-gb 2`` fills a storage memory
(``ShortTermMemory(capacity, storage=DIR)``) with about 2 GB of 64x64x3 frames spread over many
keys, flushes and saves it to one container file, closes it, reopens the folder, samples
batches, loads the container into a second storage folder, samples again and checks that both
hold the same frames. For every phase it prints the peak anonymous resident memory
(``RssAnon``, polled from ``/proc/self/status`` by a thread) next to the mapped file pages
(``RssFile``, page cache the kernel can reclaim). The target is ``RssAnon`` < 500 MB
throughout; the exit status is 1 when a phase goes over ``--max-anon-mb``.

Files go to a fresh folder inside ``--dir`` (default: the system's temporary folder; give a
folder on a real disk, since a tmpfs keeps files in RAM) and are deleted at the end unless
``--keep``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from man_rl import ShortTermMemory

MB = 2**20


def proc_status(*fields: str) -> dict[str, int]:
    """Fields of ``/proc/self/status`` in bytes (``RssAnon``, ``RssFile``...); 0 where absent."""
    found = dict.fromkeys(fields, 0)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in found:
                    found[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return found


@dataclass
class Phase:
    """What one phase cost: time, peak anonymous memory, mapped file pages at its end."""

    name: str
    seconds: float = 0.0
    peak_anon: int = 0
    end_file: int = 0
    note: str = ""
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since the phase started (for rates noted inside the phase)."""
        return max(1e-9, time.perf_counter() - self.started)


@dataclass
class Tracker:
    """Polls ``RssAnon`` from a thread while a phase runs and keeps its peak."""

    interval: float = 0.002
    phases: list[Phase] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        record = Phase(name)
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                record.peak_anon = max(record.peak_anon, proc_status("RssAnon")["RssAnon"])
                stop.wait(self.interval)

        record.peak_anon = proc_status("RssAnon")["RssAnon"]
        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        record.started = time.perf_counter()
        try:
            yield record
        finally:
            record.seconds = record.elapsed()
            stop.set()
            thread.join()
            now = proc_status("RssAnon", "RssFile")
            record.peak_anon = max(record.peak_anon, now["RssAnon"])
            record.end_file = now["RssFile"]
            self.phases.append(record)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.large_memory",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--frames-gb", type=float, default=2.0, help="GB (1e9 bytes) of frames")
    parser.add_argument("--frame-shape", type=int, nargs=3, default=(64, 64, 3), metavar="N")
    parser.add_argument("--keys", type=int, default=1024, help="state keys (queues)")
    parser.add_argument("--batch", type=int, default=256, help="frames per sampled batch")
    parser.add_argument("--batches", type=int, default=200, help="batches per sampling phase")
    parser.add_argument("--dir", type=Path, default=None, help="parent folder for the files")
    parser.add_argument("--keep", action="store_true", help="keep the files it makes")
    parser.add_argument("--max-anon-mb", type=float, default=500.0, help="RssAnon target (MB)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.frames_gb <= 0 or args.keys < 1 or args.batch < 1 or args.batches < 1:
        parser.error("--frames-gb, --keys, --batch and --batches must be positive")
    return args


def disk_bytes(path: Path) -> int:
    """Bytes a file or folder really occupies on disk (sparse files count their blocks)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def sample_all(memory: ShortTermMemory, batch: int, batches: int, seed: int) -> int:
    """Draw ``batches`` balanced batches; returns a checksum of the labels drawn."""
    rng = np.random.default_rng(seed)
    total = 0
    for _ in range(batches):
        frames, labels = memory.sample(batch, rng=rng)
        total += int(labels.sum()) + int(frames[:, 0, 0].sum())
    return total


def run(args: argparse.Namespace, work: Path) -> tuple[list[Phase], int]:
    """Run every phase in ``work``; returns the phases and the frames added."""
    shape = tuple(args.frame_shape)
    frame_bytes = math.prod(shape)
    capacity = max(1, math.ceil(args.frames_gb * 1e9 / frame_bytes / args.keys))
    total = capacity * args.keys
    pool = np.random.default_rng(args.seed).integers(0, 256, (256, *shape), dtype=np.uint8)
    tracker = Tracker()
    print(
        f"{total} frames of {shape} ({total * frame_bytes / 1e9:.2f} GB) over {args.keys} keys "
        f"(capacity {capacity}) in {work}"
    )
    print(f"start: RssAnon {proc_status('RssAnon')['RssAnon'] / MB:.0f} MB")

    with tracker.phase("fill") as phase:
        memory = ShortTermMemory(capacity, frame_shape=shape, storage=work / "storage")
        for i in range(total):
            frame = pool[i % len(pool)]
            frame[0, 0] = i % 251  # every frame differs in its first pixel
            memory.add(i % args.keys, frame)
        phase.note = f"{total / phase.elapsed():,.0f} frames/s"
    with tracker.phase("flush") as phase:
        memory.flush()
    with tracker.phase("save (stream to one file)") as phase:
        memory.save(work / "memory.manrl")
        size = (work / "memory.manrl").stat().st_size
        phase.note = f"{size / 1e9:.2f} GB file"
    with tracker.phase("close") as phase:
        memory.close()
        phase.note = f"storage {disk_bytes(work / 'storage') / 1e9:.2f} GB on disk"
    del memory
    with tracker.phase("reopen (ShortTermMemory.open)") as phase:
        reopened = ShortTermMemory.open(work / "storage")
        phase.note = f"{len(reopened)} frames"
    with tracker.phase(f"sample {args.batches} x {args.batch} (reopened)") as phase:
        expected = sample_all(reopened, args.batch, args.batches, args.seed)
        phase.note = f"{args.batches * args.batch / phase.elapsed():,.0f} frames/s"
    with tracker.phase("load (mmap file -> new storage)") as phase:
        loaded = ShortTermMemory.load(work / "memory.manrl", storage=work / "loaded")
        phase.note = f"{len(loaded)} frames"
    with tracker.phase(f"sample {args.batches} x {args.batch} (loaded)") as phase:
        got = sample_all(loaded, args.batch, args.batches, args.seed)
        phase.note = f"{args.batches * args.batch / phase.elapsed():,.0f} frames/s"
    with tracker.phase("check: same queues and batches") as phase:
        same = got == expected and reopened.keys == loaded.keys
        for key in reopened.keys[:: max(1, len(reopened.keys) // 16)]:
            same = same and np.array_equal(reopened.queue(key), loaded.queue(key))
        phase.note = "same" if same else "DIFFERENT"
        reopened.close()
        loaded.close()
    if not same:
        raise AssertionError("the reopened and the loaded memory differ")
    return tracker.phases, total


def render(phases: list[Phase]) -> str:
    """A Markdown table of the phases."""
    lines = [
        "| phase | seconds | peak RssAnon (MB) | RssFile at end (MB) | note |",
        "|---|---|---|---|---|",
    ]
    for p in phases:
        lines.append(
            f"| {p.name} | {p.seconds:.2f} | {p.peak_anon / MB:.0f} | {p.end_file / MB:.0f} "
            f"| {p.note} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every phase's peak RssAnon stays under ``--max-anon-mb``."""
    args = parse_args(argv)
    parent = args.dir if args.dir is not None else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="man_rl_large_memory_", dir=parent))
    try:
        phases, _ = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(render(phases))
    peak = max(p.peak_anon for p in phases)
    met = peak < args.max_anon_mb * MB
    print(
        f"peak RssAnon {peak / MB:.0f} MB, target < {args.max_anon_mb:.0f} MB: "
        f"{'met' if met else 'NOT met'}; VmHWM {proc_status('VmHWM')['VmHWM'] / MB:.0f} MB "
        f"(includes reclaimable file pages); pid {os.getpid()}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
