"""Storage memories (frames in a memory-mapped file) and streamed / mapped container files."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from man_rl import ShortTermMemory
from man_rl.errors import CorruptFileError, InvalidValueError, UnsupportedVersionError
from man_rl.io.bundle import ArrayStream, read_bundle, write_bundle

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def frame(value: int, shape=(4, 5, 3)) -> np.ndarray:
    return np.full(shape, value % 256, dtype=np.uint8)


def fill(memories, steps=300, keys=7, shape=(4, 5, 3), seed=0):
    """The same random adds into every memory; frame values count up."""
    rng = np.random.default_rng(seed)
    for i in range(steps):
        key = (int(rng.integers(keys)), "k")
        for memory in memories:
            memory.add(key, frame(i, shape))


def assert_same(a: ShortTermMemory, b: ShortTermMemory) -> None:
    assert a.keys == b.keys
    assert a.counts() == b.counts() and a.seen() == b.seen()
    assert a.capacity == b.capacity and a.eviction == b.eviction
    assert a.frame_shape == b.frame_shape
    for key in a.keys:
        assert np.array_equal(a.queue(key), b.queue(key)), key


def assert_same_batches(a: ShortTermMemory, b: ShortTermMemory, seed=0) -> None:
    for balanced in (True, False):
        x = a.sample(64, balanced=balanced, rng=np.random.default_rng(seed))
        y = b.sample(64, balanced=balanced, rng=np.random.default_rng(seed))
        assert np.array_equal(x.frames, y.frames) and np.array_equal(x.labels, y.labels)


def rss_anon() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise OSError("no RssAnon")


# ---------------------------------------------------------------------- same as in RAM
class TestSameAsRam:
    @pytest.mark.parametrize("eviction", ["fifo", "reservoir"])
    @pytest.mark.parametrize("shape", [(4, 5, 3), (6, 3)])
    def test_same_adds_same_queues_and_batches(self, tmp_path, eviction, shape):
        ram = ShortTermMemory(5, eviction=eviction, seed=1)
        disk = ShortTermMemory(5, eviction=eviction, seed=1, storage=tmp_path / "s")
        fill([ram, disk], shape=shape)
        assert_same(ram, disk)
        assert_same_batches(ram, disk)
        assert np.array_equal(ram.sample(16).frames, disk.sample(16).frames)  # own rngs
        assert np.array_equal(ram.all_frames().frames, disk.all_frames().frames)
        assert len(ram) == len(disk) and ram.nbytes == disk.nbytes
        assert disk.storage == tmp_path / "s" and ram.storage is None
        assert "storage=" in repr(disk)

    def test_merge_into_storage_is_merge_in_ram(self, tmp_path):
        other = ShortTermMemory(4)
        fill([other], steps=40, keys=5, seed=2)
        ram, disk = ShortTermMemory(4), ShortTermMemory(4, storage=tmp_path / "s")
        fill([ram, disk], steps=30, keys=3)
        ram.merge(other), disk.merge(other)
        assert_same(ram, disk)

    @pytest.mark.parametrize("use_storage", [False, True])
    def test_reservoir_merged_from_a_smaller_one_fills_up_without_gaps(self, tmp_path, use_storage):
        big = ShortTermMemory(
            10, eviction="reservoir", seed=0, storage=tmp_path / "s" if use_storage else None
        )
        small = ShortTermMemory(3, eviction="reservoir", seed=0)
        for i in range(8):
            small.add("k", frame(i + 1))
        big.merge(small)
        assert big.counts() == {"k": 3} and big.seen() == {"k": 8}
        for i in range(7):
            big.add("k", frame(100 + i))
        held = big.queue("k")[:, 0, 0, 0]
        assert len(held) == 10 and 0 not in held  # every place holds a frame that was added

    def test_copies(self, tmp_path):
        disk = ShortTermMemory(3, storage=tmp_path / "s", seed=4)
        fill([disk], steps=50)
        in_ram, on_disk = disk.copy(), disk.copy(storage=tmp_path / "copy")
        assert in_ram.storage is None and on_disk.storage == tmp_path / "copy"
        assert_same(disk, in_ram)
        assert_same(disk, on_disk)
        for memory in (disk, in_ram, on_disk):  # all continue alike, copies are independent
            memory.add((0, "k"), frame(200))
        assert_same(disk, in_ram)
        assert_same_batches(in_ram, on_disk)
        in_ram.add("new", frame(1))
        assert "new" not in disk


# ---------------------------------------------------------------------- the file on disk
class TestStorageFolder:
    def test_the_frames_file_grows_with_the_frames_held(self, tmp_path):
        shape = (64, 64, 3)
        capacity = 2000  # capacity x keys would be 221 MB
        stm = ShortTermMemory(capacity, storage=tmp_path / "s")
        for key in range(9):
            stm.add(key, frame(key, shape))
        frames_file = tmp_path / "s" / "frames.u8"
        assert frames_file.stat().st_size <= 17 * 2**20  # the pool's first map
        assert frames_file.stat().st_blocks * 512 < 5 * 2**20  # sparse: ~9 frames written
        for i in range(2000):  # the pool grows past its first map
            stm.add(i % 9, frame(i, shape))
        assert frames_file.stat().st_size >= 2009 * int(np.prod(shape))
        stm.close()
        again = ShortTermMemory.open(tmp_path / "s")
        assert again.counts() == {k: 1 + len(range(k, 2000, 9)) for k in range(9)}
        assert [int(again.queue(k)[0, 0, 0, 0]) for k in range(9)] == list(range(9))
        again.add(20, frame(20, shape))
        assert again.queue(20)[0, 0, 0, 0] == 20

    @pytest.mark.parametrize("eviction", ["fifo", "reservoir"])
    def test_reopen_after_flush_continues_like_the_original(self, tmp_path, eviction):
        ram = ShortTermMemory(4, eviction=eviction, seed=3)
        disk = ShortTermMemory(4, eviction=eviction, seed=3, storage=tmp_path / "s")
        fill([ram, disk], steps=60)
        disk.flush()
        disk.close()
        reopened = ShortTermMemory.open(tmp_path / "s")
        assert_same(ram, reopened)
        fill([ram, reopened], steps=40, seed=9)  # reservoir draws use the restored rng
        assert_same(ram, reopened)
        assert np.array_equal(ram.sample(20).labels, reopened.sample(20).labels)

    def test_empty_and_shape_only_storages_reopen(self, tmp_path):
        ShortTermMemory(3, storage=tmp_path / "a").close()
        ShortTermMemory(3, frame_shape=(2, 2), storage=tmp_path / "b").close()
        a, b = ShortTermMemory.open(tmp_path / "a"), ShortTermMemory.open(tmp_path / "b")
        assert len(a) == 0 and a.frame_shape is None and b.frame_shape == (2, 2)
        b.add("x", frame(1, (2, 2)))
        assert b.counts() == {"x": 1}

    def test_a_folder_is_open_once(self, tmp_path):
        stm = ShortTermMemory(3, storage=tmp_path / "s")
        with pytest.raises(InvalidValueError, match="open in another"):
            ShortTermMemory.open(tmp_path / "s")
        stm.close()
        with ShortTermMemory.open(tmp_path / "s") as again:
            assert len(again) == 0
        ShortTermMemory.open(tmp_path / "s").close()  # released at the end of the with

    def test_an_existing_storage_is_not_overwritten(self, tmp_path):
        with ShortTermMemory(3, storage=tmp_path / "s") as stm:
            stm.add("a", frame(1))
        with pytest.raises(InvalidValueError, match=r"already holds.*ShortTermMemory\.open"):
            ShortTermMemory(3, storage=tmp_path / "s")
        with ShortTermMemory.open(tmp_path / "s") as stm:
            assert stm.counts() == {"a": 1}

    def test_closed_memory_refuses_use(self, tmp_path):
        stm = ShortTermMemory(3, storage=tmp_path / "s")
        stm.add("a", frame(1))
        stm.close()
        stm.close()  # twice is fine
        for use in (lambda: stm.add("a", frame(2)), lambda: stm.sample(2), stm.flush):
            with pytest.raises(InvalidValueError, match="closed"):
                use()
        assert stm.counts() == {"a": 1}

    def test_failed_flush_keeps_the_old_metadata_and_the_memory_open(self, tmp_path, monkeypatch):
        stm = ShortTermMemory(3, storage=tmp_path / "s")
        stm.add("a", frame(1))
        stm.flush()
        stm.add("b", frame(2))

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr("man_rl.io.bundle.os.fsync", disk_full)
            with pytest.raises(OSError, match="No space"):
                stm.close()
        assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
            "frames.u8",
            "lock",
            "meta.manrl",
        ]
        stm.add("c", frame(3))  # still open
        stm.close()
        with ShortTermMemory.open(tmp_path / "s") as again:
            assert again.counts() == {"a": 1, "b": 1, "c": 1}

    def test_in_ram_flush_and_close_are_no_ops(self):
        stm = ShortTermMemory(3)
        stm.add("a", frame(1))
        stm.flush()
        stm.close()
        stm.add("a", frame(2))
        assert stm.counts() == {"a": 2}

    def test_warns_when_worst_case_exceeds_free_disk(self, tmp_path):
        with pytest.warns(ResourceWarning, match="disk space"):
            ShortTermMemory(
                10**9, frame_shape=(256, 256, 3), expected_keys=10**6, storage=tmp_path / "s"
            )

    def test_crash_leaves_the_last_flushed_state(self, tmp_path):
        folder = tmp_path / "s"
        script = textwrap.dedent(
            f"""
            import os, signal
            import numpy as np
            from man_rl import ShortTermMemory
            stm = ShortTermMemory(3, storage={str(folder)!r})
            for i in range(10):
                stm.add(i % 2, np.full((2, 2), 10 * (i % 2) + i, np.uint8))
            stm.flush()
            for i in range(10, 40):  # wraps both full queues, adds new keys, grows slots
                stm.add(i % 7, np.full((2, 2), 10 * (i % 7) + i % 10, np.uint8))
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert done.returncode == -9, done.stderr.decode()
        with ShortTermMemory.open(folder) as stm:
            assert stm.keys == [0, 1]
            assert stm.counts() == {0: 3, 1: 3} and stm.seen() == {0: 5, 1: 5}
            for key in stm.keys:  # each place holds a frame of its own key, whole
                values = stm.queue(key)
                assert np.all(values == values[:, :1, :1])
                assert all(v // 10 == key for v in values[:, 0, 0]), values[:, 0, 0]


class TestDamagedFolders:
    def make(self, tmp_path) -> Path:
        with ShortTermMemory(3, storage=tmp_path / "s") as stm:
            fill([stm], steps=20)
        return tmp_path / "s"

    def test_missing_folder(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            ShortTermMemory.open(tmp_path / "nope")

    @pytest.mark.parametrize("what", ["empty folder", "a file", "other files"])
    def test_not_a_storage(self, tmp_path, what):
        target = tmp_path / "x"
        if what == "a file":
            target.write_bytes(b"hello")
        else:
            target.mkdir()
            if what == "other files":
                np.save(target / "frames.npy", np.zeros(3))
        with pytest.raises(CorruptFileError, match=rf"{target}.*not a man_rl storage"):
            ShortTermMemory.open(target)

    @pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "memory file"])
    def test_damaged_metadata(self, tmp_path, damage):
        folder = self.make(tmp_path)
        meta = folder / "meta.manrl"
        data = bytearray(meta.read_bytes())
        if damage == "flip":
            data[len(data) // 2] ^= 4
            meta.write_bytes(bytes(data))
        elif damage == "truncate":
            meta.write_bytes(bytes(data[:-10]))
        elif damage == "garbage":
            meta.write_bytes(b"\0" * 100)
        else:  # a memory container is not a storage's metadata
            ShortTermMemory(3).save(meta)
        damaged = meta.read_bytes()
        with pytest.raises(CorruptFileError, match=str(folder)):
            ShortTermMemory.open(folder)
        assert meta.read_bytes() == damaged  # left as it was, for whoever recovers it

    @pytest.mark.parametrize("damage", ["truncate", "delete"])
    def test_short_or_missing_frames_file(self, tmp_path, damage):
        folder = self.make(tmp_path)
        frames = folder / "frames.u8"
        if damage == "truncate":
            with frames.open("r+b") as handle:
                handle.truncate(100)  # fewer bytes than the frames held
        else:
            frames.unlink()
        with pytest.raises(CorruptFileError, match=rf"{folder}.*frames\.u8"):
            ShortTermMemory.open(folder)

    def test_inconsistent_counters(self, tmp_path):
        folder = self.make(tmp_path)
        bundle = read_bundle(folder / "meta.manrl", "short_term_memory_storage")
        sizes = bundle.arrays["sizes"].copy()
        sizes[0] = 99  # more than the capacity
        arrays = {"sizes": sizes, "seen": bundle.arrays["seen"]}
        write_bundle(folder / "meta.manrl", "short_term_memory_storage", bundle.meta, arrays)
        with pytest.raises(CorruptFileError, match="inconsistent"):
            ShortTermMemory.open(folder)

    def test_newer_storage_version(self, tmp_path):
        folder = self.make(tmp_path)
        bundle = read_bundle(folder / "meta.manrl", "short_term_memory_storage")
        meta = {**bundle.meta, "storage_version": 99}
        write_bundle(folder / "meta.manrl", "short_term_memory_storage", meta, bundle.arrays)
        with pytest.raises(UnsupportedVersionError, match="upgrade man_rl"):
            ShortTermMemory.open(folder)


# ---------------------------------------------------------------------- container files
class TestContainerFiles:
    @pytest.mark.parametrize("eviction", ["fifo", "reservoir"])
    def test_round_trip_through_a_file_into_storage(self, tmp_path, eviction):
        ram = ShortTermMemory(4, eviction=eviction, seed=5)
        disk = ShortTermMemory(4, eviction=eviction, seed=5, storage=tmp_path / "s")
        fill([ram, disk], steps=80)
        ram.save(tmp_path / "ram.manrl")
        disk.save(tmp_path / "disk.manrl")
        # The same memory gives the same file, in RAM or on disk.
        assert (tmp_path / "ram.manrl").read_bytes() == (tmp_path / "disk.manrl").read_bytes()
        loaded = ShortTermMemory.load(tmp_path / "disk.manrl", storage=tmp_path / "loaded")
        assert_same(ram, loaded)
        assert_same_batches(ram, loaded)
        loaded.close()
        reopened = ShortTermMemory.open(tmp_path / "loaded")  # load flushed the folder
        assert_same(ram, reopened)
        assert_same(ram, ShortTermMemory.load(tmp_path / "disk.manrl"))
        fill([ram, reopened], steps=30, seed=4)
        assert_same(ram, reopened)

    def test_golden_v1_file_loads_into_storage(self, tmp_path):
        golden = Path(__file__).parent / "data" / "stm_v1.manrl"
        with ShortTermMemory.load(golden, storage=tmp_path / "s") as stm:
            assert_same(stm, ShortTermMemory.load(golden))

    def test_load_refuses_an_existing_storage_and_leaves_it(self, tmp_path):
        ShortTermMemory(3).save(tmp_path / "m.manrl")
        with ShortTermMemory(3, storage=tmp_path / "s") as stm:
            stm.add("a", frame(1))
        with pytest.raises(InvalidValueError, match="already holds"):
            ShortTermMemory.load(tmp_path / "m.manrl", storage=tmp_path / "s")
        with ShortTermMemory.open(tmp_path / "s") as stm:
            assert stm.counts() == {"a": 1}

    def test_mapped_read(self, tmp_path):
        arrays = {
            "u8": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
            "empty": np.zeros((0, 3), np.int64),
            "i8": np.arange(5, dtype=np.int64),
        }
        write_bundle(tmp_path / "b", "t", {"x": 1}, arrays)
        bundle = read_bundle(tmp_path / "b", "t", mmap=True)
        assert bundle.meta == {"x": 1}
        for name, array in arrays.items():
            got = bundle.arrays[name]
            assert np.array_equal(got, array) and got.shape == array.shape
            assert got.dtype == array.dtype and not got.flags.writeable
        assert isinstance(bundle.arrays["u8"], np.memmap)

    def test_stream_of_the_wrong_length_writes_nothing(self, tmp_path):
        write_bundle(tmp_path / "b", "t", {}, {"a": np.zeros(2, np.uint8)})
        before = (tmp_path / "b").read_bytes()
        short = ArrayStream((3, 2), np.uint8, iter([np.zeros((2, 2), np.uint8)]))
        with pytest.raises(InvalidValueError, match=r"streamed 4 bytes.*\(3, 2\)"):
            write_bundle(tmp_path / "b", "t", {}, {"a": short})
        assert (tmp_path / "b").read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["b"]

    def test_streamed_big_endian_and_mixed_pieces(self, tmp_path):
        pieces = [np.arange(3, dtype=">i4"), np.arange(3, 6, dtype=np.int64)]
        write_bundle(tmp_path / "b", "t", {}, {"a": ArrayStream((6,), ">i4", iter(pieces))})
        for mmap in (False, True):
            got = read_bundle(tmp_path / "b", "t", mmap=mmap).arrays["a"]
            assert got.tolist() == list(range(6)) and got.dtype == np.dtype("<i4")


Corruption = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**9), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**9), st.just(0)),
    st.tuples(st.just("zero"), st.integers(0, 10**9), st.integers(1, 64)),
    st.tuples(st.just("extend"), st.integers(1, 100), st.integers(0, 255)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(corruption=Corruption)
def test_corrupted_file_loads_into_storage_exactly_or_not_at_all(tmp_path, corruption):
    path = tmp_path / "m.manrl"
    original = ShortTermMemory(3, seed=0)
    fill([original], steps=12, keys=4, shape=(3, 4, 3))
    original.save(path)
    data = bytearray(path.read_bytes())
    kind, where, arg = corruption
    if kind == "flip":
        data[where % len(data)] ^= 1 << arg
    elif kind == "truncate":
        data = data[: where % len(data)]
    elif kind == "zero":
        start = where % len(data)
        data[start : start + arg] = bytes(len(data[start : start + arg]))
    else:
        data += bytes([arg]) * where
    path.write_bytes(bytes(data))
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "s"
    try:
        loaded = ShortTermMemory.load(path, storage=folder)
    except CorruptFileError as err:
        assert str(path) in str(err)
        assert not folder.exists()  # a refused file leaves no half-made storage
    else:
        assert_same(loaded, original)
        loaded.close()


# ---------------------------------------------------------------------- any sequence of ops
class StorageMachine(RuleBasedStateMachine):
    """A storage memory and an in-RAM twin, driven alike, must agree after every step."""

    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.count = 0
        self.ram = ShortTermMemory(3, seed=0)
        self.disk = ShortTermMemory(3, seed=0, storage=self.next_folder())
        self.counter = 0

    def next_folder(self) -> Path:
        self.count += 1
        return self.folder / f"s{self.count}"

    @rule(key=st.sampled_from([0, 1, "a", (2, 3), ("b", 0), 5, 6]))
    def add(self, key):
        self.counter += 1
        for memory in (self.ram, self.disk):
            memory.add(key, frame(self.counter, (2, 3)))

    @rule(keys=st.lists(st.integers(0, 8), max_size=5))
    def merge(self, keys):
        other = ShortTermMemory(3)
        for key in keys:
            self.counter += 1
            other.add(key, frame(self.counter, (2, 3)))
        self.ram.merge(other)
        self.disk.merge(other)

    @rule()
    def flush_close_reopen(self):
        self.disk.close()
        self.disk = ShortTermMemory.open(self.disk.storage)

    @rule()
    def save_and_load_into_storage(self):
        path = self.folder / f"m{self.count}.manrl"
        self.disk.save(path)
        self.disk.close()
        self.disk = ShortTermMemory.load(path, storage=self.next_folder())

    @precondition(lambda self: len(self.ram) > 0)
    @rule(seed=st.integers(0, 100))
    def sample(self, seed):
        assert_same_batches(self.ram, self.disk, seed)

    @invariant()
    def agree(self):
        assert_same(self.ram, self.disk)

    def teardown(self):
        self.disk.close()
        shutil.rmtree(self.folder, ignore_errors=True)


StorageMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
TestStorageMachine = StorageMachine.TestCase


# ---------------------------------------------------------------------- resident memory
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_storage_keeps_anonymous_memory_low(tmp_path):
    """~100 MB of frames filled, saved, loaded and sampled: RssAnon grows far less than that.

    A thread polls RssAnon so that passing peaks (a payload read whole, say) count. Robust to
    noise: the frames to add are made before the baseline, the bound is a fifth of the data
    (a memory in RAM grows by all of it), and the check retries once.
    """
    shape, keys = (64, 64, 3), 64
    capacity = 100 * 2**20 // (int(np.prod(shape)) * keys)  # ~100 MB in all
    pool = np.random.default_rng(0).integers(0, 256, (32, *shape), dtype=np.uint8)
    data = capacity * keys * int(np.prod(shape))

    def run(attempt: int) -> int:
        gc.collect()
        base = rss_anon()
        peak = [base]
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.005):
                peak[0] = max(peak[0], rss_anon())

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            stm = ShortTermMemory(capacity, storage=tmp_path / f"s{attempt}")
            for i in range(capacity * keys):
                stm.add(i % keys, pool[i % len(pool)])
            stm.save(tmp_path / f"m{attempt}.manrl")
            stm.close()
            path, folder = tmp_path / f"m{attempt}.manrl", tmp_path / f"l{attempt}"
            with ShortTermMemory.load(path, storage=folder) as loaded:
                for _ in range(20):
                    loaded.sample(256)
                assert len(loaded) == capacity * keys
        finally:
            stop.set()
            thread.join()
        return max(peak[0], rss_anon()) - base

    growth = run(0)
    if growth >= data / 5:
        growth = run(1)
    assert growth < data / 5, f"RssAnon grew {growth / 2**20:.0f} MB for {data / 2**20:.0f} MB"


