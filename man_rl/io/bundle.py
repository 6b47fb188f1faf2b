r"""One checked, versioned, pickle-free container for every file man_rl writes.

Layout (all integers little-endian)::

    magic      8 bytes   b"\\x93MANRL\\r\\n"
    version    u32       format version of the container
    header_len u64       length of the JSON header
    header     JSON      {"kind", "meta", "arrays": [{"name", "dtype", "shape", "offset"}]}
    payload              the arrays' raw bytes, C order, each at its offset (64-byte aligned)
    checksum   32 bytes  SHA-256 of everything above

A reader checks the magic, the version and the header's length against the file's size,
then the checksum (so a damaged or junk header is never parsed), then parses the header within
the bounds of :mod:`man_rl.io.header` (size, nesting depth, digits of a number; the writer
refuses what breaks them, before it touches a file) and checks every declared shape against
the file's size, and only then builds arrays. Only plain numeric dtypes are accepted, so
nothing on the load path can run code.

Files larger than RAM: :func:`write_bundle` takes an :class:`ArrayStream` (an array given as a
sequence of pieces) in place of an array, and ``read_bundle(..., mmap=True)`` verifies the
checksum by streaming and returns read-only :class:`numpy.memmap` views into the file.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.manrl"
    >>> write_bundle(path, "example", {"note": "hi"}, {"a": np.arange(3, dtype=np.int64)})
    >>> bundle = read_bundle(path, "example")
    >>> bundle.meta["note"], bundle.arrays["a"].tolist()
    ('hi', [0, 1, 2])
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from man_rl.errors import (
    CorruptFileError,
    InvalidTypeError,
    InvalidValueError,
    UnsupportedVersionError,
)
from man_rl.io.atomic import atomic_file
from man_rl.io.header import MAX_HEADER_BYTES, HeaderError, decode_header, encode_header

MAGIC = b"\x93MANRL\r\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_CHECKSUM_BYTES = 32
_ALIGN = 64
_CHUNK = 16 * 2**20
_ALLOWED_DTYPES = frozenset(
    ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8", "|b1"]
)


class Bundle(NamedTuple):
    """What :func:`read_bundle` returns."""

    kind: str
    version: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


class ArrayStream(NamedTuple):
    """An array that :func:`write_bundle` writes piece by piece, never whole in memory.

    ``chunks`` yields arrays (views into a memory map, say) whose elements, one after the
    other in C order, make up the array of ``shape`` and ``dtype``; the total must match.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.manrl"
        >>> pieces = (np.full(2, i, np.uint8) for i in range(3))
        >>> write_bundle(path, "example", {}, {"a": ArrayStream((3, 2), np.uint8, pieces)})
        >>> read_bundle(path, "example").arrays["a"].tolist()
        [[0, 0], [1, 1], [2, 2]]
    """

    shape: tuple[int, ...]
    dtype: Any
    chunks: Iterable[np.ndarray]


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _layout(arrays: Mapping[str, np.ndarray | ArrayStream]) -> tuple[list[dict[str, Any]], int]:
    entries = []
    offset = 0
    for name, array in arrays.items():
        given = np.dtype(array.dtype)
        dtype = given.newbyteorder("<") if given.byteorder == ">" else given
        if dtype.str not in _ALLOWED_DTYPES:
            raise InvalidTypeError(
                f"array {name!r} has dtype {given}, which man_rl files cannot hold; "
                "use a plain numeric dtype"
            )
        shape = [int(d) for d in array.shape]
        offset = _aligned(offset)
        entries.append({"name": name, "dtype": dtype.str, "shape": shape, "offset": offset})
        offset += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return entries, offset


def write_bundle(
    path: str | os.PathLike[str],
    kind: str,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray | ArrayStream],
) -> None:
    """Write ``meta`` (JSON-able) and ``arrays`` to ``path`` atomically.

    The data goes to a temporary file in the same folder, is flushed and fsynced, and only then
    renamed over ``path``: a crash, a kill or a full disk leaves the old file whole. Arrays are
    written in chunks of 16 MiB; an :class:`ArrayStream` is consumed piece by piece, so an
    array larger than RAM (in a memory map) is written without being copied into memory.

    A header the reader would refuse (see :mod:`man_rl.io.header`: over 256 MiB, nested too
    deep, a number too long) is an :class:`InvalidValueError` raised before ``path`` is touched.
    """
    path = Path(path)
    entries, payload_len = _layout(arrays)
    try:
        header = encode_header({"kind": kind, "meta": dict(meta), "arrays": entries})
    except HeaderError as err:
        raise InvalidValueError(f"cannot save {path}: {err}; {_untouched(path)}") from None
    digest = hashlib.sha256()
    with atomic_file(path) as handle:

        def put(data: bytes | memoryview) -> None:
            digest.update(data)
            handle.write(data)

        put(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
        put(header)
        written = 0
        for entry, array in zip(entries, arrays.values(), strict=True):
            if entry["offset"] > written:
                put(b"\0" * (entry["offset"] - written))
                written = entry["offset"]
            dtype = np.dtype(entry["dtype"])
            pieces = array.chunks if isinstance(array, ArrayStream) else (array,)
            for piece in pieces:
                flat = np.ascontiguousarray(piece, dtype=dtype).reshape(-1)
                view = memoryview(flat).cast("B")
                for start in range(0, len(view), _CHUNK):
                    put(view[start : start + _CHUNK])
                written += len(view)
            expected = entry["offset"] + int(np.prod(entry["shape"], dtype=np.int64)) * (
                dtype.itemsize
            )
            if written != expected:
                raise InvalidValueError(
                    f"array {entry['name']!r} streamed {written - entry['offset']} bytes "
                    f"but declares shape {tuple(entry['shape'])} ({expected - entry['offset']}"
                    " bytes); nothing was written"
                )
        assert written == payload_len
        handle.write(digest.digest())


def _whole_file_checksum_ok(handle: Any, size: int) -> bool:
    """Whether the file's last 32 bytes are the SHA-256 of everything before them."""
    if size < _CHECKSUM_BYTES:
        return False
    digest = hashlib.sha256()
    handle.seek(0)
    left = size - _CHECKSUM_BYTES
    while left:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            return False
        digest.update(chunk)
        left -= len(chunk)
    return handle.read(_CHECKSUM_BYTES) == digest.digest()


