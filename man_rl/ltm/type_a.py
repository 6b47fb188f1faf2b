"""Type A long-term memory: a conditional VAE on the root vector (the paper's section 3.2).

``h = E(x)``; ``mu, log_var = enc_long([c_i, h])``; ``z = mu + exp(log_var / 2) * eps``;
``h_hat = dec_long([c_i, z])``; ``x_hat = D(h_hat)``. Loss = reconstruction(x, x_hat) +
``kl_weight`` * KL(N(mu, var) || N(0, I)) + ``lambda_root`` * ||h - h_hat||^2 +
``lambda_association`` * reconstruction(x, D(h)). Recall of state ``i`` draws
``z ~ N(0, I)`` and decodes ``D(dec_long([c_i, z]))``.

The last term trains E and D as the paper's association autoencoder (its DFC/DFD), so that
``h`` is a root vector worth regenerating; without it the model recalled only the average
screen of a state whose screens vary (see :func:`man_rl.ltm.common.association_loss`).

The paper's eq. 4 writes ``z = mu + std**2 * eps``; we use the standard reparameterisation
``z = mu + std * eps``, whose variance is the ``var`` the KL term assumes
(``reparameterization="variance"`` is eq. 4 as printed). Every departure from eq. 9 is a
switch of :class:`TypeAConfig`; :meth:`TypeA.paper` turns them all off
(:mod:`man_rl.ltm.presets`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.nn import functional as F

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm.bank import CodeBank
from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.checkpoint import register_model_type
from man_rl.ltm.common import (
    KeyIndex,
    ModelOutput,
    check_choice,
    make_generator,
)
from man_rl.ltm.config import ModelConfig
from man_rl.ltm.growth import Resize, Start, bank_rows, state_columns
from man_rl.ltm.losses import (
    LossTerms,
    autoencoder_terms,
    decode_all,
    gaussian_kl,
    reparameterize,
)
from man_rl.ltm.networks import Decoder, Encoder, init_weights, mlp

CONDITION_SCALES = ("sqrt_latent", "unit")


@dataclass(frozen=True)
class TypeAConfig(ModelConfig):
    """Everything that defines a Type A model besides its keys (saved in checkpoints).

    The fields of :class:`ModelConfig`, and:

    Args:
        condition_scale: ``"sqrt_latent"``: the one-hot ``c_i`` times ``sqrt(latent_dim)``
            (:meth:`~man_rl.ltm.type_a.TypeA.condition`); ``"unit"``: the plain one-hot of
            eq. 3 and 5.
    """

    condition_scale: str = "sqrt_latent"

    legacy: ClassVar[dict[str, Any]] = {**ModelConfig.legacy, "condition_scale": "sqrt_latent"}
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {**ModelConfig.presets["paper"], "condition_scale": "unit"},
        "recommended": {**ModelConfig.presets["recommended"], "condition_scale": "sqrt_latent"},
    }
    #: ``condition="prototype"`` and the state head (``lambda_recognition``, the recall term)
    #: are retired: no benchmark, notebook or row used them (issue 22).
    retired: ClassVar[dict[str, Any]] = {
        **ModelConfig.retired,
        "condition": "one_hot",
        "lambda_recognition": 0.0,
    }

    def __post_init__(self) -> None:
        if self.latent_dim is None:
            raise InvalidValueError("Type A's latent_dim must be an int >= 1, got None")
        super().__post_init__()
        check_choice("condition_scale", self.condition_scale, CONDITION_SCALES)


TypeAOutput = ModelOutput  # what forward returns


@register_model_type
class TypeA(LongTermMemory):
    """Type A long-term memory: recalls screens of a state with a conditional VAE.

    Build it from a memory with :meth:`for_memory`, train it with :meth:`fit`, and draw
    screens of a state with :meth:`recall`. Every size comes from the memory's frame shape
    (any ``H x W``, grey or colour) and key list.

    Args:
        keys: the state keys (their order gives the class indices).
        frame_shape: ``(H, W)`` or ``(H, W, C)``.
        config: the settings (:class:`~man_rl.ltm.config.TypeAConfig`; default: its
            defaults); :meth:`paper` and :meth:`preset` name every switch.
        overrides: any config field, e.g. ``latent_dim=8`` or ``seed=0`` (``seed=None``, the
            default: fresh entropy, recorded in ``config``).

    Example:
        >>> import numpy as np
        >>> from man_rl import ShortTermMemory, TypeA
        >>> stm = ShortTermMemory(capacity=4)
        >>> for key, value in [("dark", 0), ("light", 255)]:
        ...     stm.add(key, np.full((6, 5), value, dtype=np.uint8))
        >>> model = TypeA.for_memory(stm, seed=0)
        >>> history = model.fit(stm, steps=60, lr=0.01, seed=0, progress=False)
        >>> bool(model.recall("light", n=2, seed=0).mean() > 200)
        True
        >>> model.recall("dark", n=1, seed=0).shape
        (1, 6, 5)
    """

    kind = "A"
    can_grow = True
    config_class = TypeAConfig

    def __init__(
        self,
        keys: Iterable[Hashable],
        frame_shape: Sequence[int],
        config: TypeAConfig | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        self.key_index = KeyIndex(keys)
        self.config = TypeAConfig.build(frame_shape, config, **overrides)
        plan = self.config.plan
        num_keys = len(self.key_index)
        cfg = self.config
        # torch's layers draw their first weights from the global RNG; keep it untouched
        # and draw the weights from the model's own seed below.
        with torch.random.fork_rng(devices=[]):
            self.encoder = Encoder(plan, cfg.root_dim)
            self.enc_long = mlp([num_keys + cfg.root_dim, cfg.hidden_dim, 2 * cfg.latent_dim])
            self.dec_long = mlp([num_keys + cfg.latent_dim, cfg.hidden_dim, cfg.root_dim])
            self.decoder = Decoder(plan, cfg.root_dim)
        self.bank = CodeBank(num_keys, cfg.code_bank, cfg.latent_dim) if cfg.code_bank else None
        init_weights(self, make_generator(torch.device("cpu"), cfg.seed))
        self.training_state: Any = None  # set by man_rl.ltm.training.fit

    # ------------------------------------------------------------------ the model
    def condition(self, labels: torch.Tensor) -> torch.Tensor:
        """The state condition ``c_i``: the one-hot of ``labels`` times ``sqrt(latent_dim)``.

        Scaled so that it has the norm of a draw of ``z ~ N(0, I)`` beside it (a plain one-hot
        would start out drowned by the noise and take the networks longer to read); with
        ``condition_scale="unit"`` the plain one-hot of eqs. 3 and 5.
        """
        one_hot = F.one_hot(labels, len(self.key_index)).to(torch.float32)
        if self.config.condition_scale == "unit":
            return one_hot
        return one_hot * math.sqrt(self.config.latent_dim)

    def forward(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> TypeAOutput:
        """Encode and reconstruct ``frames`` (float ``[B, C, H, W]``) of states ``labels``."""
        cfg = self.config
        root = self.encoder(frames)
        condition = self.condition(labels)
        mu, log_var = self.enc_long(torch.cat([condition, root], dim=1)).chunk(2, dim=1)
        z = reparameterize(mu, log_var, generator, cfg.reparameterization)
        root_hat = self.dec_long(torch.cat([condition, z], dim=1))
        logits, association_logits = decode_all(
            self.decoder, [root_hat, root if cfg.lambda_association > 0 else None]
        )
        return TypeAOutput(logits, association_logits, root, root_hat, mu, log_var)

    def loss(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> LossTerms:
        """The training loss of a batch and its named terms."""
        out = self(frames, labels, generator)
        if self.bank is not None and self.training:
            self.bank.write(labels, out.mu.detach())
        terms = autoencoder_terms(out, frames, self.config)
        terms["kl"] = self.config.kl_weight * gaussian_kl(out.mu, out.log_var)
        return LossTerms.of(**terms)

    def growth_changes(self, start: Start) -> list[Resize]:
        """One condition column per new state in enc_long's and dec_long's first layers.

        Each starts as the look-alike known state's (:mod:`man_rl.ltm.growth`); an old
        state's one-hot is 0 there, so its outputs do not change.
        """
        k, n = len(self.key_index), len(start.sources)
        changes = state_columns(self.enc_long[0], k, start)
        changes += state_columns(self.dec_long[0], k, start)
        return changes + bank_rows(self, n)

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Screens (float ``[B, C, H, W]`` in ``[0, 1]``) of states ``labels``, z ~ N(0, I).

        With a code bank, ``z`` is one of the state's banked posterior means instead.
        """
        n, device = len(labels), labels.device
        uniform = None if self.bank is None else torch.rand(n, generator=generator, device=device)
        z = torch.randn((n, self.config.latent_dim), generator=generator, device=device)
        if uniform is not None:
            z = self.bank.draw(labels, z, uniform)
        root_hat = self.dec_long(torch.cat([self.condition(labels), z], dim=1))
        return torch.sigmoid(self.decoder(root_hat))

    def recognize(self, frames: Any, **options: Any) -> list[Hashable | None]:
        """Type A does not recognise screens: an :class:`InvalidTypeError` saying to use Type B.

        Its encoder is told the state; Type B's is not, and its prior per state says which
        state a screen shows (:meth:`man_rl.ltm.TypeB.recognize`).
        """
        raise InvalidTypeError(
            "a Type A model does not recognise states: its encoder is given the state, so it "
            "cannot tell which state a screen shows. Train a Type B model to recognise them "
            "(TypeB.for_memory(memory), man-rl train --model B)"
        )


__all__ = ["TypeA", "TypeAConfig", "TypeAOutput"]
