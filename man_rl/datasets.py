"""Ready-made short-term memories: handwritten digits and MNIST (random walks: ``man_rl.envs``).

- :func:`digits_memory`: scikit-learn's 8x8 handwritten digits (they ship with scikit-learn, so
  nothing is downloaded), one state per digit: the offline stand-in for the paper's MNIST run.
- :func:`mnist_memory`: real MNIST from its IDX files (:func:`read_idx`), downloaded with
  torchvision when asked (``download=True``, needs ``pip install torchvision``).

Example:
    >>> import numpy as np
    >>> stm = memory_from_arrays(np.zeros((3, 2, 2), np.uint8), [0, 1, 1], capacity=5)
    >>> stm.counts()
    {0: 1, 1: 2}
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from man_rl.errors import CorruptFileError, InvalidTypeError, InvalidValueError
from man_rl.stm.memory import ShortTermMemory

#: IDX type codes -> numpy dtypes (big-endian, as the format stores them).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def memory_from_arrays(
    frames: np.ndarray,
    labels: Sequence[Hashable] | np.ndarray,
    *,
    capacity: int,
    seed: int | None = None,
) -> ShortTermMemory:
    """A memory holding ``frames[i]`` under key ``labels[i]``, added in order."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise InvalidTypeError(f"frames must be uint8, got {frames.dtype}")
    labels = list(np.asarray(labels).tolist()) if isinstance(labels, np.ndarray) else labels
    if len(labels) != len(frames):
        raise InvalidValueError(f"{len(frames)} frames but {len(labels)} labels")
    memory = ShortTermMemory(capacity, frame_shape=frames.shape[1:], seed=seed)
    memory.extend(labels, frames)
    return memory


def digits_memory(
    *, capacity: int = 200, seed: int | None = None, indices: Sequence[int] | None = None
) -> ShortTermMemory:
    """scikit-learn's handwritten digits as a memory: keys 0-9, 8x8 grey uint8 frames.

    The digits' 0-16 intensities are scaled to 0-255. ``indices`` selects samples of the
    1797 (e.g. a training split); ``capacity`` is per digit (about 180 of each exist).
    """
    frames, labels = digits_arrays()
    if indices is not None:
        frames, labels = frames[np.asarray(indices)], labels[np.asarray(indices)]
    return memory_from_arrays(frames, labels, capacity=capacity, seed=seed)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as ``(uint8 frames [N, 8, 8], int64 labels [N])``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the digits come with scikit-learn: pip install scikit-learn (or man_rl[digits])"
        ) from None
    data = load_digits()
    frames = np.round(data.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return frames, data.target.astype(np.int64)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not, into a numpy array.

    Layout: two zero bytes, a type code, the number of dimensions, one big-endian u32 per
    dimension, then the values, big-endian. The declared size is checked against the file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise CorruptFileError(f"{path} could not be read as an IDX file: {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise CorruptFileError(f"{path} is not an IDX file (bad magic bytes)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES or ndim < 1:
        raise CorruptFileError(f"{path} is not an IDX file (type {code:#x}, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(f"{path} is truncated (its header is incomplete)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(data) - header != expected:
        raise CorruptFileError(
            f"{path} declares shape {shape} ({expected} bytes of values) but holds "
            f"{len(data) - header}; it is truncated or damaged"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (name, name + ".gz"):
        for base in (folder, folder / "MNIST" / "raw"):
            if (base / candidate).is_file():
                return base / candidate
    return None


def mnist_arrays(
    root: str | os.PathLike[str], *, train: bool = True, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's ``(uint8 images [N, 28, 28], int64 labels [N])`` from the IDX files in ``root``.

    Files are looked for in ``root`` and in ``root/MNIST/raw`` (where torchvision puts them),
    plain or gzipped. With ``download=True`` missing files are fetched with torchvision.
    """
    root = Path(root)
    names = _MNIST_FILES[bool(train)]
    paths = [_find(root, name) for name in names]
    if None in paths and download:
        _download_mnist(root, train)
        paths = [_find(root, name) for name in names]
    if None in paths:
        missing = [name for name, p in zip(names, paths, strict=False) if p is None]
        raise FileNotFoundError(
            f"MNIST files {missing} not found in {root} (or {root / 'MNIST' / 'raw'}); pass "
            "download=True to fetch them with torchvision"
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptFileError(
            f"MNIST images {images.shape} and labels {labels.shape} do not match"
        )
    return images.astype(np.uint8), labels.astype(np.int64)


def _download_mnist(root: Path, train: bool) -> None:
    try:
        from torchvision.datasets import MNIST
    except ImportError:
        raise ImportError(
            "downloading MNIST needs torchvision: pip install torchvision (or man_rl[mnist]); "
            "or put the IDX files in the folder yourself"
        ) from None
    MNIST(str(root), train=train, download=True)


def mnist_memory(
    root: str | os.PathLike[str],
    *,
    train: bool = True,
    download: bool = False,
    capacity: int = 500,
    seed: int | None = None,
) -> ShortTermMemory:
    """MNIST as a memory: keys 0-9, 28x28 grey frames (see :func:`mnist_arrays`)."""
    images, labels = mnist_arrays(root, train=train, download=download)
    return memory_from_arrays(images, labels, capacity=capacity, seed=seed)


__all__ = [
    "digits_arrays",
    "digits_memory",
    "memory_from_arrays",
    "mnist_arrays",
    "mnist_memory",
    "read_idx",
]
