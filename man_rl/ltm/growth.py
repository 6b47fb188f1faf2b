"""Growing a long-term memory: state keys added to a trained model, what it learnt kept.

An agent meets new states as it learns; :func:`grow` adds them to a model (``fit`` does it
for every key of the memory the model does not know, unless ``grow=False``). The learnt
weights stay, the optimiser's moments too (Adam's ``exp_avg`` / ``exp_avg_sq`` of a grown
parameter are padded with zeros, its step count kept), and the new weights start so that
the old states' outputs do not change: recall of an old key with a fixed generator gives
the same frames before and after growth (exactly; with Type B's state readout up to float
rounding, as the new state's posterior entry, about ``e**-36`` for an old state's draw,
joins the softmax's sum).

- **Type A** (one-hot condition, width ``K``): the long-term encoder's and decoder's first
  layers get one input column per new state, started as a copy of the column of the known
  state whose screens look most alike (nearest mean root vector ``E(x)``; the mean of the
  known columns without a memory), so a new state starts out recalling its neighbour and
  only has to learn how it differs. An old state's one-hot is 0 there, so its outputs are
  untouched.
- **Type B** keeps the paper's priors, one ``lam``-hot latent dimension per state
  (``latent_dim = K + padding``): a new state is a new dimension after the ``K`` state
  dimensions, the padding unchanged. The encoder's ``mu`` / ``log_var`` rows of it start at
  zero, so every old frame's KL and recognition stay what they were (its new coordinate
  has mean 0, variance 1: the prior's); the long-term decoder gets an input column (a copy
  of the nearest state's with the state readout, zero reading raw ``z``), the readout's
  ``sqrt(latent_dim)`` scale stays the built model's (:func:`built_latent_dim`), and
  ``kl_weights`` grows.
  One dimension per state is kept over a fixed-size code (states as points on a sphere of
  fixed dimension) because recognition, the 3-sigma rule and checkpoints all rest on
  orthogonal prior means, and a dimension per state costs one row and column per state,
  which the state readout's posterior already needs.

Recall draws its noise in an order growth keeps (:func:`latent_noise`): the model's first
``latent_dim`` draws as before, then one column per added state, so old keys meet the same
noise. A grown model's checkpoint records the order keys were added (:class:`GrowthLog`).

Example:
    >>> from man_rl.ltm import TypeB
    >>> model = TypeB(["a", "b"], (4, 4), seed=0)
    >>> before = model.recall("a", 2, seed=0)
    >>> grow(model, ["c", "a"]), model.config.latent_dim
    (['c'], 19)
    >>> model.keys, bool((model.recall("a", 2, seed=0) == before).all())
    (['a', 'b', 'c'], True)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from man_rl.errors import CorruptFileError, InvalidTypeError
from man_rl.keys import normalize_key
from man_rl.ltm.common import KeyIndex
from man_rl.ltm.networks import frames_to_tensor
from man_rl.stm.memory import ShortTermMemory

#: Newest frames per state whose mean root vector picks a new state's nearest known state.
NEAREST_FRAMES = 16


@dataclass
class GrowthLog:
    """The order a model's keys were added: ``initial_keys`` at first, then one at a time.

    Args:
        initial_keys: how many keys the model was built with (the first of ``model.keys``).
        added_at_step: for each later key, in ``model.keys`` order, the training step the
            model had taken when it was added.

    Example:
        >>> log = GrowthLog(2, [40, 40, 90])
        >>> log.added, GrowthLog.from_meta(log.to_meta(), num_keys=5) == log
        (3, True)
    """

    initial_keys: int
    added_at_step: list[int] = field(default_factory=list)

    @property
    def added(self) -> int:
        """Keys added since the model was built."""
        return len(self.added_at_step)

    def to_meta(self) -> dict[str, Any]:
        """JSON-able form (checkpoints)."""
        return {"initial_keys": self.initial_keys, "added_at_step": list(self.added_at_step)}

    @classmethod
    def from_meta(cls, meta: dict[str, Any], num_keys: int) -> GrowthLog:
        """Read :meth:`to_meta`'s form, checked against the model's ``num_keys``."""
        try:
            log = cls(int(meta["initial_keys"]), [int(s) for s in meta["added_at_step"]])
        except (KeyError, TypeError, ValueError) as err:
            raise CorruptFileError(f"a checkpoint's growth record is unreadable: {err}") from None
        if log.initial_keys < 1 or log.initial_keys + log.added != num_keys:
            raise CorruptFileError(
                f"a checkpoint's growth record ({log.initial_keys} keys + {log.added} added) "
                f"does not match its {num_keys} keys; re-create it or restore a copy"
            )
        return log


def latent_noise(
    model: Any, n: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Unit Gaussian noise ``[n, latent_dim]`` for a latent with a dimension per state.

    Drawn in an order growth keeps: an ungrown model draws ``randn(n, latent_dim)``, as it
    always did; a grown one draws its built ``latent_dim`` as that, then one column of ``n``
    per added state, placed after the first ``initial_keys`` state dimensions, so the old
    dimensions get the noise they got before growth, whatever was added since.
    """
    latent = model.config.latent_dim
    log: GrowthLog | None = getattr(model, "growth_log", None)
    added = 0 if log is None else log.added
    first = torch.randn((n, latent - added), generator=generator, device=device)
    if added == 0:
        return first
    later = torch.randn((added, n), generator=generator, device=device).T
    k0 = log.initial_keys  # type: ignore[union-attr]
    return torch.cat([first[:, :k0], later, first[:, k0:]], dim=1)