# ---------------------------------------------------------------------- the benchmark
def test_large_memory_benchmark_runs_tiny(tmp_path, capsys):
    if str(BENCHMARKS.parent) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS.parent))
    from benchmarks.large_memory import main

    # The suite's process already holds torch and more: the 500 MB bound is the benchmark's.
    argv = ["--frames-gb", "0.002", "--keys", "8", "--batch", "8", "--batches", "3"]
    argv += ["--max-anon-mb", "100000"]
    assert main([*argv, "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for phase in ["fill", "save", "reopen", "load", "sample", "same"]:
        assert phase in out
    assert "peak RssAnon" in out and "met" in out
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself


# ---------------------------------------------------------------------- storage version 1
def test_golden_version_1_folder_opens_in_place_and_is_written_as_version_2(tmp_path):
    # tests/data/stm_storage_v1 was written by man_rl 0.1.0 (one capacity-long row per key)
    # with tests/data/make_golden_storage.py.
    sys.path.insert(0, str(Path(__file__).parent / "data"))
    try:
        from make_golden_storage import golden_adds
    finally:
        sys.path.pop(0)
    shutil.copytree(Path(__file__).parent / "data" / "stm_storage_v1", tmp_path / "s")
    expected = ShortTermMemory(3, seed=5)
    for key, value in golden_adds():
        expected.add(key, value)
    with ShortTermMemory.open(tmp_path / "s") as stm:
        assert_same(stm, expected)
        assert_same_batches(stm, expected)
        fill([stm, expected], steps=40, shape=(4, 5, 3), seed=9)  # new keys, wrapped rings
        assert_same(stm, expected)
    meta = read_bundle(tmp_path / "s" / "meta.manrl", "short_term_memory_storage").meta
    assert meta["storage_version"] == 2
    with ShortTermMemory.open(tmp_path / "s") as again:
        assert_same(again, expected)
