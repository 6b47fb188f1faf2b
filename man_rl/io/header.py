"""The JSON header of a man_rl file: written and read under the same bounds.

Whatever :func:`encode_header` writes, :func:`decode_header` reads back, and whatever it
would refuse to read is refused at writing, before any file is touched. The bounds:

- ``MAX_HEADER_BYTES`` (256 MiB): a memory of a million keys of 100 characters has a 99 MiB
  header, which reads in about 1.6 s with a 250 MiB peak (about 2.5 million such keys fit);
- ``MAX_DEPTH`` (64 nested objects and lists; a key's tuples nest at most
  :data:`man_rl.keys.MAX_KEY_DEPTH` deep, 2 levels each);
- ``MAX_INT_DIGITS`` (200 decimal digits, so a SHA-512 as an int fits): a longer number is
  refused before Python converts it (that conversion is quadratic in the digits).

A header that breaks a bound on reading, or is not JSON at all, raises the ``ValueError``
:class:`HeaderError`; the reader turns it into a :class:`~man_rl.errors.CorruptFileError`
naming the file. Memory use is about proportional to the header: parsed JSON takes up to ~25
bytes per byte of text, so a header is never parsed before the file's checksum is verified.

Example:
    >>> decode_header(encode_header({"kind": "x", "meta": {"n": [1, {"t": [2]}]}}))
    {'kind': 'x', 'meta': {'n': [1, {'t': [2]}]}}
    >>> decode_header(b"[" * 100 + b"]" * 100)
    Traceback (most recent call last):
    ...
    man_rl.io.header.HeaderError: header nests deeper than 64 levels
"""

from __future__ import annotations

import json
from typing import Any

MAX_HEADER_BYTES = 256 * 2**20
MAX_DEPTH = 64
MAX_INT_DIGITS = 200
_BIGGEST = 10**MAX_INT_DIGITS


class HeaderError(ValueError):
    """A header (to write or read) breaks a bound or is not JSON."""


def _bounded_int(text: str) -> int:
    """``int(text)`` for JSON numbers of at most ``MAX_INT_DIGITS`` digits (``parse_int``)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise HeaderError(f"header holds a number of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def check_bounds(value: Any, *, check_ints: bool = True) -> None:
    """Raise :class:`HeaderError` for a ``value`` too deep or (``check_ints``) a number too long.

    Deeper than ``MAX_DEPTH`` levels, or an int of more than ``MAX_INT_DIGITS`` digits.
    Walks the containers with a list, not recursion, so any depth is measured safely.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise HeaderError(f"header nests deeper than {MAX_DEPTH} levels")
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, depth + 1))
            elif check_ints and type(child) is int and not -_BIGGEST < child < _BIGGEST:
                raise HeaderError(f"header holds a number of more than {MAX_INT_DIGITS} digits")
    if isinstance(value, (dict, list, tuple)):
        return
    if check_ints and type(value) is int and not -_BIGGEST < value < _BIGGEST:
        raise HeaderError(f"header holds a number of more than {MAX_INT_DIGITS} digits")


def encode_header(header: dict[str, Any]) -> bytes:
    """``header`` as compact UTF-8 JSON, or :class:`HeaderError` if it could not be read back.

    Refuses what :func:`decode_header` refuses: too deep, numbers too long, too large.
    """
    check_bounds(header)
    try:
        data = json.dumps(header, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as err:
        raise HeaderError(f"header cannot be written as JSON ({err})") from None
    if len(data) > MAX_HEADER_BYTES:
        raise HeaderError(
            f"header would take {len(data) / 2**20:.1f} MiB, more than a man_rl file may hold "
            f"({MAX_HEADER_BYTES // 2**20} MiB): it mostly holds the state keys, so use fewer "
            "or shorter keys"
        )
    return data


def decode_header(data: bytes) -> Any:
    """Parse header bytes within the bounds; every failure is a :class:`HeaderError`."""
    if len(data) > MAX_HEADER_BYTES:
        raise HeaderError(f"header of {len(data)} bytes (at most {MAX_HEADER_BYTES})")
    try:
        value = json.loads(data.decode("utf-8"), parse_int=_bounded_int)
    except HeaderError:
        raise
    except RecursionError:
        raise HeaderError(f"header nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as err:  # UnicodeDecodeError, JSONDecodeError among them
        raise HeaderError(f"header is not JSON: {err}") from None
    # fewer brackets than the bound cannot nest deeper than it: skip the walk
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        check_bounds(value, check_ints=False)
    return value


__all__ = [
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_INT_DIGITS",
    "HeaderError",
    "check_bounds",
    "decode_header",
    "encode_header",
]
