"""Files: the checked, versioned container every man_rl file is, and the one atomic write.

- :mod:`man_rl.io.bundle`: :func:`write_bundle` / :func:`read_bundle`, JSON meta plus numeric
  arrays, checksummed, never pickled;
- :mod:`man_rl.io.atomic`: :func:`atomic_file`, the temporary-file-fsync-rename every writer
  (memories, checkpoints, agents, JSON, PNG) goes through.

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
