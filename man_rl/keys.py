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

import reprlib
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError

StateKey = Hashable
KeyFn = Callable[[Any, Any, dict[str, Any]], Hashable]

_SCALARS = (int, str, float, bool, type(None))
MAX_KEY_DEPTH = 16
MAX_KEY_DIGITS = 200
_BIGGEST = 10**MAX_KEY_DIGITS


def normalize_key(key: Any) -> Hashable:
    """Return ``key`` with numpy scalars made Python scalars; refuse keys files cannot hold.

    Refused too (:class:`InvalidValueError`): a key not equal to itself (a float NaN, also
    inside a tuple: a dict cannot find it again, so every NaN would become a state of its
    own), tuples nested deeper than ``MAX_KEY_DEPTH`` and ints of more than
    ``MAX_KEY_DIGITS`` digits (a file could not hold them).
    """
    try:
        return _normalize(key, 0)
    except _Refused as why:
        raise InvalidValueError(f"state key {short_repr(key)} cannot name a state: {why}") from None


class _Refused(Exception):
    """Why a key (or a part of it) cannot name a state."""


def _normalize(key: Any, depth: int) -> Hashable:
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, _SCALARS):
        if isinstance(key, float) and key != key:
            raise _Refused(
                "NaN is not equal to itself, so each NaN would be a state of its own; map NaN "
                "to a value (None, say) in your key_fn"
            )
        if type(key) is int and not -_BIGGEST < key < _BIGGEST:
            raise _Refused(
                f"an int of about {int(key.bit_length() * 0.30103) + 1} digits is too long "
                f"(at most {MAX_KEY_DIGITS}); use a str or a tuple of ints"
            )
        return key
    if isinstance(key, tuple):
        if depth >= MAX_KEY_DEPTH:
            raise _Refused(f"its tuples nest deeper than {MAX_KEY_DEPTH} levels")
        return tuple(_normalize(part, depth + 1) for part in key)
    if isinstance(key, np.ndarray) and key.ndim == 0:
        return _normalize(key.item(), depth)
    try:
        hash(key)
    except TypeError:
        raise InvalidTypeError(
            f"state key {short_repr(key)} of type {type(key).__name__} is unhashable; a key "
            "must be hashable: an int, str, float, bool, None or a tuple of these"
        ) from None
    raise InvalidTypeError(
        f"state key {short_repr(key)} of type {type(key).__name__} cannot be saved; use an int, "
        "str, float, bool, None or a tuple of these (convert it in your key_fn)"
    )


def short_repr(key: Any, limit: int = 100) -> str:
    """``repr(key)`` in at most about ``limit`` characters, for messages (a 10 MB key too).

    Example:
        >>> short_repr("x" * 10**7, limit=40)
        "'xxxxxxx...xxxxxx' (10000000 characters)"
        >>> short_repr((1, "a"))
        "(1, 'a')"
    """
    text = _REPR.repr(key)
    if len(text) <= limit:
        return text
    tail = f" ({len(key)} characters)" if isinstance(key, str) else ""
    keep = max(8, limit - len(tail) - 3)
    return f"{text[: keep - keep // 2]}...{text[-(keep // 2) :]}{tail}"


class _ShortRepr(reprlib.Repr):
    """reprlib's shortening, and an int too long to print as a count of its digits."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:
            return f"<int of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)


_REPR = _ShortRepr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlong, _REPR.maxlevel = 160, 160, 160, 6


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


__all__ = [
    "MAX_KEY_DEPTH",
    "MAX_KEY_DIGITS",
    "KeyFn",
    "StateKey",
    "decode_key",
    "encode_key",
    "normalize_key",
    "short_repr",
]
