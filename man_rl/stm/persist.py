"""What a short-term memory looks like on disk: the memory file and the storage folder's metadata.

Two containers of :mod:`man_rl.io.bundle`:

- the **memory file** (kind ``short_term_memory``, written by ``ShortTermMemory.save``):
  meta (capacity, eviction, frame shape, keys, the random generator's state, and, where a
  key function chose its parameters from the frames, its ``key_settings``) and the arrays
  ``frames`` (every frame held, key by key, oldest first), ``sizes`` and ``seen``. It says
  nothing of how frames are laid out in memory, so it has not changed since man_rl 0.1.0;
- the **storage folder's metadata** (kind ``short_term_memory_storage``, ``meta.manrl``):
  the same meta plus where each key's frames are in ``frames.u8``. Version 2 (frame pool)
  records ``pool_slots`` and ``ring_slots`` (each key's ring of slots, place 0 first);
  version 1 (man_rl 0.1.0) had one capacity-long row per key (``slots`` rows), which reads
  as a pool whose key ``k`` owns slots ``k * capacity ...``: a version 1 folder opens in
  place and is written as version 2 at its next flush.

This module checks and converts; it never builds a memory (``man_rl.stm.memory`` does).

Example:
    >>> import numpy as np
    >>> meta = {"capacity": 2, "eviction": "fifo", "frame_shape": [1, 1], "keys": ["a"],
    ...         "rng_state": np.random.default_rng(0).bit_generator.state}
    >>> parse_contents(meta, {"sizes": np.array([2]), "seen": np.array([5])}).keys
    ['a']
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from man_rl.errors import CorruptFileError, NotRegisteredError, UnsupportedVersionError
from man_rl.io.bundle import ArrayStream, read_bundle, write_bundle
from man_rl.keys import decode_key, encode_key, normalize_key
from man_rl.stm.checks import check_capacity, check_shape
from man_rl.stm.eviction import EVICTIONS, eviction_policy
from man_rl.stm.folder import FRAMES_NAME, StorageFolder

FILE_KIND = "short_term_memory"
STORAGE_KIND = "short_term_memory_storage"
STORAGE_VERSION = 2


class Contents(NamedTuple):
    """A memory's settings, keys and counters: everything but the frames."""

    capacity: int
    eviction: str
    frame_shape: tuple[int, ...] | None
    keys: list[Hashable]
    sizes: np.ndarray
    seen: np.ndarray
    rng_state: dict[str, Any]
    key_settings: dict[str, Any] | None = None

    def meta(self) -> dict[str, Any]:
        """The JSON meta both containers share."""
        from man_rl.version import __version__

        meta = {
            "man_rl_version": __version__,
            "capacity": self.capacity,
            "eviction": self.eviction,
            "frame_shape": list(self.frame_shape) if self.frame_shape else None,
            "keys": [encode_key(key) for key in self.keys],
            "rng_state": self.rng_state,
        }
        if self.key_settings is not None:  # absent otherwise: older files read the same
            meta["key_settings"] = self.key_settings
        return meta


