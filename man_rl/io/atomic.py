r"""One way to write a file atomically, used by every writer in man_rl.

Memories, checkpoints, agents, JSON metrics and PNG pictures all go through
:func:`atomic_file`: the data is written to a temporary file in the same folder, flushed and
fsynced, and only then renamed over the target (and the folder fsynced). A crash, a kill or
a full disk leaves the old file whole, and a reader never sees half a file.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.json"
    >>> print(write_json_atomically(path, {"a": 1}).read_text())
    {
      "a": 1
    }
    <BLANKLINE>
    >>> with atomic_file(path) as handle:
    ...     _ = handle.write(b"replaced")
    >>> path.read_bytes()
    b'replaced'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from man_rl.errors import FileWriteError


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary handle to a temporary file that replaces ``path`` when the block ends.

    On leaving the block the file is flushed, fsynced and renamed over ``path`` (then the
    folder is fsynced); on an exception it is removed and ``path`` is left as it was. Missing
    folders are created. The new file gets the old file's mode, or ``0o666`` minus the umask.

    An :class:`OSError` on the way (a full disk, no permission, in the block or after it) is
    raised as a :class:`~man_rl.errors.FileWriteError` (an ``OSError`` with the same
    ``errno``) that names ``path`` and says the old file is intact, or that nothing was
    written where there was none.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        os.chmod(tmp_name, _file_mode(path))
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, FileWriteError):
            raise _write_error(path, err) from err
        raise
    _fsync_folder(folder)


def _write_error(path: Path, err: OSError) -> FileWriteError:
    """``err`` as a :class:`FileWriteError` naming ``path`` and what was kept."""
    why = err.strerror or str(err) or type(err).__name__
    kept = f"the old {path} is intact" if path.is_file() else f"nothing was written to {path}"
    return FileWriteError(err.errno, why, str(path), f"could not write {path} ({why}); {kept}")


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` with :func:`atomic_file`; returns the path."""
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def write_json_atomically(
    path: str | os.PathLike[str], data: Any, *, sort_keys: bool = False
) -> Path:
    """Write ``data`` as indented JSON (with a final newline) with :func:`atomic_file`."""
    text = json.dumps(data, indent=2, sort_keys=sort_keys) + "\n"
    return write_bytes_atomically(path, text.encode("utf-8"))


def _file_mode(path: Path) -> int:
    """The mode the file would get from ``open()``: the old file's, else 0o666 minus umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


__all__ = ["atomic_file", "write_bytes_atomically", "write_json_atomically"]
