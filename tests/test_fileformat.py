from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from man_rl import ShortTermMemory
from man_rl.errors import CorruptFileError, InvalidTypeError, UnsupportedVersionError
from man_rl.io.bundle import FORMAT_VERSION, MAGIC, read_bundle, write_bundle

DATA = Path(__file__).parent / "data"


def sample_memory() -> ShortTermMemory:
    stm = ShortTermMemory(3, seed=0)
    for i in range(10):
        stm.add((i % 4, "s"), np.full((3, 4, 3), i * 20, np.uint8))
    return stm


def assert_same(a: ShortTermMemory, b: ShortTermMemory) -> None:
    assert a.keys == b.keys and a.counts() == b.counts() and a.seen() == b.seen()
    for key in a.keys:
        assert np.array_equal(a.queue(key), b.queue(key))


def test_round_trip_arrays_and_meta(tmp_path):
    arrays = {
        "u8": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "f32": np.linspace(0, 1, 5, dtype=np.float32),
        "empty": np.zeros((0, 3), np.int64),
        "big_endian": np.arange(3, dtype=">i4"),
    }
    write_bundle(tmp_path / "b", "test", {"k": [1, "x"]}, arrays)
    bundle = read_bundle(tmp_path / "b", "test")
    assert bundle.version == FORMAT_VERSION and bundle.meta == {"k": [1, "x"]}
    for name, array in arrays.items():
        assert np.array_equal(bundle.arrays[name], array)
        assert bundle.arrays[name].shape == array.shape


def test_object_arrays_cannot_be_written(tmp_path):
    with pytest.raises(InvalidTypeError, match="dtype object"):
        write_bundle(tmp_path / "b", "t", {}, {"o": np.array([{"a": 1}], dtype=object)})
    assert not any(tmp_path.iterdir())


def test_wrong_kind_is_refused(tmp_path):
    write_bundle(tmp_path / "b", "checkpoint", {}, {})
    with pytest.raises(CorruptFileError, match="not a 'short_term_memory'"):
        read_bundle(tmp_path / "b", "short_term_memory")


def test_newer_version_says_upgrade(tmp_path):
    sample_memory().save(tmp_path / "m")
    data = bytearray((tmp_path / "m").read_bytes())
    data[8:12] = struct.pack("<I", FORMAT_VERSION + 1)
    body = bytes(data[:-32])  # a whole file of a newer version: its checksum matches
    (tmp_path / "m").write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(UnsupportedVersionError, match="upgrade man_rl"):
        ShortTermMemory.load(tmp_path / "m")


def test_damaged_version_field_reads_as_damage_not_as_newer(tmp_path):
    sample_memory().save(tmp_path / "m")
    data = bytearray((tmp_path / "m").read_bytes())
    data[8] ^= 2  # found by the property test below: version 1 -> 3
    (tmp_path / "m").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="checksum"):
        ShortTermMemory.load(tmp_path / "m")


def test_forged_huge_shape_is_refused_before_allocating(tmp_path):
    header = json.dumps(
        {
            "kind": "short_term_memory",
            "meta": {},
            "arrays": [{"name": "frames", "dtype": "|u1", "shape": [10**6, 10**5], "offset": 0}],
        }
    ).encode()
    path = tmp_path / "forged"
    data = struct.pack("<8sIQ", MAGIC, 1, len(header)) + header + b"\0" * 64
    path.write_bytes(data + hashlib.sha256(data).digest())  # a forger can checksum too
    with pytest.raises(CorruptFileError, match="too short"):
        ShortTermMemory.load(path)


def test_pickle_file_is_refused_and_not_run(tmp_path):
    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    path = tmp_path / "evil.manrl"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CorruptFileError, match=r"evil\.manrl"):
        ShortTermMemory.load(path)
    np.save(tmp_path / "evil.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError):
        ShortTermMemory.load(tmp_path / "evil.npy")
    assert not (tmp_path / "pwned").exists()


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    sample_memory().save(tmp_path / "m")
    before = (tmp_path / "m").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("man_rl.io.bundle.os.fsync", disk_full)
    bigger = sample_memory()
    bigger.add("new", np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(OSError, match="No space"):
        bigger.save(tmp_path / "m")
    assert (tmp_path / "m").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_golden_v1_file_still_loads():
    # tests/data/stm_v1.manrl was written by man_rl 0.1.0 (format 1) with sample_memory().
    loaded = ShortTermMemory.load(DATA / "stm_v1.manrl")
    assert_same(loaded, sample_memory())


Corruption = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**9), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**9), st.just(0)),
    st.tuples(st.just("zero"), st.integers(0, 10**9), st.integers(1, 64)),
    st.tuples(st.just("extend"), st.integers(1, 100), st.integers(0, 255)),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(corruption=Corruption)
def test_corrupted_file_is_refused_or_loads_exactly(tmp_path, corruption):
    path = tmp_path / "m.manrl"
    original = sample_memory()
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
    try:
        loaded = ShortTermMemory.load(path)
    except CorruptFileError as err:
        assert str(path) in str(err)
    else:
        assert_same(loaded, original)