def parse_contents(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Contents:
    """Check a file's meta and counters; ``KeyError``/``TypeError``/``ValueError`` if bad."""
    capacity = check_capacity(meta["capacity"])
    eviction = meta["eviction"]
    if not isinstance(eviction, str):
        raise TypeError(f"eviction {eviction!r}")
    if eviction not in EVICTIONS:
        raise NotRegisteredError(
            f"the memory was saved with eviction policy {eviction!r}, which is not registered "
            f"here (known: {EVICTIONS.names()}); import the module that defines it and call "
            "man_rl.stm.register_eviction(PolicyClass) before loading"
        )
    shape = meta["frame_shape"]
    shape = None if shape is None else check_shape(shape)
    keys = [normalize_key(decode_key(value)) for value in meta["keys"]]
    sizes, seen = np.array(arrays["sizes"]), np.array(arrays["seen"])
    np.random.default_rng().bit_generator.state = meta["rng_state"]  # raises if malformed
    consistent = (
        sizes.dtype.kind in "iu"
        and seen.dtype.kind in "iu"
        and sizes.ndim == seen.ndim == 1
        and len(sizes) == len(seen) == len(keys) == len(set(keys))
        and bool(np.all(sizes >= 1))
        and bool(np.all(seen >= sizes))
        and bool(np.all(sizes <= capacity))
        and eviction_policy(eviction).consistent(sizes, seen, capacity)
        and (shape is not None or not keys)
    )
    if not consistent:
        raise ValueError("keys, sizes and seen counters disagree")
    settings = meta.get("key_settings")
    if settings is not None and not isinstance(settings, dict):
        raise TypeError(f"key settings {settings!r}")
    sizes, seen = sizes.astype(np.int64), seen.astype(np.int64)
    return Contents(capacity, eviction, shape, keys, sizes, seen, meta["rng_state"], settings)


def inconsistent(where: Path, err: Exception) -> CorruptFileError:
    """The error for a file whose parts disagree."""
    return CorruptFileError(
        f"{where} holds a short-term memory whose contents are inconsistent ({err}); "
        "re-create it or restore a copy"
    )


# ---------------------------------------------------------------------- the memory file
def write_memory_file(
    path: str | Path, contents: Contents, frames: Iterable[np.ndarray], count: int
) -> None:
    """Write the memory file; ``frames`` yields the ``count`` frames held, key by key."""
    shape = contents.frame_shape or (0, 0)
    arrays = {
        "frames": ArrayStream((count, *shape), np.uint8, frames),
        "sizes": contents.sizes.copy(),
        "seen": contents.seen.copy(),
    }
    write_bundle(path, FILE_KIND, contents.meta(), arrays)


def read_memory_file(path: str | Path) -> tuple[Contents, np.ndarray]:
    """``(contents, frames)`` of a memory file; ``frames`` is a read-only map of the file.

    The checksum is verified by streaming, so a file larger than RAM reads too.
    """
    bundle = read_bundle(path, FILE_KIND, mmap=True)
    try:
        contents = parse_contents(bundle.meta, bundle.arrays)
        frames = bundle.arrays["frames"]
        shape = contents.frame_shape
        if not (
            frames.dtype == np.uint8
            and frames.ndim >= 1
            and len(frames) == int(contents.sizes.sum())
            and (shape is None or tuple(frames.shape[1:]) == shape)
        ):
            raise ValueError("keys, sizes and frames disagree")
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise inconsistent(Path(path), err) from None
    return contents, frames


# ---------------------------------------------------------------------- the storage folder
class FolderLayout(NamedTuple):
    """Where a storage folder's frames are: slots in use, and each key's ring of slots."""

    pool_slots: int
    rings: list[np.ndarray]


def write_folder_meta(folder: StorageFolder, contents: Contents, layout: FolderLayout) -> None:
    """Replace the folder's metadata (atomically) with ``contents`` and ``layout``."""
    meta = contents.meta()
    meta["storage_version"] = STORAGE_VERSION
    meta["pool_slots"] = int(layout.pool_slots)
    rings = np.concatenate(layout.rings) if layout.rings else np.zeros(0, np.int64)
    arrays = {
        "sizes": contents.sizes.copy(),
        "seen": contents.seen.copy(),
        "ring_slots": rings.astype(np.int64),
    }
    write_bundle(folder.meta_path, STORAGE_KIND, meta, arrays)


def read_folder_meta(folder: StorageFolder) -> tuple[Contents, FolderLayout]:
    """The contents and layout of an open storage folder (version 1 or 2), checked."""
    where = folder.folder
    try:
        bundle = read_bundle(folder.meta_path, STORAGE_KIND)
    except CorruptFileError as err:
        raise CorruptFileError(
            f"storage folder {where} is damaged: {err}; restore it or re-create it"
        ) from None
    meta = bundle.meta
    version = meta.get("storage_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > STORAGE_VERSION:
        raise UnsupportedVersionError(
            f"storage folder {where} has storage version {version}, newer than this man_rl "
            f"reads ({STORAGE_VERSION}); upgrade man_rl to open it"
        )
    try:
        contents = parse_contents(meta, bundle.arrays)
        if version == 1:
            layout = _version_1_layout(meta, contents)
        elif version == STORAGE_VERSION:
            layout = _version_2_layout(meta, bundle.arrays, contents)
        else:
            raise ValueError(f"storage version {version!r}")
        frame_bytes = int(np.prod(contents.frame_shape or (0,)))
        needed = layout.pool_slots * frame_bytes
        if folder.frames_bytes() < needed:
            raise ValueError(
                f"{FRAMES_NAME} holds {folder.frames_bytes()} bytes, fewer than the "
                f"{needed} its metadata needs"
            )
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise inconsistent(where, err) from None
    return contents, layout


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{what} {value!r}")
    return value


def _version_1_layout(meta: Mapping[str, Any], contents: Contents) -> FolderLayout:
    # Version 1: key k's ring place p is row k, column p of (slots, capacity) frames.
    slots = _int(meta["slots"], "slots")
    if slots < len(contents.keys) or (slots and contents.frame_shape is None):
        raise ValueError(f"{slots} slots for {len(contents.keys)} keys")
    capacity = contents.capacity
    rings = [
        k * capacity + np.arange(size, dtype=np.int64) for k, size in enumerate(contents.sizes)
    ]
    return FolderLayout(slots * capacity, rings)


def _version_2_layout(
    meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], contents: Contents
) -> FolderLayout:
    pool_slots = _int(meta["pool_slots"], "pool_slots")
    flat = np.array(arrays["ring_slots"])
    if flat.dtype.kind not in "iu" or flat.ndim != 1 or len(flat) != int(contents.sizes.sum()):
        raise ValueError("ring slots and sizes disagree")
    if len(flat) and (
        flat.min() < 0 or flat.max() >= pool_slots or len(np.unique(flat)) < len(flat)
    ):
        raise ValueError("ring slots outside the pool, or shared by two places")
    ends = np.cumsum(contents.sizes)
    rings = np.split(flat.astype(np.int64), ends[:-1]) if len(ends) else []
    return FolderLayout(pool_slots, rings)


__all__ = [
    "FILE_KIND",
    "STORAGE_KIND",
    "STORAGE_VERSION",
    "Contents",
    "FolderLayout",
    "inconsistent",
    "parse_contents",
    "read_folder_meta",
    "read_memory_file",
    "write_folder_meta",
    "write_memory_file",
]
