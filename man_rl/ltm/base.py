"""What every long-term memory shares, written once: keys, sizes, recall, training, files.

:class:`LongTermMemory` is the surface scripts use; :class:`~man_rl.ltm.type_a.TypeA` and
:class:`~man_rl.ltm.type_b.TypeB` add only their networks, their loss and how they draw a
screen (``generate``). A subclass names itself with ``kind`` and is then found by
:func:`~man_rl.ltm.checkpoint.load_model` from a checkpoint's model type.

Example:
    >>> from man_rl.ltm import LongTermMemory, TypeA, TypeB
    >>> issubclass(TypeA, LongTermMemory), sorted(LongTermMemory.types())
    (True, ['A', 'B'])
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from man_rl.errors import EmptyMemoryError, InvalidTypeError, InvalidValueError
from man_rl.ltm import checkpoint, growth, presets
from man_rl.ltm.bank import CodeBank
from man_rl.ltm.common import (
    KeyIndex,
    ModelOutput,
    check_positive_int,
    make_generator,
    recall_generator,
)
from man_rl.ltm.config import ModelConfig
from man_rl.ltm.losses import LossTerms, autoencoder_terms, decode_all
from man_rl.ltm.networks import Decoder, Encoder, init_weights, mlp, tensor_to_frames
from man_rl.ltm.stopping import StoppingRule, fit_until
from man_rl.ltm.training import TERMS, fit
from man_rl.stm.memory import ShortTermMemory

M = TypeVar("M", bound="LongTermMemory")


def frame_shape_of(memory: ShortTermMemory) -> tuple[int, ...]:
    """The frame shape of a non-empty memory (what ``for_memory`` sizes a model from)."""
    if not isinstance(memory, ShortTermMemory):
        raise InvalidTypeError(f"expected a ShortTermMemory, got {type(memory).__name__}")
    if memory.frame_shape is None or memory.num_keys == 0:
        raise EmptyMemoryError("cannot size a model from an empty memory; collect frames first")
    return memory.frame_shape


def mean_frame(memory: ShortTermMemory) -> np.ndarray:
    """The average screen of ``memory``, each state weighing the same (float ``H x W(xC)``)."""
    total = np.zeros(frame_shape_of(memory), dtype=np.float64)
    for key in memory.keys:
        total += memory.queue(key).mean(axis=0)
    return total / memory.num_keys


class LongTermMemory(nn.Module):
    """A model that learns the screens of a short-term memory's states and recalls them.

    ``TypeX(keys, frame_shape, config=None, **overrides)``: the states' keys (their order
    gives the class indices), the frames' shape, and the type's config and/or overrides of
    its fields. Subclasses set ``kind`` (the model type written to checkpoints) and
    ``config_class`` (their :class:`~man_rl.ltm.config.ModelConfig`), make their networks in
    ``build()`` (:meth:`make_networks` makes the four every type has), and define
    ``forward(frames, labels, generator) -> ModelOutput`` (:meth:`decode_screens` ends it),
    their own loss terms ``type_terms(out, labels) -> {name: term}`` and
    ``generate(labels, generator) -> images`` (float ``[B, C, H, W]`` in ``[0, 1]``).
    """

    kind: ClassVar[str]
    #: The type's settings: one frozen dataclass, each field declared once.
    config_class: ClassVar[type[ModelConfig]]
    #: Whether :meth:`recognize` tells a screen's state (Type B's does; Type A's says it cannot).
    recognizes: ClassVar[bool] = False
    #: Whether :meth:`growth_changes` is defined, so the model can learn states met later.
    can_grow: ClassVar[bool] = False
    key_index: KeyIndex
    config: ModelConfig
    #: The order keys were added, once the model has grown (:mod:`man_rl.ltm.growth`).
    growth_log: growth.GrowthLog | None = None

    def __init__(
        self,
        keys: Iterable[Hashable],
        frame_shape: Sequence[int],
        config: ModelConfig | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        self.key_index = KeyIndex(keys)
        overrides = self.fill_from_keys(config, overrides)
        self.config = self.config_class.build(frame_shape, config, **overrides)
        # torch's layers draw their first weights from the global RNG; keep it untouched
        # and draw the weights from the model's own seed below.
        with torch.random.fork_rng(devices=[]):
            self.build()
        init_weights(self, make_generator(torch.device("cpu"), self.config.seed))
        self.training_state: Any = None  # set by man_rl.ltm.training.fit

    def fill_from_keys(
        self, config: ModelConfig | None, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """``overrides`` with what the type sizes from the keys (Type B: ``latent_dim``)."""
        return overrides

    def build(self) -> None:
        """Make the networks from :attr:`config` and :attr:`key_index`."""
        raise NotImplementedError

    def make_networks(self, enc_long_in: int, dec_long_in: int, bank_width: int) -> None:
        """``E``, ``enc_long``, ``dec_long``, ``D`` and the code bank, sized from the config.

        ``enc_long_in`` / ``dec_long_in``: the long-term encoder's / decoder's input sizes;
        ``bank_width``: the values per banked code.
        """
        cfg = self.config
        self.encoder = Encoder(cfg.plan, cfg.root_dim)
        self.enc_long = mlp([enc_long_in, cfg.hidden_dim, 2 * cfg.latent_dim])
        self.dec_long = mlp([dec_long_in, cfg.hidden_dim, cfg.root_dim])
        self.decoder = Decoder(cfg.plan, cfg.root_dim)
        states = len(self.key_index)
        self.bank = CodeBank(states, cfg.code_bank, bank_width) if cfg.code_bank else None

    @staticmethod
    def types() -> dict[str, type]:
        """Every model type known, ``kind -> class``."""
        return checkpoint.model_types()

    @classmethod
    def for_memory(
        cls: type[M],
        memory: ShortTermMemory,
        *,
        keys: Iterable[Hashable] | None = None,
        **options: Any,
    ) -> M:
        """A model sized from ``memory``'s frame shape and keys.

        The decoder starts out drawing the memory's average screen (its output bias is set
        from it), so training only has to learn how each state differs from it. ``keys``:
        the states the model knows (default: the memory's); give more to build it over a
        whole state space, states the memory never saw included (they get no training
        frame; the paper's Figures 7-8). ``options`` are the constructor's keywords
        (``latent_dim``, ``seed``...).
        """
        shape = frame_shape_of(memory)
        known = memory.keys if keys is None else list(keys)
        KeyIndex(known).map_memory(memory.keys)  # every key of the memory must be known
        model = cls(known, shape, **options)
        model.decoder.start_from(mean_frame(memory))
        return model

    @classmethod
    def preset(
        cls: type[M],
        name: str,
        memory: ShortTermMemory | Iterable[Hashable],
        frame_shape: Sequence[int] | None = None,
        **overrides: Any,
    ) -> M:
        """A model built with preset ``name`` (``"paper"`` or ``"recommended"``).

        Every switch is set by the preset (:mod:`man_rl.ltm.presets`), whatever the
        constructor's defaults; ``overrides`` change any config field (a switch, a size, the
        seed) or pass ``keys`` to :meth:`for_memory`. ``memory`` is a short-term memory (the
        model is sized from it, as :meth:`for_memory` does) or the state keys, with
        ``frame_shape``.

        Example:
            >>> from man_rl.ltm import TypeB
            >>> model = TypeB.preset("paper", ["a", "b"], (6, 6), seed=0)
            >>> model.config.state_readout, model.config.class_kl_weight
            (False, 1.0)
        """
        options = {**presets.preset(cls.kind, name), **overrides}  # the config checks them
        if isinstance(memory, ShortTermMemory):
            if frame_shape is not None:
                raise InvalidValueError("frame_shape comes from the memory; leave it out")
            return cls.for_memory(memory, **options)
        if frame_shape is None:
            raise InvalidValueError(
                f"{cls.__name__}.preset needs frame_shape when given keys instead of a memory"
            )
        return cls(memory, frame_shape, **options)

    @classmethod
    def paper(
        cls: type[M],
        memory: ShortTermMemory | Iterable[Hashable],
        frame_shape: Sequence[int] | None = None,
        **overrides: Any,
    ) -> M:
        """The paper's equations and nothing else: :meth:`preset` ``"paper"``."""
        return cls.preset("paper", memory, frame_shape, **overrides)

    # ------------------------------------------------------------------ properties
    @property
    def keys(self) -> list[Hashable]:
        """The state keys this model knows, in class-index order."""
        return self.key_index.keys

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame."""
        return self.config.frame_shape

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def extra_repr(self) -> str:  # noqa: D102
        return f"keys={len(self.key_index)}, config={asdict(self.config)}"

    # ------------------------------------------------------------------ what subclasses give
    def loss(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> LossTerms:
        """The training loss of a batch and its named terms.

        The terms every type has (:func:`~man_rl.ltm.losses.autoencoder_terms`), then the
        type's own (:meth:`type_terms`); in training, the code bank keeps each frame's
        :meth:`bank_code`.
        """
        out = self(frames, labels, generator)
        if self.bank is not None and self.training:
            self.bank.write(labels, self.bank_code(out.mu.detach()))
        terms = autoencoder_terms(out, frames, self.config)
        return LossTerms.of(**terms, **self.type_terms(out, labels))

    def type_terms(self, out: ModelOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The type's own loss terms of a batch (its KL first), by name."""
        raise NotImplementedError

    def bank_code(self, mu: torch.Tensor) -> torch.Tensor:
        """The part of the encodings' means that the code bank keeps (all of it)."""
        return mu

    def decode_screens(
        self, root: torch.Tensor, root_hat: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor
    ) -> ModelOutput:
        """``forward``'s output: the screens decoded from ``h_hat`` (and from ``h``).

        The screen decoded from ``h`` itself is ``None`` where the association term is off.
        """
        association = root if self.config.lambda_association > 0 else None
        logits, association_logits = decode_all(self.decoder, [root_hat, association])
        return ModelOutput(logits, association_logits, root, root_hat, mu, log_var)

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Screens (float ``[B, C, H, W]`` in ``[0, 1]``) of states ``labels``."""
        raise NotImplementedError

    def growth_changes(self, start: growth.Start) -> list[growth.Resize]:
        """The tensors that grow when states are added (:func:`man_rl.ltm.growth.grow`).

        ``start`` says where each new state's weights start; the new states come after the
        ``len(self.keys)`` known ones. Old states' outputs must not change. A type that
        defines it sets ``can_grow = True``.
        """
        raise InvalidTypeError(f"a {type(self).__name__} cannot grow: it has no growth plan")

    def after_growth(self, old_count: int) -> None:
        """Bring what depends on the number of states up to date (the keys are grown)."""

    # ------------------------------------------------------------------ public use
    def recall(
        self,
        key: Hashable,
        n: int = 1,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """``n`` screens of state ``key``: uint8, shaped ``(n, *frame_shape)``.

        The same ``seed`` gives the same screens; an unknown key raises
        :class:`~man_rl.errors.UnknownKeyError` naming it.
        """
        index = self.key_index.index_of(key)
        n = check_positive_int("n", n)
        device = self.device
        draw = recall_generator(device, seed, generator)
        labels = torch.full((n,), index, dtype=torch.long, device=device)
        with torch.no_grad():
            images = self.generate(labels, draw)
        return tensor_to_frames(images, self.frame_shape)

    def fit(
        self,
        memory: ShortTermMemory,
        steps: int | None = None,
        *,
        until: StoppingRule | None = None,
        budget: float | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        seed: int | None = None,
        device: str | torch.device = "auto",
        progress: bool = True,
        balanced: bool = True,
        mixed_precision: str | None = None,
        grow: bool = True,
        warmup_steps: int | None = None,
        threads: int | None = None,
    ) -> dict[str, list[float]]:
        """Train on class-balanced batches of ``memory``; see :func:`man_rl.ltm.training.fit`.

        Keys of the memory the model does not know are added first (``grow=False`` makes
        them an error instead). With ``until`` (a stopping rule, e.g.
        :class:`man_rl.evaluation.RecallTarget`), train until it is met, ``budget`` seconds
        pass (default :data:`~man_rl.ltm.stopping.DEFAULT_BUDGET`) or ``steps`` are taken
        (:func:`man_rl.ltm.stopping.fit_until`); the rule keeps why it stopped
        (``until.stopped``). Returns the whole training history either way.
        """
        options: dict[str, Any] = dict(
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            balanced=balanced,
            mixed_precision=mixed_precision,
            grow=grow,
            warmup_steps=warmup_steps,
            threads=threads,
        )
        if until is not None:
            fit_until(
                self, memory, until, budget=budget, max_steps=steps, progress=progress, **options
            )
            state = self.training_state
            if state is None:  # the budget ran out before the first step
                return {name: [] for name in ("step", *TERMS)}
            return {name: list(values) for name, values in state.history.items()}
        if steps is None:
            raise InvalidValueError(
                "fit needs steps=N, or until=a stopping rule (e.g. "
                "man_rl.evaluation.RecallTarget(memory)) to train until recall is good"
            )
        if budget is not None:
            raise InvalidValueError("budget= goes with until=; fit(steps=N) takes N steps")
        return fit(self, memory, steps, progress=progress, **options)

    def grow(
        self, keys: Iterable[Hashable], memory: ShortTermMemory | None = None
    ) -> list[Hashable]:
        """Add the ``keys`` the model does not know; see :func:`man_rl.ltm.growth.grow`."""
        return growth.grow(self, keys, memory=memory)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write weights, config, keys and training state to one checked file."""
        checkpoint.save_model(self, path)

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str]) -> M:
        """Load a checkpoint of this type onto the CPU (never unpickles).

        ``LongTermMemory.load`` reads any type; ``TypeA.load`` refuses a Type B checkpoint
        (and says which loader to use).
        """
        return checkpoint.load_model(path, expect=None if cls is LongTermMemory else cls)


__all__ = ["LongTermMemory", "frame_shape_of", "mean_frame"]
