"""What a man_rl file holds, read from its header: ``man-rl info``.

:func:`describe` reads a memory file, a storage folder, a long-term memory checkpoint, a judge,
or any other file of :mod:`man_rl.io.bundle`, and returns a :class:`FileInfo`: its kind,
versions, size and the facts of that kind (states, frames per state, frame shape, model
config, training step...). No frame and no weight is loaded: the checksum is verified by
streaming the file (memory stays flat whatever its size) and the arrays are only mapped, so
only the small counters are read. A damaged file raises
:class:`~man_rl.errors.CorruptFileError`, as loading it would.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from man_rl import ShortTermMemory
    >>> stm = ShortTermMemory(capacity=4)
    >>> for key, n in [("a", 3), ("b", 1)]:
    ...     for _ in range(n):
    ...         stm.add(key, np.zeros((6, 5, 3), np.uint8))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stm.manrl"
    >>> stm.save(path)
    >>> info = describe(path)
    >>> info.kind, info.facts["states"], info.facts["frames_held"], info.facts["frame_shape"]
    ('short_term_memory', 2, 4, [6, 5, 3])
    >>> print(info.text().splitlines()[1])
      states: 2
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from man_rl.errors import CorruptFileError
from man_rl.io.bundle import Bundle, read_bundle
from man_rl.keys import decode_key
from man_rl.stm import persist
from man_rl.stm.folder import FRAMES_NAME, META_NAME

# the kinds of man_rl.ltm.checkpoint and man_rl.evaluation.judge, named here so that reading
# a header never imports torch (tests/test_fileinfo.py checks they agree)
CHECKPOINT_KIND = "long_term_memory"
JUDGE_KIND = "judge"
TITLES = {
    persist.FILE_KIND: "short-term memory file",
    persist.STORAGE_KIND: "short-term memory storage folder",
    CHECKPOINT_KIND: "long-term memory checkpoint",
    JUDGE_KIND: "judge",
}
_KEYS_SHOWN = 5


@dataclass
class FileInfo:
    """What :func:`describe` found: the kind, versions, size and facts of one file.

    Attributes:
        path: the file (or storage folder).
        kind: the container's kind (``short_term_memory``, ``long_term_memory``, ...).
        title: the kind in words.
        format_version: the container's format version.
        man_rl_version: the man_rl that wrote it, where recorded.
        bytes: the file's size (a folder: its metadata plus frames file).
        facts: what the file holds, JSON-able (depends on the kind).
        arrays: ``name -> (dtype, shape)`` of every array, read from the header.

    Example:
        >>> print(FileInfo("x.manrl", "judge", "judge", 1, None, 10, {"states": 2}).text())
        x.manrl: judge (format 1), 10 B, checksum ok
          states: 2
    """

    path: str
    kind: str
    title: str
    format_version: int
    man_rl_version: str | None
    bytes: int
    facts: dict[str, Any]
    arrays: dict[str, tuple[str, list[int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-able (``man-rl info --json``)."""
        out = dict(self.__dict__)
        out["arrays"] = {name: {"dtype": d, "shape": s} for name, (d, s) in self.arrays.items()}
        return out

    def text(self) -> str:
        """The facts as ``name: value`` lines under one line naming the file."""
        written = f", man_rl {self.man_rl_version}" if self.man_rl_version else ""
        lines = [
            f"{self.path}: {self.title} (format {self.format_version}{written}), "
            f"{_size(self.bytes)}, checksum ok"
        ]
        for name, value in self.facts.items():
            lines.append(f"  {name.replace('_', ' ')}: {_show(value, name)}")
        return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _show(value: Any, name: str = "") -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    if name.endswith("shape") and isinstance(value, list):
        return " x ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _shapes(bundle: Bundle) -> dict[str, tuple[str, list[int]]]:
    return {name: (str(a.dtype), list(a.shape)) for name, a in bundle.arrays.items()}


def _key_preview(encoded: list[Any]) -> str:
    shown = ", ".join(repr(decode_key(value)) for value in encoded[:_KEYS_SHOWN])
    return shown + (f", ... ({len(encoded)} in all)" if len(encoded) > _KEYS_SHOWN else "")


