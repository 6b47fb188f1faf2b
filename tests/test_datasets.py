"""Tests of man_rl.datasets: digits, IDX/MNIST files (tiny ones written here), random walks."""

from __future__ import annotations

import gzip
import struct
import sys
import types

import numpy as np
import pytest

from man_rl.datasets import (
    digits_arrays,
    digits_memory,
    memory_from_arrays,
    mnist_arrays,
    mnist_memory,
    read_idx,
)
from man_rl.envs import random_walk_memory
from man_rl.errors import CorruptFileError, InvalidTypeError, InvalidValueError


def write_idx(path, array: np.ndarray, *, gz: bool = False) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    code = codes[array.dtype]
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def tiny_mnist(folder, *, train: bool = True, gz: bool = False, n: int = 12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    prefix = "train" if train else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)
    return images, labels


def test_digits_memory_scales_to_uint8_and_keys_are_digits():
    frames, _labels = digits_arrays()
    assert frames.dtype == np.uint8 and frames.shape == (1797, 8, 8)
    assert frames.max() == 255 and frames.min() == 0
    stm = digits_memory(capacity=5)
    assert stm.keys == list(range(10))
    assert stm.frame_shape == (8, 8)
    assert set(stm.counts().values()) == {5}
    subset = digits_memory(capacity=500, indices=np.arange(100))
    assert len(subset) == 100


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_values_and_shapes(tmp_path, gz):
    array = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array, gz=gz)
    got = read_idx(path)
    assert got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, array)
    assert got.dtype.isnative


def test_read_idx_rejects_damaged_files(tmp_path):
    good = tmp_path / "good.idx"
    write_idx(good, np.zeros((3, 4), np.uint8))
    data = good.read_bytes()
    for name, content in [
        ("magic", b"\x01" + data[1:]),
        ("truncated", data[:-2]),
        ("longer", data + b"\x00"),
        ("header", data[:6]),
        ("type", data[:2] + b"\x07" + data[3:]),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CorruptFileError):
            read_idx(path)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reader_on_tiny_files(tmp_path, gz):
    images, labels = tiny_mnist(tmp_path, gz=gz)
    got_images, got_labels = mnist_arrays(tmp_path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    stm = mnist_memory(tmp_path, capacity=3)
    assert stm.frame_shape == (28, 28)
    assert stm.counts()[1] == 2  # labels 1 and 11 % 10
    np.testing.assert_array_equal(stm.queue(3)[0], images[3])


def test_mnist_test_split_and_torchvision_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, _ = tiny_mnist(raw, train=False, n=5)
    got, _ = mnist_arrays(tmp_path, train=False)
    np.testing.assert_array_equal(got, images)
    with pytest.raises(FileNotFoundError, match="download=True"):
        mnist_arrays(tmp_path, train=True)


def test_mnist_download_uses_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            raw = tmp_path / "MNIST" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            tiny_mnist(raw, train=train, n=4)

    datasets_module = types.ModuleType("torchvision.datasets")
    datasets_module.MNIST = FakeMNIST
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets_module
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets_module)
    images, labels = mnist_arrays(tmp_path, download=True)
    assert calls == [(str(tmp_path), True, True)]
    assert images.shape == (4, 28, 28) and labels.tolist() == [0, 1, 2, 3]


def test_mnist_download_without_torchvision_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match="pip install torchvision"):
        mnist_arrays(tmp_path, download=True)


def test_memory_from_arrays_checks_inputs():
    with pytest.raises(InvalidTypeError):
        memory_from_arrays(np.zeros((2, 2, 2), np.float32), [0, 1], capacity=2)
    with pytest.raises(InvalidValueError):
        memory_from_arrays(np.zeros((2, 2, 2), np.uint8), [0], capacity=2)


def test_random_walk_memory_covers_empty_5x5():
    stm = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=3000, capacity=5, seed=0)
    assert stm.frame_shape == (40, 40, 3)
    assert stm.num_keys == 34  # 8 free cells x 4 directions + the goal, entered 2 ways
    again = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=3000, capacity=5, seed=0)
    assert again.keys == stm.keys
