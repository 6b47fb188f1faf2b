"""One writer at a time: an exclusive lock on a file that a long run will replace.

``man-rl collect --out F`` and ``man-rl train --out F`` (with ``--resume`` or not) read F,
work for minutes, then replace it: two such runs at once would each write over the other's
work. :func:`exclusive_writer` holds ``fcntl.flock`` on a lock file beside F (``F.lock``,
holding the owner's pid) for the whole run, and a second writer is refused at once with
:class:`~man_rl.errors.FileInUseError` naming the first one's pid.

The lock is the kernel's: it goes with the process (a killed run leaves no stale lock), and
the lock file is removed when the run ends. F itself is never locked, since it is replaced
by a rename (:func:`man_rl.io.atomic.atomic_file`), which a lock on it would not survive.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "memory.manrl"
    >>> with exclusive_writer(target):
    ...     try:
    ...         with exclusive_writer(target):
    ...             pass
    ...     except FileInUseError as err:
    ...         print(str(err).split(" (")[0])
    /... is being written by another man-rl process
    >>> with exclusive_writer(target):  # free again
    ...     pass
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from man_rl.errors import FileInUseError, FileWriteError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not kept apart
    fcntl = None  # type: ignore[assignment]

_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``target``: ``target`` with ``.lock`` added."""
    target = Path(target)
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def exclusive_writer(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the write lock of ``target`` while the block runs; yields the lock file's path.

    Refuses at once (:class:`FileInUseError`, naming the pid that holds it) when another
    process, or another block in this one, holds it. Missing folders are created.
    """
    target = Path(target)
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(target, path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        # unlink while holding the lock: a waiter that opened this file sees it is gone
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                path.unlink()
        os.close(fd)  # releases the lock


def _acquire(target: Path, path: Path) -> int:
    """A descriptor of ``path`` holding its lock; retries if the file was replaced meanwhile."""
    for _ in range(100):
        try:
            fd = os.open(path, _OPEN_FLAGS, 0o644)
        except OSError as err:  # a read-only folder, a symlink planted as the lock...
            why = err.strerror or str(err)
            raise FileWriteError(
                err.errno,
                why,
                str(path),
                f"cannot create {path}, the lock that keeps two runs from writing {target} at "
                f"once ({why}); nothing was written",
            ) from None
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise FileInUseError(
                f"{target} is being written by another man-rl process ({owner}); wait for it "
                "or write to another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the file we locked must still be the one at path (not unlinked by its owner)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise FileInUseError(f"{target}: could not take its lock {path}; try again")  # pragma: no cover


def _owner(fd: int) -> str:
    """``pid N`` as written in the lock file, or what is known without it."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:  # pragma: no cover
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"


__all__ = ["exclusive_writer", "lock_path"]