def _memory_facts(path: Path, bundle: Bundle) -> dict[str, Any]:
    try:
        contents = persist.parse_contents(bundle.meta, bundle.arrays)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise persist.inconsistent(path, err) from None
    sizes = contents.sizes
    facts: dict[str, Any] = {
        "states": len(contents.keys),
        "frames_held": int(sizes.sum()),
        "frames_seen": int(contents.seen.sum()),
    }
    if len(sizes):
        facts["frames_per_state"] = {
            "min": int(sizes.min()),
            "median": float(np.median(sizes)),
            "max": int(sizes.max()),
        }
    facts["frame_shape"] = list(contents.frame_shape) if contents.frame_shape else None
    facts["capacity"] = contents.capacity
    facts["eviction"] = contents.eviction
    facts["keys"] = _key_preview(bundle.meta["keys"])
    return facts


def _checkpoint_facts(bundle: Bundle) -> dict[str, Any]:
    meta = bundle.meta
    config = meta.get("config")
    keys = meta.get("keys")
    if not isinstance(config, dict) or not isinstance(keys, list):
        raise KeyError("config or keys")
    weights = [a for name, a in bundle.arrays.items() if name.startswith("weights/")]
    training = meta.get("training")
    facts: dict[str, Any] = {
        "model": f"Type{meta['model_type']}",
        "states": len(keys),
        "frame_shape": config.get("frame_shape"),
        # the state dict: the weights, and buffers such as the code bank's codes
        "weights": int(sum(int(np.prod(a.shape)) for a in weights)),
        "config": {k: v for k, v in config.items() if k != "frame_shape"},
        "training_step": None if training is None else int(training["step"]),
        "keys": _key_preview(keys),
    }
    return facts


def _judge_facts(bundle: Bundle) -> dict[str, Any]:
    meta = bundle.meta
    info = meta.get("info") or {}
    return {
        "judge_version": meta["version"],
        "states": len(meta["keys"]),
        "frame_shape": meta["frame_shape"],
        "ceiling": meta["ceiling"],
        "training": {k: info[k] for k in ("seed", "steps", "train_frames") if k in info},
        "held_out_frames": int(np.asarray(bundle.arrays["held_out"]).sum()),
        "keys": _key_preview(meta["keys"]),
    }


def _facts(path: Path, bundle: Bundle) -> dict[str, Any]:
    if bundle.kind in (persist.FILE_KIND, persist.STORAGE_KIND):
        return _memory_facts(path, bundle)
    try:
        if bundle.kind == CHECKPOINT_KIND:
            return _checkpoint_facts(bundle)
        if bundle.kind == JUDGE_KIND:
            return _judge_facts(bundle)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CorruptFileError(
            f"{path} holds a {TITLES[bundle.kind]} whose header is inconsistent "
            f"({type(err).__name__}: {err}); re-create it or restore a copy"
        ) from None
    return {"meta": ", ".join(sorted(bundle.meta)) or "(none)", "arrays": len(bundle.arrays)}


def describe(path: str | os.PathLike[str]) -> FileInfo:
    """What the man_rl file (or storage folder) ``path`` holds, without loading its frames.

    Raises ``FileNotFoundError`` when there is nothing at ``path``,
    :class:`~man_rl.errors.CorruptFileError` for a damaged file or one that is not a man_rl
    file, and :class:`~man_rl.errors.UnsupportedVersionError` for a newer format.
    """
    path = Path(path)
    target, size = path, 0
    if path.is_dir():
        target = path / META_NAME
        if not target.is_file():
            raise CorruptFileError(
                f"{path} is a folder but not a man_rl storage folder (it has no {META_NAME})"
            )
        frames = path / FRAMES_NAME
        size = frames.stat().st_size if frames.is_file() else 0
    elif not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    bundle = read_bundle(target, None, mmap=True)
    facts = _facts(path, bundle)
    if bundle.kind == persist.STORAGE_KIND:
        facts["storage_version"] = bundle.meta.get("storage_version")
    version = bundle.meta.get("man_rl_version")
    return FileInfo(
        path=str(path),
        kind=bundle.kind,
        title=TITLES.get(bundle.kind, f"man_rl file of kind {bundle.kind!r}"),
        format_version=bundle.version,
        man_rl_version=version if isinstance(version, str) else None,
        bytes=size + target.stat().st_size,
        facts=facts,
        arrays=_shapes(bundle),
    )


__all__ = ["FileInfo", "describe"]