def built_latent_dim(model: Any) -> int:
    """``latent_dim`` of the model as it was built, before growth added a dimension per state.

    For what must stay fixed as the model grows (a scale the long-term decoder reads).
    """
    log: GrowthLog | None = getattr(model, "growth_log", None)
    return model.config.latent_dim - (0 if log is None else log.added)


@dataclass
class Start:
    """Where each new state's weights start: the look-alike known state, its own root."""

    sources: list[int | None]
    roots: list[torch.Tensor | None]


@dataclass
class Resize:
    """One tensor of the model replaced by a bigger one.

    ``keep[i]`` is where old entry ``i`` (along ``dim``) went.
    """

    owner: nn.Module
    name: str
    value: torch.Tensor
    dim: int
    keep: torch.Tensor


def keep_places(size: int, at: int, n: int) -> torch.Tensor:
    """New positions of ``size`` old entries after ``n`` are inserted before index ``at``."""
    return torch.cat([torch.arange(at), torch.arange(at, size) + n])


def insert(tensor: torch.Tensor, dim: int, at: int, fill: torch.Tensor) -> torch.Tensor:
    """``tensor`` with ``fill`` inserted before index ``at`` along ``dim``."""
    size = tensor.shape[dim]
    return torch.cat([tensor.narrow(dim, 0, at), fill, tensor.narrow(dim, at, size - at)], dim)


def _pick(columns: torch.Tensor, sources: list[int | None]) -> torch.Tensor:
    """``columns[:, s]`` for each source (the mean of all columns for ``None``)."""
    mean = columns.mean(dim=1)
    picked = [mean if s is None else columns[:, s] for s in sources]
    return torch.stack(picked, dim=1)


def state_columns(layer: nn.Linear, k: int, start: Start, copy: bool = True) -> list[Resize]:
    """New input columns of ``layer`` at ``k`` (after its ``k`` state columns).

    ``copy``: each the look-alike state's column (the known ones' mean without one), else 0.
    """
    weight = layer.weight.detach()
    states = weight[:, :k]
    n = len(start.sources)
    fill = _pick(states, start.sources) if copy else weight.new_zeros(weight.shape[0], n)
    value = torch.cat([states, fill, weight[:, k:]], dim=1)
    return [Resize(layer, "weight", value, 1, keep_places(weight.shape[1], k, n))]


def _rows(owner: nn.Module, name: str, fill: torch.Tensor) -> Resize:
    """``fill`` appended as new rows of ``owner.name``."""
    old = getattr(owner, name).detach()
    return Resize(owner, name, torch.cat([old, fill]), 0, torch.arange(len(old)))


def bank_rows(model: Any, n: int) -> list[Resize]:
    """Empty rings for ``n`` new states (recall draws their prior until training fills them)."""
    if getattr(model, "bank", None) is None:
        return []
    bank = model.bank
    fill = bank.codes.new_zeros((n, *bank.codes.shape[1:]))
    return [_rows(bank, "codes", fill), _rows(bank, "written", bank.written.new_zeros(n))]


