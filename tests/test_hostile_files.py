"""Hostile files (issue 21): refused cheaply, in one line, never parsed before their checksum.

Each forged file here carries a *valid* checksum unless it says otherwise (a forger can
compute SHA-256 too), so what refuses it is the bound named, not the checksum.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from man_rl import ShortTermMemory
from man_rl.cli.main import main
from man_rl.errors import CorruptFileError, InvalidValueError
from man_rl.io.bundle import MAGIC, read_bundle, write_bundle
from man_rl.io.header import MAX_DEPTH, MAX_HEADER_BYTES, MAX_INT_DIGITS

PREFIX = struct.Struct("<8sIQ")


def forge(path: Path, header: bytes, payload: bytes = b"", *, checksum: bool = True) -> Path:
    """A man_rl file with ``header`` as its JSON header, checksummed unless told not to."""
    data = PREFIX.pack(MAGIC, 1, len(header)) + header + payload
    tail = hashlib.sha256(data).digest() if checksum else b"\0" * 32
    path.write_bytes(data + tail)
    return path


def info_says(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``man-rl info path``: must exit 2 with one line on stderr; returns that line."""
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_header_nested_200000_deep_is_one_line(tmp_path, capsys):
    path = forge(tmp_path / "deep.manrl", b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(CorruptFileError, match="nests deeper"):
        read_bundle(path, None)
    assert "nests deeper" in info_says(path, capsys)


def test_a_header_nested_just_past_the_bound_is_refused_and_the_writer_refuses_it_too(tmp_path):
    deep: list = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    header = json.dumps({"kind": "t", "meta": {"x": deep}, "arrays": []}).encode()
    with pytest.raises(CorruptFileError, match="nests deeper"):
        read_bundle(forge(tmp_path / "f", header), "t")
    target = tmp_path / "w"
    with pytest.raises(InvalidValueError, match=r"nests deeper.*nothing was written"):
        write_bundle(target, "t", {"x": deep}, {})
    assert not target.exists()


def test_a_5000_digit_number_is_one_line(tmp_path, capsys):
    header = b'{"kind":"t","meta":{"n":' + b"7" * 5000 + b'},"arrays":[]}'
    path = forge(tmp_path / "digits.manrl", header)
    with pytest.raises(CorruptFileError, match="5000 digits"):
        read_bundle(path, None)
    assert "digits" in info_says(path, capsys)


def test_the_writer_refuses_a_number_the_reader_would(tmp_path):
    (tmp_path / "w").write_bytes(b"old")
    with pytest.raises(InvalidValueError, match=r"digits.*left as it was"):
        write_bundle(tmp_path / "w", "t", {"n": 10**MAX_INT_DIGITS}, {})
    assert (tmp_path / "w").read_bytes() == b"old"
    write_bundle(tmp_path / "ok", "t", {"n": 10**MAX_INT_DIGITS - 1}, {})
    assert read_bundle(tmp_path / "ok", "t").meta["n"] == 10**MAX_INT_DIGITS - 1


def test_a_64_mib_junk_header_with_a_wrong_checksum_is_never_parsed(tmp_path, capsys):
    junk = bytes(np.random.default_rng(0).integers(0, 256, 64 * 2**20, dtype=np.uint8))
    junk = b"[" + junk[1:]  # starts like JSON
    path = forge(tmp_path / "junk.manrl", junk, checksum=False)
    tracemalloc.start()
    try:
        began = time.perf_counter()
        with pytest.raises(CorruptFileError, match="checksum mismatch"):
            read_bundle(path, None)
        seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # the 16 MiB read buffer
    assert seconds < 5
    assert "checksum" in info_says(path, capsys)


def test_a_header_longer_than_the_bound_is_refused_before_reading(tmp_path):
    path = tmp_path / "long.manrl"
    path.write_bytes(PREFIX.pack(MAGIC, 1, MAX_HEADER_BYTES + 1) + b"{}" + b"\0" * 32)
    with pytest.raises(CorruptFileError, match="header length"):
        read_bundle(path, None)


_LOAD_BOTH = """
import resource, sys
from man_rl.errors import CorruptFileError
from man_rl.ltm import load_model
load_model(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_model(sys.argv[2])
except CorruptFileError as err:
    print(err)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_checkpoint_with_an_edited_config_is_refused_before_building(tmp_path):
    from man_rl.ltm import TypeA
    from man_rl.ltm.checkpoint import FILE_KIND

    stm = ShortTermMemory(2)
    for i in range(3):
        stm.add(i, np.full((8, 8, 3), 40 * i, np.uint8))
    TypeA.for_memory(stm, seed=0).save(tmp_path / "m.manrl")
    bundle = read_bundle(tmp_path / "m.manrl", FILE_KIND)
    # 2,000,000 codes per state: the bank the old loader built took ~0.4 GB for 3 states
    meta = dict(bundle.meta, config={**bundle.meta["config"], "code_bank": 2_000_000})
    write_bundle(tmp_path / "edited.manrl", FILE_KIND, meta, bundle.arrays)
    args = [str(tmp_path / "m.manrl"), str(tmp_path / "edited.manrl")]
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_BOTH, *args], capture_output=True, text=True, check=True
    )
    message, grown_kib = done.stdout.strip().rsplit("\n", 1)
    assert "config does not match its weights" in message
    assert int(grown_kib) < 64 * 1024, f"the refused load took {int(grown_kib) // 1024} MiB more"


def test_a_memory_given_as_a_checkpoint_is_named_a_short_term_memory(tmp_path, capsys):
    stm = ShortTermMemory(2)
    stm.add("a", np.zeros((4, 4), np.uint8))
    stm.save(tmp_path / "memory.manrl")
    code = main(["recall", "--model", str(tmp_path / "memory.manrl"), "--out", "x.png"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "is a short-term memory file" in err and "long-term memory checkpoint" in err
    assert "damaged" not in err


def test_brackets_and_digits_inside_strings_are_no_nesting_or_numbers(tmp_path):
    stm = ShortTermMemory(1)
    keys = ["[" * 100, "{" * 70 + '\\"', "9" * 300, ('"[[', "]]\\"), 10**MAX_INT_DIGITS - 1]
    for key in keys:
        stm.add(key, np.zeros((2, 2), np.uint8))
    stm.save(tmp_path / "m.manrl")
    assert ShortTermMemory.load(tmp_path / "m.manrl").keys == keys


@pytest.mark.parametrize(
    "key", [float("nan"), ("room", float("nan")), np.float32("nan"), (1, (2, (float("nan"),)))]
)
def test_a_key_not_equal_to_itself_is_refused_at_add_and_the_memory_is_unchanged(key, tmp_path):
    stm = ShortTermMemory(2)
    stm.add("a", np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidValueError, match="NaN is not equal to itself"):
        stm.add(key, np.ones((2, 2), np.uint8))
    assert stm.keys == ["a"] and len(stm) == 1
    fresh = ShortTermMemory(2)
    with pytest.raises(InvalidValueError, match="NaN"):
        fresh.add(key, np.ones((3, 3), np.uint8))
    assert fresh.frame_shape is None and fresh.num_keys == 0
    stm.save(tmp_path / "m.manrl")
    assert ShortTermMemory.load(tmp_path / "m.manrl").keys == ["a"]


def test_keys_nested_too_deep_or_with_huge_ints_are_refused_at_add():
    stm = ShortTermMemory(2)
    deep: tuple = (1,)
    for _ in range(20):
        deep = (deep,)
    with pytest.raises(InvalidValueError, match="nest deeper"):
        stm.add(deep, np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidValueError, match="too long"):
        stm.add(10**5000, np.zeros((2, 2), np.uint8))
    assert stm.num_keys == 0


def test_an_unknown_key_error_quotes_a_10_mb_key_in_about_100_characters():
    from man_rl.errors import UnknownKeyError

    stm = ShortTermMemory(2)
    big = "k" * 10**7
    stm.add(big, np.zeros((2, 2), np.uint8))
    with pytest.raises(UnknownKeyError) as caught:
        stm.index_of(big + "x")
    assert len(str(caught.value)) < 300
    assert "10000001 characters" in str(caught.value)