def _untouched(path: Path) -> str:
    """What a refused write left: the old file, or nothing."""
    return f"{path} was left as it was" if path.exists() else "nothing was written"


# what each kind of file is, and what writes it, for "this is a ..., not a ..." messages
_KIND_NAMES = {
    "short_term_memory": ("a short-term memory file", "ShortTermMemory.save, man-rl collect"),
    "short_term_memory_storage": ("a storage folder's metadata", "ShortTermMemory(storage=)"),
    "long_term_memory": ("a long-term memory checkpoint", "TypeA/TypeB.save, man-rl train"),
    "judge": ("a judge file", "Judge.save, man-rl evaluate --save-judge"),
}


def _wrong_kind(path: Path, found: str, kind: str) -> CorruptFileError:
    """The error for a sound man_rl file of another kind than the one asked for."""
    name, origin = _KIND_NAMES.get(found, ("a man_rl file", "another tool"))
    wanted = _KIND_NAMES.get(kind, ("", ""))[0]
    return CorruptFileError(
        f"{path} is {name} ({found!r}, from {origin}), not a {kind!r} file"
        f"{f' ({wanted})' if wanted else ''}; give a file of the right kind"
    )


def _corrupt(path: Path, why: str) -> CorruptFileError:
    return CorruptFileError(
        f"{path} is not a valid man_rl file ({why}); it may be truncated or damaged, "
        "so re-create it or restore a copy"
    )