def _starts(model: Any, new_keys: list[Hashable], memory: ShortTermMemory | None) -> Start:
    none: list[Any] = [None] * len(new_keys)
    if memory is None:
        return Start(none, list(none))
    counts = memory.counts()
    known = [i for i, key in enumerate(model.keys) if counts.get(key, 0) > 0]
    device = next(model.parameters()).device

    def mean_root(key: Hashable) -> torch.Tensor | None:
        if counts.get(key, 0) == 0:
            return None
        frames = memory.queue(key)[-NEAREST_FRAMES:]
        return model.encoder(frames_to_tensor(frames, device)).mean(dim=0)

    with torch.no_grad():
        roots = [mean_root(key) for key in new_keys]
        if not known:
            return Start(none, roots)
        table = torch.stack([mean_root(model.keys[i]) for i in known])  # type: ignore[misc]
        sources = [
            None if root is None else known[int((table - root).square().sum(1).argmin())]
            for root in roots
        ]
    return Start(sources, roots)


def nearest_known(
    model: Any, new_keys: list[Hashable], memory: ShortTermMemory | None
) -> list[int | None]:
    """For each new key, the class index of the known state whose screens look most alike.

    Alike: nearest mean root vector ``E(x)`` over the newest :data:`NEAREST_FRAMES` frames
    of each in ``memory``. ``None`` where the memory holds no frame of the new key or of
    any known key (the new weights then start at the known states' mean).
    """
    return _starts(model, new_keys, memory).sources


def grow(
    model: Any, keys: Iterable[Hashable], memory: ShortTermMemory | None = None
) -> list[Hashable]:
    """Add the ``keys`` ``model`` does not know yet; returns those added, in order.

    Keys already known are skipped. ``memory`` (optional) picks each new state's starting
    weights (:func:`nearest_known`). The model's training state, if any, is carried over:
    the optimiser now holds the grown parameters, with zero moments at the new entries.
    """
    if not getattr(model, "can_grow", False):
        raise InvalidTypeError(
            f"only models with a growth plan (TypeA, TypeB) can grow, got {type(model).__name__}"
        )
    new: list[Hashable] = []
    for key in keys:
        key = normalize_key(key)
        if key not in model.key_index and key not in new:
            new.append(key)
    if not new:
        return []
    start = _starts(model, new, memory)
    with torch.no_grad():
        changes = model.growth_changes(start)
    state = getattr(model, "training_state", None)
    for change in changes:
        _apply(change, None if state is None else state.optimizer)
    old_count = len(model.key_index)
    model.key_index = KeyIndex([*model.key_index.keys, *new])
    model.after_growth(old_count)
    log = model.growth_log or GrowthLog(old_count)
    step = 0 if state is None else int(state.step)
    model.growth_log = GrowthLog(log.initial_keys, [*log.added_at_step, *[step] * len(new)])
    return new


def _embed(old: torch.Tensor, change: Resize) -> torch.Tensor:
    """``old`` (shaped like the replaced tensor) at its new places; zeros at the new ones."""
    shape = list(old.shape)
    shape[change.dim] = change.value.shape[change.dim]
    return old.new_zeros(shape).index_copy_(change.dim, change.keep.to(old.device), old)


def _apply(change: Resize, optimizer: torch.optim.Optimizer | None) -> None:
    old = getattr(change.owner, change.name)
    if not isinstance(old, nn.Parameter):
        setattr(change.owner, change.name, change.value.contiguous())
        return
    new = nn.Parameter(change.value.contiguous(), requires_grad=old.requires_grad)
    setattr(change.owner, change.name, new)
    if isinstance(change.owner, nn.Linear):
        change.owner.out_features, change.owner.in_features = change.owner.weight.shape
    if optimizer is None:
        return
    for group in optimizer.param_groups:
        group["params"] = [new if p is old else p for p in group["params"]]
    moments = optimizer.state.pop(old, None)
    if moments:
        optimizer.state[new] = {
            name: _embed(value, change)
            if isinstance(value, torch.Tensor) and value.shape == old.shape
            else value
            for name, value in moments.items()
        }


__all__ = [
    "NEAREST_FRAMES",
    "GrowthLog",
    "Resize",
    "Start",
    "bank_rows",
    "built_latent_dim",
    "grow",
    "insert",
    "keep_places",
    "latent_noise",
    "nearest_known",
    "state_columns",
]
