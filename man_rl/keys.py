"""State keys: what names a state, how it is normalised and how it is stored in JSON.

A state key is a hashable value built from ``int``, ``str``, ``float``, ``bool``, ``None`` and
tuples of these. numpy scalars are turned into their Python equals (``np.int64(3)`` -> ``3``),
so keys from a ``Discrete`` observation and from a hand-written ``key_fn`` agree.

Example:
    >>> normalize_key((1, 2, 0))
    (1, 2, 0)
    >>> decode_key(encode_key(("room", 3)))
    ('room', 3)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from man_rl.errors import InvalidTypeError

StateKey = Hashable
KeyFn = Callable[[Any, Any, dict[str, Any]], Hashable]

_SCALARS = (int, str, float, bool, type(None))


def normalize_key(key: Any) -> Hashable:
    """Return ``key`` with numpy scalars made Python scalars; refuse keys files cannot hold."""
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, _SCALARS):
        return key
    if isinstance(key, tuple):
        return tuple(normalize_key(part) for part in key)
    if isinstance(key, np.ndarray) and key.ndim == 0:
        return normalize_key(key.item())
    try:
        hash(key)
    except TypeError:
        raise InvalidTypeError(
            f"state key {key!r} of type {type(key).__name__} is unhashable; a key must be "
            "hashable: an int, str, float, bool, None or a tuple of these"
        ) from None
    raise InvalidTypeError(
        f"state key {key!r} of type {type(key).__name__} cannot be saved; use an int, str, "
        "float, bool, None or a tuple of these (convert it in your key_fn)"
    )


def encode_key(key: Hashable) -> Any:
    """Encode a normalised key as JSON, keeping tuples apart from lists."""
    if isinstance(key, tuple):
        return {"t": [encode_key(part) for part in key]}
    return key


def decode_key(value: Any) -> Hashable:
    """Inverse of :func:`encode_key`."""
    if isinstance(value, dict):
        return tuple(decode_key(part) for part in value["t"])
    if isinstance(value, list):
        raise InvalidTypeError(f"encoded key {value!r} is a list; keys are stored as tuples")
    return value


__all__ = ["KeyFn", "StateKey", "decode_key", "encode_key", "normalize_key"]