def _check_entries(path: Path, entries: Any, payload_len: int) -> list[dict[str, Any]]:
    if not isinstance(entries, list):
        raise _corrupt(path, "header has no array list")
    end = 0
    checked = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise _corrupt(path, "array entry is not an object")
        name, dtype, shape, offset = (entry.get(k) for k in ("name", "dtype", "shape", "offset"))
        if not isinstance(name, str) or dtype not in _ALLOWED_DTYPES:
            raise _corrupt(path, f"array entry {name!r} has an invalid name or dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _corrupt(path, f"array {name!r} declares an invalid shape {shape!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < end:
            raise _corrupt(path, f"array {name!r} declares an invalid offset {offset!r}")
        nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        if offset + nbytes > payload_len:
            raise _corrupt(
                path, f"array {name!r} declares {nbytes} bytes but the file is too short"
            )
        end = offset + nbytes
        checked.append({"name": name, "dtype": dtype, "shape": shape, "offset": offset})
    if end != payload_len:
        raise _corrupt(path, "file size does not match its declared arrays")
    return checked


def read_bundle(
    path: str | os.PathLike[str],
    kind: str | None,
    *,
    max_version: int = FORMAT_VERSION,
    mmap: bool = False,
) -> Bundle:
    """Read and verify a file written by :func:`write_bundle` whose kind is ``kind``.

    Raises :class:`CorruptFileError` for anything damaged or of another kind, and
    :class:`UnsupportedVersionError` for a file of a newer format version. ``kind=None``
    reads a file of any kind (the returned :attr:`Bundle.kind` says which): for tools that
    describe files, such as ``man-rl info``.

    With ``mmap=True`` the payload is not read into memory: the checksum is verified by
    streaming the file in 16 MiB chunks, then the arrays are returned as read-only
    :class:`numpy.memmap` views into it (the same file handle, so a file renamed over ``path``
    meanwhile is not picked up). Their pages are file-backed and reclaimable, so a file larger
    than RAM can be read. The views trust the file not to change while they are in use: the
    file is verified once, and a file truncated under a live map faults (SIGBUS) on access.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.manrl"
        >>> write_bundle(path, "example", {}, {"a": np.arange(4, dtype=np.uint8)})
        >>> a = read_bundle(path, "example", mmap=True).arrays["a"]
        >>> type(a).__name__, a.tolist(), a.flags.writeable
        ('memmap', [0, 1, 2, 3], False)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file)")
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise _corrupt(path, "shorter than a man_rl header")
        magic, version, header_len = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise _corrupt(path, "wrong magic bytes")
        if version > max_version:
            # Every version ends in a SHA-256 of what precedes it: a damaged version field
            # must read as damage, not as "upgrade man_rl".
            if not _whole_file_checksum_ok(handle, size):
                raise _corrupt(path, "checksum mismatch")
            raise UnsupportedVersionError(
                f"{path} has format version {version}, newer than this man_rl reads "
                f"({max_version}); upgrade man_rl to load it"
            )
        if version < 1:
            raise _corrupt(path, f"format version {version}")
        payload_len = size - _PREFIX.size - header_len - _CHECKSUM_BYTES
        if header_len > MAX_HEADER_BYTES or payload_len < 0:
            raise _corrupt(path, f"header length {header_len} does not fit the file size {size}")
        # the checksum first, streamed: nothing unverified is parsed or held whole in memory
        digest = hashlib.sha256(prefix)
        _stream(handle, path, digest, header_len)
        start = handle.tell()
        if mmap:
            payload = None
            _stream(handle, path, digest, payload_len)
        else:
            payload = _read_payload(handle, path, digest, payload_len)
        if handle.read(_CHECKSUM_BYTES + 1) != digest.digest():
            raise _corrupt(path, "checksum mismatch")
        handle.seek(_PREFIX.size)
        header_bytes = handle.read(header_len)
        kind, meta, entries = _parse_header(path, header_bytes, kind, payload_len)
        if mmap:
            arrays = _map_arrays(handle, entries, start)
            return Bundle(kind=kind, version=version, meta=meta, arrays=arrays)
    arrays = {}
    for entry in entries:
        dtype = np.dtype(entry["dtype"])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        array = np.frombuffer(payload, dtype=dtype, count=count, offset=entry["offset"])
        arrays[entry["name"]] = array.reshape(entry["shape"])
    return Bundle(kind=kind, version=version, meta=meta, arrays=arrays)


def _parse_header(
    path: Path, data: bytes, kind: str | None, payload_len: int
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """``(kind, meta, array entries)`` of a verified header; :class:`CorruptFileError` if bad."""
    try:
        header = decode_header(data)
    except HeaderError as err:
        raise _corrupt(path, str(err)) from None
    if not isinstance(header, dict) or not isinstance(header.get("meta"), dict):
        raise _corrupt(path, "header is not an object with meta")
    found = header.get("kind")
    if not isinstance(found, str):
        raise _corrupt(path, f"it holds a {found!r}, not a {kind or 'man_rl file'!r}")
    if kind is not None and found != kind:
        raise _wrong_kind(path, found, kind)
    entries = _check_entries(path, header.get("arrays"), payload_len)
    return found, header["meta"], entries


def _read_payload(handle: IO[bytes], path: Path, digest: Any, payload_len: int) -> bytearray:
    """Read the payload (no larger than the file) into memory, adding it to ``digest``."""
    payload = bytearray(payload_len)
    view = memoryview(payload)
    got = 0
    while got < payload_len:
        n = handle.readinto(view[got : got + _CHUNK])
        if not n:
            raise _corrupt(path, "payload ends early")
        got += n
    digest.update(payload)
    return payload


def _stream(handle: IO[bytes], path: Path, digest: Any, length: int) -> None:
    """Add the next ``length`` bytes to ``digest`` in 16 MiB chunks, never whole in memory."""
    buffer = memoryview(bytearray(max(1, min(_CHUNK, length))))
    left = length
    while left:
        n = handle.readinto(buffer[: min(left, len(buffer))])
        if not n:
            raise _corrupt(path, "file ends early")
        digest.update(buffer[:n])
        left -= n


def _map_arrays(
    handle: IO[bytes], entries: list[dict[str, Any]], start: int
) -> dict[str, np.ndarray]:
    """Map each array of a verified file read-only (``start``: where the payload begins)."""
    arrays: dict[str, np.ndarray] = {}
    for entry in entries:
        dtype, shape = np.dtype(entry["dtype"]), tuple(entry["shape"])
        if int(np.prod(shape, dtype=np.int64)) == 0:
            array = np.zeros(shape, dtype)  # an empty map is not portable; nothing to read
            array.flags.writeable = False
        else:
            array = np.memmap(
                handle, dtype=dtype, mode="r", offset=start + entry["offset"], shape=shape
            )
        arrays[entry["name"]] = array
    return arrays


__all__ = [
    "FORMAT_VERSION",
    "ArrayStream",
    "Bundle",
    "read_bundle",
    "write_bundle",
]
