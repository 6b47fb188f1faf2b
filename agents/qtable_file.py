"""The Q-table file: a pickle-free ``.npz`` of the table and its JSON metadata, checksummed.

Two arrays: ``q`` (float64, one row per state key, one column per action) and ``meta`` (the
UTF-8 JSON of the format, its version, the encoded keys, the agent's settings and a SHA-256
of the table and keys). Every array header is checked before anything is allocated, and
nothing is unpickled.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "q.npz"
    >>> from man_rl.keys import encode_key
    >>> keys = [encode_key((1, 2)), encode_key("door")]
    >>> _ = write_table(path, np.eye(2), keys, {"n_actions": 2})
    >>> q, keys, meta = read_table(path)
    >>> q.tolist(), keys, meta["n_actions"]
    ([[1.0, 0.0], [0.0, 1.0]], [(1, 2), 'door'], 2)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from man_rl.errors import CorruptFileError, UnsupportedVersionError
from man_rl.io.atomic import write_bytes_atomically
from man_rl.keys import decode_key

FORMAT = "man_rl.qtable"
FORMAT_VERSION = 1


def write_table(
    path: str | os.PathLike[str], q: np.ndarray, keys: list[Any], settings: dict[str, Any]
) -> Path:
    """Write table ``q`` of the encoded ``keys`` and the agent's ``settings``, atomically."""
    q = np.ascontiguousarray(q, dtype=np.float64)
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        **settings,
        "keys": keys,
        "sha256": _digest(q, keys),
    }
    buffer = io.BytesIO()
    text = json.dumps(meta, sort_keys=True).encode("utf-8")
    np.savez(buffer, q=q, meta=np.frombuffer(text, dtype=np.uint8))
    return write_bytes_atomically(path, buffer.getvalue())


def read_table(path: Path) -> tuple[np.ndarray, list[Hashable], dict[str, Any]]:
    """``(q, keys, meta)`` of a file :func:`write_table` wrote, every part checked.

    Raises :class:`CorruptFileError` for pickle-bearing, damaged or foreign files and
    :class:`UnsupportedVersionError` for a newer format.
    """
    arrays = _read_npz(path, {"q": np.dtype("<f8"), "meta": np.dtype("|u1")})
    try:
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise corrupt(path, f"metadata is not JSON: {err}") from None
    check_format(path, meta, (FORMAT, FORMAT_VERSION, "a Q-table"), corrupt, "not a man_rl Q-table")
    q, keys = arrays["q"], meta.get("keys")
    n_actions = meta.get("n_actions")
    if not isinstance(keys, list) or not isinstance(n_actions, int) or n_actions < 1:
        raise corrupt(path, "metadata lacks keys or n_actions")
    if q.shape != (len(keys), n_actions):
        raise corrupt(path, f"table shape {q.shape} does not match {len(keys)} keys")
    if meta.get("sha256") != _digest(q, keys):
        raise corrupt(path, "checksum mismatch")
    if not np.isfinite(q).all():
        raise corrupt(path, "table holds non-finite values")
    try:
        decoded = [decode_key(k) for k in keys]
    except (KeyError, TypeError, ValueError) as err:
        raise corrupt(path, f"invalid key: {err}") from None
    return q, decoded, meta


def check_format(
    path: Path,
    meta: Any,
    kind: tuple[str, int, str],
    refuse: Callable[[Path, str], CorruptFileError],
    foreign: str,
) -> None:
    """Refuse ``meta`` unless it is a dict of format ``kind[0]``, version 1 to ``kind[1]``.

    ``kind``: the format's name, its newest version and what a file of it is called (``"a
    Q-table"``); another format is ``refuse(path, foreign)``, a version that is not an int
    >= 1 ``refuse(path, ...)`` too, a newer version an :class:`UnsupportedVersionError`
    saying to upgrade.
    """
    name, newest, what = kind
    if not isinstance(meta, dict) or meta.get("format") != name:
        raise refuse(path, foreign)
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise refuse(path, f"invalid format version {version!r}")
    if version > newest:
        raise UnsupportedVersionError(
            f"{path} is {what} of format version {version}, newer than this man_rl reads "
            f"({newest}); upgrade man_rl to load it"
        )


def corrupt(path: Path, why: str) -> CorruptFileError:
    """The error for a file that is not a valid Q-table, saying why."""
    return CorruptFileError(f"{path} is not a valid man_rl Q-table file ({why})")


def _digest(q: np.ndarray, keys: Sequence[Any]) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(q, dtype="<f8").tobytes())
    digest.update(json.dumps(keys, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _read_npz(path: Path, expected: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    """Read ``expected`` arrays from an ``.npz`` without pickle, checking headers first.

    Each member's declared dtype and shape are checked against the expected dtype and the
    member's real size before anything is allocated; object arrays are refused outright.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file)")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            names = {f"{name}.npy" for name in expected}
            if set(infos) != names:
                raise corrupt(path, f"holds {sorted(infos)}, expected {sorted(names)}")
            for name, dtype in expected.items():
                with archive.open(infos[f"{name}.npy"]) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, got = read_header(member)
                    if got.hasobject:
                        raise corrupt(
                            path,
                            f"array {name!r} holds pickled Python objects; man_rl refuses "
                            "to unpickle",
                        )
                    if got != dtype:
                        raise corrupt(path, f"array {name!r} has dtype {got}, expected {dtype}")
                    declared = int(np.prod(shape, dtype=object)) * got.itemsize
                    if declared != infos[f"{name}.npy"].file_size - member.tell():
                        raise corrupt(path, f"array {name!r} declares {shape}, not its size")
        with np.load(path, allow_pickle=False) as data:
            return {name: np.array(data[name]) for name in expected}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        if isinstance(err, CorruptFileError):
            raise
        if "pickle" in str(err) or "Object arrays" in str(err):
            raise corrupt(path, "it holds pickled data; man_rl refuses to unpickle") from None
        raise corrupt(path, f"{type(err).__name__}: {err}") from None


__all__ = ["FORMAT", "FORMAT_VERSION", "check_format", "corrupt", "read_table", "write_table"]
