"""The package's exception family.

Every error man_rl raises on purpose derives from :class:`ManRLError` *and* from the builtin it
refines (``ValueError``, ``TypeError``, ``KeyError``, ``RuntimeError``), so existing ``except``
clauses keep working and ``except ManRLError`` catches everything the package says about input.

Example:
    >>> from man_rl.errors import ManRLError, InvalidValueError
    >>> try:
    ...     raise InvalidValueError("capacity must be >= 1, got 0")
    ... except ValueError as err:
    ...     isinstance(err, ManRLError)
    True
"""

from __future__ import annotations


class ManRLError(Exception):
    """Base class of every error man_rl raises deliberately."""


class InvalidValueError(ManRLError, ValueError):
    """An argument has the right type but a value the package cannot use."""


class InvalidTypeError(ManRLError, TypeError):
    """An argument has a type the package cannot use (an unhashable key, a float frame...)."""


class UnknownKeyError(ManRLError, KeyError):
    """A state key the memory or the model does not know.

    ``KeyError`` quotes its message in ``str()``; this one shows the message as written.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EmptyMemoryError(InvalidValueError):
    """The short-term memory holds no frame (yet)."""


class EnvCompatibilityError(InvalidValueError):
    """The wrapped environment lacks something the wrapper needs (render mode, a key function)."""


class CorruptFileError(ManRLError, ValueError):
    """A memory or checkpoint file is damaged, truncated or not a man_rl file at all."""


class UnsupportedVersionError(ManRLError, ValueError):
    """A file was written by a newer man_rl whose format this version cannot read."""


class NotRegisteredError(ManRLError, LookupError):
    """A file names a part (an eviction policy, a model type) nobody registered here.

    Not a ``ValueError``: the file is fine; importing the module that registers the part
    (``man_rl.stm.register_eviction``, ``man_rl.ltm.register_model_type``) opens it.
    """


class TrainingDivergedError(ManRLError, RuntimeError):
    """Training produced a non-finite loss or gradient and was stopped."""


class FileWriteError(ManRLError, OSError):
    """Writing a file failed (a full disk, no permission); the old file is as it was.

    An :class:`OSError` with the failure's ``errno`` and ``strerror`` and the file as
    ``filename``; ``str()`` is the whole message, naming the file and what was kept.
    """

    def __init__(self, errno: int | None, strerror: str, filename: str, message: str) -> None:
        super().__init__(errno, strerror, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple:
        return type(self), (self.errno, self.strerror, self.filename, self.message)


class FileInUseError(ManRLError, RuntimeError):
    """Another process is writing the file (it holds the file's lock)."""


__all__ = [
    "CorruptFileError",
    "EmptyMemoryError",
    "EnvCompatibilityError",
    "FileInUseError",
    "FileWriteError",
    "InvalidTypeError",
    "InvalidValueError",
    "ManRLError",
    "NotRegisteredError",
    "TrainingDivergedError",
    "UnknownKeyError",
    "UnsupportedVersionError",
]
