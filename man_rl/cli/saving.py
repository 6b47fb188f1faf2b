"""The long commands' writes: one writer per file, and nothing gathered lost to a full disk.

``collect`` and ``train`` run for minutes and then write ``--out``. They hold the file's lock
(:func:`man_rl.io.lock.exclusive_writer`, re-exported here) for the whole run, so a second run
writing the same file is refused at once instead of silently overwriting the first one's
work. :func:`save_or_rescue` writes the result; when that fails (a full disk), the old file
is intact, and what the run gathered is written to a rescue file in the temp folder (or the
current folder) instead, and one error line (exit code 2) says where, or that it was lost.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from man_rl.errors import FileWriteError
from man_rl.io.lock import exclusive_writer


def rescue_places(out: Path) -> list[Path]:
    """Where a result that could not be written to ``out`` goes instead, in order of choice."""
    stamp = f"{out.stem}.rescued-{os.getpid()}-{int(time.time())}{out.suffix or '.manrl'}"
    folders = [Path(tempfile.gettempdir()), Path.cwd()]
    places = []
    for folder in folders:
        if folder.resolve() != out.parent.resolve() and folder not in places:
            places.append(folder)
    return [folder / stamp for folder in places]


def save_or_rescue(save: Callable[[Path], object], out: Path, what: str) -> None:
    """``save(out)``; if that fails with an :class:`OSError`, ``save`` to a rescue file.

    Either way a failed save raises a :class:`FileWriteError` (exit code 2 from ``man-rl``)
    whose one line names ``out``, says it is intact, and says where ``what`` was saved, or
    that no place had room and it is lost.
    """
    try:
        save(out)
        return
    except OSError as err:
        failure = err
    tried = []
    for place in rescue_places(out):
        try:
            save(place)
        except OSError as err:
            tried.append(f"{place.parent} ({err.strerror or err})")
            continue
        raise FileWriteError(
            failure.errno,
            failure.strerror or str(failure),
            str(out),
            f"{_first_line(failure)}; {what} was saved to {place} instead: move it to {out} "
            "when there is room",
        ) from None
    raise FileWriteError(
        failure.errno,
        failure.strerror or str(failure),
        str(out),
        f"{_first_line(failure)}; {what} could not be saved anywhere else either (tried "
        f"{', '.join(tried) or 'no other folder'}), so it is lost",
    ) from None


def _first_line(err: OSError) -> str:
    text = str(err) if isinstance(err, FileWriteError) else f"could not write: {err}"
    return text.splitlines()[0] if text else type(err).__name__


__all__ = ["exclusive_writer", "rescue_places", "save_or_rescue"]
