"""Small pieces of the long-term memories: the key index, argument checks, devices, generators.

Example:
    >>> index = KeyIndex([(1, 1, 0), (2, 1, 0)])
    >>> index.index_of((2, 1, 0)), len(index)
    (1, 2)
    >>> index.index_of((9, 9, 9))
    Traceback (most recent call last):
    ...
    man_rl.errors.UnknownKeyError: state key (9, 9, 9) is not one this model was built for; ...
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from man_rl.checks import check_int
from man_rl.errors import InvalidTypeError, InvalidValueError, UnknownKeyError
from man_rl.keys import normalize_key, short_repr


class ModelOutput(NamedTuple):
    """What both types' ``forward`` returns (``TypeAOutput`` and ``TypeBOutput`` are it)."""

    logits: torch.Tensor
    association_logits: torch.Tensor | None
    root: torch.Tensor
    root_hat: torch.Tensor
    mu: torch.Tensor
    log_var: torch.Tensor


def _preview(items: Sequence[Hashable], limit: int = 6) -> str:
    shown = ", ".join(short_repr(item, 40) for item in items[:limit])
    more = f", ... ({len(items)} in all)" if len(items) > limit else ""
    return f"[{shown}{more}]"


class KeyIndex:
    """The ordered state keys a model was built for; a key's position is its class index.

    Args:
        keys: distinct, hashable state keys (normalised with :func:`man_rl.keys.normalize_key`).
    """

    def __init__(self, keys: Iterable[Hashable]) -> None:
        self._keys = [normalize_key(key) for key in keys]
        self._index = {key: i for i, key in enumerate(self._keys)}
        if len(self._index) != len(self._keys):
            raise InvalidValueError(f"state keys must be distinct, got {_preview(self._keys)}")
        if not self._keys:
            raise InvalidValueError(
                "a long-term memory needs at least one state key; the memory is empty "
                "(collect frames first)"
            )

    @property
    def keys(self) -> list[Hashable]:
        """The keys, in class-index order (a copy)."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._index
        except TypeError:
            return False

    def index_of(self, key: Hashable) -> int:
        """Class index of ``key``; :class:`UnknownKeyError` naming it when unknown."""
        try:
            return self._index[key]
        except (KeyError, TypeError):
            raise UnknownKeyError(
                f"state key {short_repr(key)} is not one this model was built for; it knows "
                f"{len(self._keys)} keys: {_preview(self._keys)}"
            ) from None

    def map_memory(self, memory_keys: Sequence[Hashable]) -> np.ndarray:
        """Model class index of each of a memory's keys (memory label -> model label).

        Keys the model was not built for (added to the memory after the model was made) are
        an error naming them, never silently given another key's index.
        """
        new = [key for key in memory_keys if key not in self]
        if new:
            raise UnknownKeyError(
                f"the memory has {len(new)} state key(s) this model was not built for: "
                f"{_preview(new)}; they were probably added after the model was made. Build a "
                "new model from the memory (TypeA.for_memory(memory) / TypeB.for_memory(memory)) "
                "to learn them, or train on a memory holding only the model's keys"
            )
        return np.array([self._index[key] for key in memory_keys], dtype=np.int64)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA is an error."""
    if isinstance(device, torch.device):
        chosen = device
    elif not isinstance(device, str):
        raise InvalidTypeError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    elif device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            chosen = torch.device(device)
        except RuntimeError:
            raise InvalidValueError(
                f"device must be 'auto', 'cpu' or 'cuda', got {device!r}"
            ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError(
            f"device {device!r} asked for, but this torch has no CUDA device; use 'cpu' or 'auto'"
        )
    if chosen.type not in ("cpu", "cuda"):
        raise InvalidValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return chosen


def make_generator(device: torch.device, seed: int | None) -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed`` (fresh entropy when ``None``)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(check_seed(seed))
    return generator


def check_seed(seed: object) -> int:
    """``seed`` as a non-negative int, or :class:`InvalidValueError`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidTypeError(f"seed must be an int, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise InvalidValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def fresh_seed() -> int:
    """A seed drawn from the operating system's entropy (never the global RNG)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)


def recall_generator(
    device: torch.device, seed: int | None, generator: torch.Generator | None
) -> torch.Generator:
    """The generator a recall draws from: ``generator`` if given, else one seeded by ``seed``."""
    if generator is not None:
        if seed is not None:
            raise InvalidValueError("give recall either seed or generator, not both")
        if generator.device.type != device.type:
            raise InvalidValueError(
                f"the generator is on {generator.device} but the model is on {device}; make it "
                f"with torch.Generator(device={device.type!r})"
            )
        return generator
    return make_generator(device, seed)


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, or an error naming ``name`` and showing the value."""
    return check_int(name, value, minimum=1)


def check_count_or_off(name: str, value: object) -> int:
    """``value`` as an int >= 0 (0: off), or an error naming ``name`` and showing the value."""
    return check_int(name, value, minimum=0, hint=" (0 turns it off)")


def check_non_negative(name: str, value: object) -> float:
    """``value`` as a finite float >= 0, or an error naming ``name`` and showing the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise InvalidValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else an error naming ``name`` and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def frames_as_batch(frames: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    """uint8 ``frames`` as a batch ``[N, *frame_shape]`` (one frame becomes a batch of one)."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise InvalidTypeError(
            f"frames must be a uint8 numpy array, got "
            f"{getattr(frames, 'dtype', type(frames).__name__)}"
        )
    if frames.shape == tuple(frame_shape):
        return frames[None]
    if frames.shape[1:] != tuple(frame_shape):
        raise InvalidValueError(
            f"frames of shape {frames.shape} do not match this model's frame shape "
            f"{tuple(frame_shape)}; expected (N, {', '.join(map(str, frame_shape))})"
        )
    return frames


__all__ = [
    "KeyIndex",
    "ModelOutput",
    "check_choice",
    "check_count_or_off",
    "check_non_negative",
    "check_positive_int",
    "check_seed",
    "frames_as_batch",
    "fresh_seed",
    "make_generator",
    "recall_generator",
    "resolve_device",
]
