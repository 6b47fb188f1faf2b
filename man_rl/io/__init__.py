"""Files: the checked, versioned container every man_rl file is, and the one atomic write.

- :mod:`man_rl.io.bundle`: :func:`write_bundle` / :func:`read_bundle`, JSON meta plus numeric
  arrays, checksummed, never pickled;
- :mod:`man_rl.io.header`: the bounds (size, depth, digits) the JSON header is written and
  read under, so what saves, loads;
- :mod:`man_rl.io.atomic`: :func:`atomic_file`, the temporary-file-fsync-rename every writer
  (memories, checkpoints, agents, JSON, PNG) goes through; a failed write is a
  :class:`~man_rl.errors.FileWriteError` naming the file and saying the old one is intact;
- :mod:`man_rl.io.lock`: :func:`~man_rl.io.lock.exclusive_writer`, one run at a time writing
  a file (``man-rl collect`` / ``train``).

Example:
    >>> from man_rl.io import FORMAT_VERSION
    >>> FORMAT_VERSION
    1
"""

from man_rl.io.atomic import atomic_file, write_bytes_atomically, write_json_atomically
from man_rl.io.bundle import FORMAT_VERSION, ArrayStream, Bundle, read_bundle, write_bundle

__all__ = [
    "FORMAT_VERSION",
    "ArrayStream",
    "Bundle",
    "atomic_file",
    "read_bundle",
    "write_bundle",
    "write_bytes_atomically",
    "write_json_atomically",
]
