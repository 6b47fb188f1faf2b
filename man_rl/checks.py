"""Checks of plain values that every layer shares, each error naming the value and its limit.

Example:
    >>> check_int("batch_size", 32, minimum=1)
    32
    >>> check_int("batch_size", 0, minimum=1)
    Traceback (most recent call last):
    ...
    man_rl.errors.InvalidValueError: batch_size must be >= 1, got 0
    >>> check_int("code_bank", -1, minimum=0, hint=" (0 turns it off)")
    Traceback (most recent call last):
    ...
    man_rl.errors.InvalidValueError: code_bank must be >= 0 (0 turns it off), got -1
"""

from __future__ import annotations

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError


def check_int(name: str, value: object, *, minimum: int, hint: str = "") -> int:
    """``value`` as an int >= ``minimum``, or an error naming ``name`` and showing the value.

    A bool is refused (``True`` is no count); ``hint`` follows the limit in the message.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise InvalidValueError(f"{name} must be >= {minimum}{hint}, got {value}")
    return int(value)


__all__ = ["check_int"]
