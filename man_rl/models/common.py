"""Pieces both long-term memories share: their key index, loss terms, devices and recall.

The models share behaviour through these functions and small classes (composition), not
through a common base class.

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
from typing import NamedTuple, Protocol

import numpy as np
import torch

from man_rl.errors import (
    EmptyMemoryError,
    InvalidTypeError,
    InvalidValueError,
    UnknownKeyError,
)
from man_rl.keys import normalize_key
from man_rl.memory import ShortTermMemory
from man_rl.models.networks import tensor_to_frames


def _preview(items: Sequence[Hashable], limit: int = 6) -> str:
    shown = ", ".join(repr(item) for item in items[:limit])
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
                f"state key {key!r} is not one this model was built for; it knows "
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


class LossTerms(NamedTuple):
    """The loss and its named terms, each a scalar; ``loss`` is the sum of the others.

    ``reconstruction``: the screen decoded from ``h_hat`` against the real one; ``kl``: the
    (weighted) KL to the prior; ``root``: ``lambda_root * ||h - h_hat||^2``;
    ``association``: ``lambda_association`` times the screen decoded from ``h`` itself against
    the real one (E and D as the paper's association autoencoder); ``recognition`` (Type B;
    always 0 for Type A, which does not recognise): ``lambda_recognition`` times
    ``-log p(state | mu)``, the state posterior of the encoding's mean under the priors.
    """

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    root: torch.Tensor
    association: torch.Tensor
    recognition: torch.Tensor


def reconstruction_loss(logits: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Squared error of ``sigmoid(logits)`` against ``frames`` (both in ``[0, 1]``).

    Summed over a frame's pixels and averaged over the batch: the Gaussian negative
    log-likelihood with variance 1/2, up to a constant, so a perfect reconstruction scores 0.
    """
    # float32 even under mixed precision: a sum over every pixel needs it
    error = (torch.sigmoid(logits.float()) - frames).square().sum()
    return error / frames.shape[0]


def gaussian_kl(
    mu: torch.Tensor,
    log_var: torch.Tensor,
    prior_mean: torch.Tensor | None = None,
    weights: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """``KL(N(mu, exp(log_var)) || N(prior_mean, I))`` in closed form, averaged over rows.

    Each latent dimension's KL is multiplied by ``weights`` (a number, or one per dimension)
    before summing over dimensions. ``prior_mean=None`` is the standard normal prior.
    """
    mu, log_var = mu.float(), log_var.float()
    diff = mu if prior_mean is None else mu - prior_mean
    per_dim = 0.5 * (diff.square() + log_var.exp() - 1.0 - log_var)
    return (per_dim * weights).sum(dim=1).mean()


def root_loss(root: torch.Tensor, root_hat: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * ||h - h_hat||^2`` per frame, averaged (the paper's root-vector term).

    The gradient reaches both sides, as in the paper: the encoder E learns to give the root
    vector the long-term decoder regenerates, and the long-term decoder learns to regenerate
    E's. (Treating ``h`` as a fixed target instead made training 2x slower: measured.)
    """
    if weight == 0:
        return root_hat.new_zeros(())
    return weight * (root.float() - root_hat.float()).square().sum(dim=1).mean()


def reparameterize(
    mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """``mu + std * eps`` with ``std = exp(log_var / 2)`` (the standard reparameterisation).

    The paper's eq. 4 writes ``std**2 * eps``; we use ``std * eps``, which makes ``z``'s
    variance ``exp(log_var)`` as the KL term assumes.
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * log_var) * eps


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
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise InvalidValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_non_negative(name: str, value: object) -> float:
    """``value`` as a finite float >= 0, or an error naming ``name`` and showing the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise InvalidValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


class Generative(Protocol):
    """What :func:`recall_frames` needs from a model."""

    key_index: KeyIndex
    frame_shape: tuple[int, ...]

    @property
    def device(self) -> torch.device: ...  # noqa: D102

    def generate(  # noqa: D102
        self, labels: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor: ...


def recall_frames(
    model: Generative,
    key: Hashable,
    n: int,
    seed: int | None,
    generator: torch.Generator | None,
) -> np.ndarray:
    """``n`` uint8 frames of state ``key`` from ``model`` (the body of both ``recall``)."""
    index = model.key_index.index_of(key)
    n = check_positive_int("n", n)
    device = model.device
    draw = recall_generator(device, seed, generator)
    labels = torch.full((n,), index, dtype=torch.long, device=device)
    with torch.no_grad():
        images = model.generate(labels, draw)
    return tensor_to_frames(images, model.frame_shape)


def frame_shape_of(memory: ShortTermMemory) -> tuple[int, ...]:
    """The frame shape of a non-empty memory (what ``for_memory`` sizes a model from)."""
    if not isinstance(memory, ShortTermMemory):
        raise InvalidTypeError(f"expected a ShortTermMemory, got {type(memory).__name__}")
    if memory.frame_shape is None or memory.num_keys == 0:
        raise EmptyMemoryError("cannot size a model from an empty memory; collect frames first")
    return memory.frame_shape


def mean_frame(memory: ShortTermMemory) -> np.ndarray:
    """The average screen of ``memory``, each state weighing the same (float ``H x W(xC)``)."""
    return np.mean([memory.queue(key).mean(axis=0) for key in memory.keys], axis=0)


def association_loss(
    logits: torch.Tensor | None, frames: torch.Tensor, weight: float
) -> torch.Tensor:
    """``weight`` times the reconstruction of ``frames`` decoded straight from ``h = E(x)``.

    This trains E and D as the paper's association autoencoder, so that the root vector
    ``h`` holds what tells one screen from another, including what varies *within* a state
    (a moving object): the long-term memory, asked to regenerate ``h``, then has to keep
    that variation in ``z`` instead of collapsing every state to one averaged screen
    (measured: without it both types recalled only the average of a varying state).
    """
    if weight == 0 or logits is None:
        return frames.new_zeros(())
    return weight * reconstruction_loss(logits, frames)


def decode_both(
    decoder: torch.nn.Module, root_hat: torch.Tensor, root: torch.Tensor, association: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Frame logits of ``D(h_hat)`` and, when ``association``, of ``D(h)`` (one batched call)."""
    if not association:
        return decoder(root_hat), None
    both = decoder(torch.cat([root_hat, root], dim=0))
    return both[: len(root_hat)], both[len(root_hat) :]


__all__ = [
    "Generative",
    "KeyIndex",
    "LossTerms",
    "association_loss",
    "check_non_negative",
    "check_positive_int",
    "check_seed",
    "decode_both",
    "frame_shape_of",
    "fresh_seed",
    "gaussian_kl",
    "make_generator",
    "mean_frame",
    "recall_frames",
    "recall_generator",
    "reconstruction_loss",
    "reparameterize",
    "resolve_device",
    "root_loss",
]
