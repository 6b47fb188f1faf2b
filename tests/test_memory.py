from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.errors import (
    CorruptFileError,
    EmptyMemoryError,
    InvalidTypeError,
    InvalidValueError,
    ManRLError,
    UnknownKeyError,
)


def frame(value: int, shape=(4, 5, 3)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint8)


def filled(capacity=3, eviction="fifo", keys=("a", "b"), per_key=5, seed=0):
    stm = ShortTermMemory(capacity, eviction=eviction, seed=seed)
    value = 0
    for _ in range(per_key):
        for key in keys:
            stm.add(key, frame(value))
            value += 1
    return stm


class TestConstruction:
    @pytest.mark.parametrize("capacity", [0, -3])
    def test_capacity_below_one_is_value_error(self, capacity):
        with pytest.raises(ValueError, match="capacity must be >= 1"):
            ShortTermMemory(capacity)

    def test_capacity_must_be_int(self):
        with pytest.raises(TypeError, match="capacity must be an int"):
            ShortTermMemory(2.5)

    def test_unknown_eviction(self):
        with pytest.raises(InvalidValueError, match="eviction must be one of"):
            ShortTermMemory(3, eviction="lifo")

    def test_warns_when_worst_case_exceeds_free_ram(self):
        with pytest.warns(ResourceWarning, match="GiB"):
            ShortTermMemory(10**6, frame_shape=(256, 256, 3), expected_keys=10**4)

    def test_no_warning_when_it_fits(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ShortTermMemory(10, frame_shape=(8, 8, 3), expected_keys=10)


class TestAdd:
    def test_fifo_drops_oldest_and_keeps_order(self):
        stm = ShortTermMemory(3)
        for v in range(7):
            stm.add("k", frame(v))
        assert stm.queue("k")[:, 0, 0, 0].tolist() == [4, 5, 6]
        assert stm.counts() == {"k": 3}
        assert stm.seen() == {"k": 7}
        assert len(stm) == 3

    def test_add_copies_the_frame(self):
        stm = ShortTermMemory(2)
        f = frame(1)
        stm.add("k", f)
        f[:] = 99
        assert stm.queue("k")[0, 0, 0, 0] == 1

    def test_keys_in_first_seen_order(self):
        stm = ShortTermMemory(2)
        for key in ["z", (1, 2), 3, "z", "a"]:
            stm.add(key, frame(0))
        assert stm.keys == ["z", (1, 2), 3, "a"]

    def test_numpy_scalar_keys_are_python_keys(self):
        stm = ShortTermMemory(2)
        stm.add(np.int64(3), frame(0))
        stm.add(3, frame(1))
        stm.add((np.int64(1), np.int32(2)), frame(2))
        assert stm.keys == [3, (1, 2)]
        assert type(stm.keys[0]) is int
        assert stm.counts() == {3: 2, (1, 2): 1}

    def test_grey_frames(self):
        stm = ShortTermMemory(2)
        stm.add(0, np.zeros((7, 9), np.uint8))
        assert stm.frame_shape == (7, 9)
        assert stm.sample(3).frames.shape == (3, 7, 9)

    def test_different_shape_names_both_shapes(self):
        stm = ShortTermMemory(2)
        stm.add("a", frame(0, (4, 5, 3)))
        with pytest.raises(ValueError, match=r"\(4, 6, 3\).*\(4, 5, 3\)"):
            stm.add("a", frame(0, (4, 6, 3)))

    def test_wrong_dtype_is_type_error(self):
        stm = ShortTermMemory(2)
        with pytest.raises(TypeError, match="uint8"):
            stm.add("a", np.zeros((4, 4, 3), np.float32))

    def test_not_an_array_is_type_error(self):
        with pytest.raises(InvalidTypeError, match="numpy uint8 array"):
            ShortTermMemory(2).add("a", [[0, 1]])

    def test_wrong_ndim_is_value_error(self):
        with pytest.raises(InvalidValueError, match=r"\(H, W\) or \(H, W, C\)"):
            ShortTermMemory(2).add("a", np.zeros(5, np.uint8))

    def test_unhashable_key_is_type_error_saying_hashable(self):
        stm = ShortTermMemory(2)
        with pytest.raises(TypeError, match="must be hashable"):
            stm.add(["list", "key"], frame(0))
        assert len(stm) == 0

    def test_unsaveable_key_is_refused_at_add(self):
        with pytest.raises(InvalidTypeError, match="cannot be saved"):
            ShortTermMemory(2).add(frozenset({1}), frame(0))

    def test_bad_frame_does_not_create_key(self):
        stm = ShortTermMemory(2)
        stm.add("a", frame(0))
        with pytest.raises(ValueError):
            stm.add("b", frame(0, (2, 2, 3)))
        assert stm.keys == ["a"]

    def test_errors_belong_to_the_family(self):
        with pytest.raises(ManRLError):
            ShortTermMemory(0)


class TestReservoir:
    def test_keeps_capacity_and_counts_seen(self):
        stm = ShortTermMemory(4, eviction="reservoir", seed=0)
        for v in range(100):
            stm.add("k", frame(v % 256))
        assert stm.counts() == {"k": 4}
        assert stm.seen() == {"k": 100}

    def test_uniform_over_history(self):
        # Each of 20 items should be kept with probability capacity / n = 5 / 20.
        kept = np.zeros(20)
        for seed in range(400):
            stm = ShortTermMemory(5, eviction="reservoir", seed=seed)
            for v in range(20):
                stm.add("k", frame(v))
            kept[stm.queue("k")[:, 0, 0, 0]] += 1
        share = kept / 400
        assert np.all(np.abs(share - 0.25) < 0.09), share
        # FIFO would keep only the last five.
        assert share[:10].sum() > 1.5


class TestSample:
    def test_shapes_and_dtypes(self):
        stm = filled()
        frames, labels = stm.sample(16, rng=np.random.default_rng(0))
        assert frames.shape == (16, 4, 5, 3) and frames.dtype == np.uint8
        assert labels.shape == (16,) and labels.dtype == np.int64

    def test_labels_index_keys_and_frames_match(self):
        stm = ShortTermMemory(10)
        for key in range(5):
            for _ in range(3):
                stm.add(f"s{key}", frame(key * 10))
        frames, labels = stm.sample(200, rng=np.random.default_rng(1))
        for f, label in zip(frames, labels, strict=True):
            assert f[0, 0, 0] == int(stm.keys[label][1:]) * 10

    def test_balanced_is_uniform_over_keys_despite_imbalance(self):
        stm = ShortTermMemory(1000)
        for _ in range(900):
            stm.add("common", frame(1))
        for _ in range(10):
            stm.add("rare", frame(2))
        _, labels = stm.sample(20000, rng=np.random.default_rng(0))
        share = np.bincount(labels, minlength=2) / 20000
        assert abs(share[1] - 0.5) < 0.02

    def test_plain_sampling_follows_frame_counts(self):
        stm = ShortTermMemory(1000)
        for _ in range(900):
            stm.add("common", frame(1))
        for _ in range(100):
            stm.add("rare", frame(2))
        frames, labels = stm.sample(20000, balanced=False, rng=np.random.default_rng(0))
        share = np.bincount(labels, minlength=2) / 20000
        assert abs(share[1] - 0.1) < 0.01
        assert np.all(frames[labels == 1, 0, 0, 0] == 2)

    def test_same_rng_same_batch(self):
        stm = filled()
        a = stm.sample(32, rng=np.random.default_rng(5))
        b = stm.sample(32, rng=np.random.default_rng(5))
        assert np.array_equal(a.frames, b.frames) and np.array_equal(a.labels, b.labels)

    def test_seeded_memory_samples_reproducibly(self):
        a = filled(seed=3).sample(32)
        b = filled(seed=3).sample(32)
        assert np.array_equal(a.labels, b.labels)

    @pytest.mark.parametrize("eviction", ["fifo", "reservoir"])
    @pytest.mark.parametrize("balanced", [True, False])
    def test_parallel_gather_gives_the_same_batches(self, monkeypatch, eviction, balanced):
        stm = ShortTermMemory(7, eviction=eviction, seed=0)
        rng = np.random.default_rng(1)
        for _ in range(60):
            stm.add(int(rng.integers(5)), rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
        import torch  # the parallel gather is used where torch is imported

        calls = []
        index_select = torch.index_select
        monkeypatch.setattr(
            torch, "index_select", lambda *a, **k: calls.append(1) or index_select(*a, **k)
        )
        batches = []
        for threshold in (2**62, 0):  # numpy's fancy indexing, then torch's index_select
            monkeypatch.setattr("man_rl.stm.pool._PARALLEL_GATHER_BYTES", threshold)
            frames, labels = stm.sample(300, balanced=balanced, rng=np.random.default_rng(2))
            assert frames.shape == (300, 6, 5, 3) and frames.dtype == np.uint8
            batches.append((frames, labels))
        assert calls == [1]  # once, for the second batch
        assert np.array_equal(batches[0][0], batches[1][0])
        assert np.array_equal(batches[0][1], batches[1][1])

    def test_empty_memory(self):
        with pytest.raises(EmptyMemoryError, match="empty"):
            ShortTermMemory(3).sample(4)

    @pytest.mark.parametrize("batch", [0, -1])
    def test_batch_size_below_one(self, batch):
        with pytest.raises(ValueError, match="batch_size must be >= 1"):
            filled().sample(batch)

    def test_all_frames(self):
        stm = filled(capacity=2, keys=("a", "b"), per_key=3)
        frames, labels = stm.all_frames()
        assert labels.tolist() == [0, 0, 1, 1]
        assert frames[:, 0, 0, 0].tolist() == [2, 4, 3, 5]


class TestQueries:
    def test_unknown_key(self):
        stm = filled()
        with pytest.raises(KeyError, match="not in this memory") as info:
            stm.queue("nope")
        assert isinstance(info.value, UnknownKeyError)
        assert "'nope'" in str(info.value)

    def test_contains_and_repr(self):
        stm = filled()
        assert "a" in stm and "c" not in stm and ["x"] not in stm
        assert "keys=2" in repr(stm)

    def test_nbytes_is_raw_frame_bytes(self):
        stm = filled(capacity=3)
        assert stm.nbytes == 6 * 4 * 5 * 3

    def test_the_pool_maps_little_more_than_the_frames_held(self):
        stm = ShortTermMemory(50)
        for key in range(40):
            for _ in range(60):  # the last 10 of each key replace older ones in place
                stm.add(key, frame(key, (64, 64, 3)))
        held = 40 * 50 * 64 * 64 * 3
        assert stm.nbytes == held
        # growth adds max(16 MiB, 1/16), rounded to 2 MiB huge pages
        assert stm._queues.pool.mapped_bytes <= held + max(16 * 2**20, held // 16) + 2 * 2**20
        assert [int(stm.queue(k)[-1, 0, 0, 0]) for k in range(40)] == list(range(40))

    def test_possible_keys_cost_nothing_until_frames_come(self):
        stm = ShortTermMemory(500, frame_shape=(64, 64, 3), expected_keys=100_000)
        assert stm._queues.pool.mapped_bytes == 0  # nothing for frames yet
        assert stm._rings.nbytes <= 100_000 * 32 + 1024  # counters of the keys to expect
        stm.add("a", frame(1, (64, 64, 3)))
        assert stm._queues.pool.mapped_bytes <= 18 * 2**20

    def test_frames_held_survive_every_growth_of_the_pool(self):
        stm = ShortTermMemory(8, frame_shape=(16, 16, 3))
        for i in range(3000):  # many growths of the pool and of the rings
            stm.add(i % 300, frame(i % 251, (16, 16, 3)))
        for key in range(300):
            values = stm.queue(key)[:, 0, 0, 0].tolist()
            assert values == [(key + 300 * i) % 251 for i in range(2, 10)], key

    def test_reserve_and_bad_counts(self):
        stm = ShortTermMemory(4, expected_keys=12)
        stm.add("a", frame(1))
        assert stm.counts() == {"a": 1}
        with pytest.raises(InvalidValueError, match="num_keys"):
            stm.reserve(-1)

    def test_room_for_many_keys_costs_no_ram_until_written(self):
        def rss_anon_bytes() -> int:
            with open("/proc/self/status") as status:
                line = next(line for line in status if line.startswith("RssAnon:"))
            return int(line.split()[1]) * 1024

        if not os.path.exists("/proc/self/status"):
            pytest.skip("RssAnon is read from Linux's /proc")
        stm = ShortTermMemory(500, frame_shape=(64, 64, 3))
        before = rss_anon_bytes()
        stm.reserve(144)  # capacity x keys would be 885 MB
        for key in range(144):
            stm.add(key, np.full((64, 64, 3), 7, np.uint8))
        # 144 frames of 12 KiB each, side by side in the pool
        assert rss_anon_bytes() - before < 8 * 2**20

    def test_copies_and_pickles_hold_only_the_frames_held(self):
        import copy
        import pickle

        stm = ShortTermMemory(1000, frame_shape=(64, 64, 3), seed=0, expected_keys=300)
        stm.add("a", np.full((64, 64, 3), 9, np.uint8))
        data = pickle.dumps(stm)
        assert len(data) < 100_000
        for twin in (stm.copy(), copy.deepcopy(stm), pickle.loads(data)):
            assert twin.keys == ["a"] and np.array_equal(twin.queue("a"), stm.queue("a"))
            assert np.array_equal(twin.sample(4, rng=np.random.default_rng(0))[0][0], frame_9())
            twin.add("b", frame_9())
            twin.add("a", frame_9())
            assert twin.counts() == {"a": 2, "b": 1} and stm.counts() == {"a": 1}

    def test_storage_memories_are_not_pickled(self, tmp_path):
        import pickle

        with ShortTermMemory(2, storage=tmp_path / "s") as disk:
            disk.add("a", frame(1))
            with pytest.raises(InvalidTypeError, match=r"ShortTermMemory\.open"):
                pickle.dumps(disk)

    def test_reserve_needs_a_whole_number(self):
        for bad in (2.5, True, "7"):
            with pytest.raises(InvalidTypeError, match="num_keys"):
                ShortTermMemory(4).reserve(bad)


def frame_9() -> np.ndarray:
    return np.full((64, 64, 3), 9, np.uint8)


class TestMerge:
    def test_merge_is_adding_in_order(self):
        a, b = filled(capacity=3), ShortTermMemory(3)
        for v in range(4):
            b.add("b", frame(100 + v))
            b.add("new", frame(200 + v))
        expected = a.copy()
        for key in b.keys:
            for f in b.queue(key):
                expected.add(key, f)
        a.merge(b)
        assert a.keys == ["a", "b", "new"]
        for key in a.keys:
            assert np.array_equal(a.queue(key), expected.queue(key))
        assert a.queue("b")[:, 0, 0, 0].tolist() == [101, 102, 103]

    def test_merge_returns_self_and_leaves_other(self):
        a, b = filled(), filled()
        before = b.counts()
        assert a.merge(b) is a
        assert b.counts() == before

    def test_merge_refuses_other_shapes(self):
        a = filled()
        b = ShortTermMemory(3)
        b.add("a", frame(0, (2, 2)))
        with pytest.raises(InvalidValueError, match="frame shapes"):
            a.merge(b)

    def test_merge_refuses_non_memory(self):
        with pytest.raises(InvalidTypeError):
            filled().merge({"a": 1})

    def test_reservoir_merge_keeps_capacity_and_weights(self):
        a = ShortTermMemory(10, eviction="reservoir", seed=0)
        b = ShortTermMemory(10, eviction="reservoir", seed=1)
        for _ in range(90):
            a.add("k", frame(1))
        for _ in range(10):
            b.add("k", frame(2))
        a.merge(b)
        assert a.counts() == {"k": 10} and a.seen() == {"k": 100}
        assert (a.queue("k")[:, 0, 0, 0] == 1).sum() >= 5


class TestFiles:
    @pytest.mark.parametrize("eviction", ["fifo", "reservoir"])
    def test_round_trip(self, tmp_path, eviction):
        stm = ShortTermMemory(3, eviction=eviction, seed=0)
        keys = [0, "s", (1, 2, 3), ("x", (4, 5)), -7, 2.5, None, True]
        for i in range(40):
            stm.add(keys[i % len(keys)], frame(i))
        stm.save(tmp_path / "m.manrl")
        loaded = ShortTermMemory.load(tmp_path / "m.manrl")
        assert loaded.keys == stm.keys
        assert [type(k) for k in loaded.keys] == [type(k) for k in stm.keys]
        assert loaded.counts() == stm.counts() and loaded.seen() == stm.seen()
        assert loaded.capacity == 3 and loaded.eviction == eviction
        for key in stm.keys:
            assert np.array_equal(loaded.queue(key), stm.queue(key))

    def test_loaded_fifo_continues_like_the_original(self, tmp_path):
        stm = filled(capacity=3, per_key=5)
        stm.save(tmp_path / "m.manrl")
        loaded = ShortTermMemory.load(tmp_path / "m.manrl")
        for m in (stm, loaded):
            m.add("a", frame(77))
        assert np.array_equal(loaded.queue("a"), stm.queue("a"))
        assert np.array_equal(loaded.sample(20).labels, stm.sample(20).labels)

    def test_empty_round_trip(self, tmp_path):
        ShortTermMemory(4).save(tmp_path / "e.manrl")
        loaded = ShortTermMemory.load(tmp_path / "e.manrl")
        assert len(loaded) == 0 and loaded.keys == []

    def test_atomic_save_leaves_no_temp_files(self, tmp_path):
        filled().save(tmp_path / "m.manrl")
        filled(per_key=2).save(tmp_path / "m.manrl")
        assert [p.name for p in tmp_path.iterdir()] == ["m.manrl"]

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            ShortTermMemory.load(tmp_path / "nope.manrl")

    def test_not_a_memory_file(self, tmp_path):
        path = tmp_path / "x.npz"
        np.savez(path, a=np.zeros(3))
        with pytest.raises(CorruptFileError, match=r"x\.npz"):
            ShortTermMemory.load(path)


class OneByOne:
    """The balanced sampler without draw_many: every batch is drawn when it is asked for."""

    def draw(self, sizes, batch, rng):
        from man_rl.stm.sampling import BALANCED

        return BALANCED.draw(sizes, batch, rng)


@pytest.mark.parametrize("batch", [7, 300])  # numpy's gather, then torch's
def test_batches_drawn_ahead_are_the_batches_drawn_one_by_one(batch):
    import torch  # noqa: F401  (large batches are gathered by torch once it is imported)

    from man_rl.stm.sampling import BALANCED

    ahead, one_by_one = (
        filled(capacity=6, keys="abcd", per_key=9),
        filled(6, keys="abcd", per_key=9),
    )
    ahead_rng, plain_rng = np.random.default_rng(3), np.random.default_rng(3)
    for step in range(200):
        x = ahead.sample(batch, rng=ahead_rng, sampler=BALANCED)
        y = one_by_one.sample(batch, rng=plain_rng, sampler=OneByOne())
        assert np.array_equal(x.labels, y.labels) and np.array_equal(x.frames, y.frames), step
        if step in (50, 51, 120):  # a new key and a new place end the run drawn ahead
            for memory in (ahead, one_by_one):
                memory.add(("new", step), frame(step))
    assert ahead._queues._plan.count > 1  # runs were drawn ahead
    # the generator is where drawing batch by batch leaves it (a checkpoint can resume it)
    assert ahead_rng.bit_generator.state == plain_rng.bit_generator.state


def test_a_reservoir_drawing_from_the_memory_generator_ends_a_run():
    from man_rl.stm.sampling import BALANCED

    ahead = filled(capacity=3, eviction="reservoir", keys="ab", per_key=6, seed=1)
    one_by_one = filled(capacity=3, eviction="reservoir", keys="ab", per_key=6, seed=1)
    for step in range(60):
        x = ahead.sample(5, sampler=BALANCED)
        y = one_by_one.sample(5, sampler=OneByOne())
        assert np.array_equal(x.frames, y.frames), step
        if step % 7 == 0:  # a full reservoir draws where its new frame goes
            ahead.add("a", frame(step))
            one_by_one.add("a", frame(step))


def test_a_batch_drawn_ahead_sees_frames_replaced_since():
    stm = filled(capacity=2, keys="a", per_key=2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        stm.sample(4, rng=rng)  # a run of batches drawn ahead
    stm.add("a", frame(77))  # replaces the oldest in place: same slots, new frame
    stm.add("a", frame(78))
    assert set(stm.sample(64, rng=rng).frames[:, 0, 0, 0].tolist()) == {77, 78}
