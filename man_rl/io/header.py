"""The JSON header of a man_rl file: written and read under the same bounds.

Whatever :func:`encode_header` writes, :func:`decode_header` reads back, and whatever it
would refuse to read is refused at writing, before any file is touched. The bounds:

- ``MAX_HEADER_BYTES`` (256 MiB): a memory of a million keys of 100 characters has a 99 MiB
  header, which reads in about 1.6 s with a 250 MiB peak (about 2.5 million such keys fit);
- ``MAX_DEPTH`` (64 nested objects and lists; a key's tuples nest at most
  :data:`man_rl.keys.MAX_KEY_DEPTH` deep, 2 levels each);
- ``MAX_INT_DIGITS`` (200 decimal digits, so a SHA-512 as an int fits): a longer number is
  refused before Python converts it (that conversion is quadratic in the digits).

The bounds are measured on the text (:func:`check_text`), before it is parsed, and the writer
measures the text it would write.

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

import numpy as np

MAX_HEADER_BYTES = 256 * 2**20
MAX_DEPTH = 64
MAX_INT_DIGITS = 200
_CHUNK = 4 * 2**20
# byte -> +1 / -1 (as int8) for brackets, 1 for a digit, 1 for a quote
_STEP = bytes(1 if i in b"[{" else 255 if i in b"]}" else 0 for i in range(256))
_DIGIT = bytes(1 if i in b"0123456789" else 0 for i in range(256))
_QUOTE = bytes(1 if i == ord('"') else 0 for i in range(256))


class HeaderError(ValueError):
    """A header (to write or read) breaks a bound or is not JSON."""


def check_text(data: bytes) -> None:
    """Raise :class:`HeaderError` when JSON text ``data`` breaks a bound.

    Too large, nested deeper than ``MAX_DEPTH`` levels, or a number (outside strings) of more
    than ``MAX_INT_DIGITS`` digits. Text, not parsed values, is measured, with numpy: in
    about 0.1-0.4 s for 100 MiB, nothing is built from it and no recursion is needed.
    """
    if len(data) > MAX_HEADER_BYTES:
        raise HeaderError(f"header of {len(data)} bytes (at most {MAX_HEADER_BYTES})")
    # quick looks first: too few brackets to nest deeply, no digit run long enough at all
    deep = data.count(b"[") + data.count(b"{") > MAX_DEPTH
    long = b"\x01" * (MAX_INT_DIGITS + 1) in data.translate(_DIGIT)
    if not (deep or long):
        return
    deepest, longest = _scan(data, deep, long)
    if deepest > MAX_DEPTH:
        raise HeaderError(f"header nests deeper than {MAX_DEPTH} levels")
    if longest > MAX_INT_DIGITS:
        raise HeaderError(f"header holds a number of {longest} digits (at most {MAX_INT_DIGITS})")


def _scan(data: bytes, depth_too: bool, digits_too: bool) -> tuple[int, int]:
    """(deepest nesting, longest run of digits) outside the strings of JSON text."""
    # an escaped backslash or quote is no string's end: blank them (left to right, as JSON)
    data = data.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    parity = depth = deepest = run = longest = 0
    for start in range(0, len(data), _CHUNK):
        piece = data[start : start + _CHUNK]
        quotes = np.cumsum(np.frombuffer(piece.translate(_QUOTE), np.int8), dtype=np.int32)
        outside = ((quotes + parity) & 1) == 0
        parity = (parity + int(quotes[-1])) & 1
        if depth_too:
            steps = np.frombuffer(piece.translate(_STEP), np.int8) * outside
            levels = np.cumsum(steps, dtype=np.int32)
            deepest = max(deepest, depth + int(levels.max()))
            depth += int(levels[-1])
        if digits_too:
            digits = np.frombuffer(piece.translate(_DIGIT), np.int8) * outside
            edges = np.flatnonzero(np.diff(digits, prepend=0, append=0))
            starts, ends = edges[::2], edges[1::2]
            if not len(starts):
                run = 0
                continue
            lengths = ends - starts
            if starts[0] == 0:  # a run going on from the last piece
                lengths[0] += run
            longest = max(longest, int(lengths.max()))
            run = int(lengths[-1]) if ends[-1] == len(piece) else 0
    return deepest, longest


def encode_header(header: dict[str, Any]) -> bytes:
    """``header`` as compact UTF-8 JSON, or :class:`HeaderError` if it could not be read back.

    Refuses what :func:`decode_header` refuses: too deep, numbers too long, too large.
    """
    try:
        data = json.dumps(header, separators=(",", ":")).encode("utf-8")
    except RecursionError:
        raise HeaderError(f"header nests deeper than {MAX_DEPTH} levels") from None
    except (TypeError, ValueError) as err:
        raise HeaderError(f"header cannot be written as JSON ({err})") from None
    if len(data) > MAX_HEADER_BYTES:
        raise HeaderError(
            f"header would take {len(data) / 2**20:.1f} MiB, more than a man_rl file may hold "
            f"({MAX_HEADER_BYTES // 2**20} MiB): it mostly holds the state keys, so use fewer "
            "or shorter keys"
        )
    check_text(data)
    return data


def decode_header(data: bytes) -> Any:
    """Parse header bytes within the bounds; every failure is a :class:`HeaderError`."""
    check_text(data)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise HeaderError(f"header nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as err:  # UnicodeDecodeError, JSONDecodeError among them
        raise HeaderError(f"header is not JSON: {err}") from None


__all__ = [
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_INT_DIGITS",
    "HeaderError",
    "check_text",
    "decode_header",
    "encode_header",
]
