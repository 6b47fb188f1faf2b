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
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.nn import functional as F

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.checkpoint import register_model_type
from man_rl.ltm.common import ModelOutput, check_choice
from man_rl.ltm.config import ModelConfig
from man_rl.ltm.growth import Resize, Start, bank_rows, state_columns
from man_rl.ltm.losses import gaussian_kl, reparameterize

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
    switches: ClassVar[dict[str, str]] = {
        **ModelConfig.switches,
        "condition_scale": "'unit' (paper: the one-hot c_i) | 'sqrt_latent': c_i times "
        "sqrt(latent_dim), the norm of z ~ N(0, I) beside it (Type A)",
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
        keys, frame_shape: the states' keys and the frames' ``(H, W)`` or ``(H, W, C)``
            (:class:`~man_rl.ltm.base.LongTermMemory`).
        config: a :class:`~man_rl.ltm.type_a.TypeAConfig` (default: its defaults);
            :meth:`paper` and :meth:`preset` name every switch.
        overrides: any config field, e.g. ``latent_dim=8`` or ``seed=0`` (``seed=None``, the
            default: fresh entropy, recorded in ``config``).

    Example:
        >>> import numpy as np
        >>> from man_rl import ShortTermMemory, TypeA
        >>> stm = ShortTermMemory(capacity=4)
        >>> stm.add("dark", np.zeros((6, 5), dtype=np.uint8))
        >>> stm.add("light", np.full((6, 5), 255, dtype=np.uint8))
        >>> model = TypeA.for_memory(stm, seed=0)
        >>> _ = model.fit(stm, steps=60, lr=0.01, seed=0, progress=False)
        >>> screens = model.recall("light", n=2, seed=0)
        >>> screens.shape, bool(screens.mean() > 200)
        ((2, 6, 5), True)
    """

    kind = "A"
    can_grow = True
    config_class = TypeAConfig

    def build(self) -> None:
        """The networks: ``enc_long`` reads ``[c_i, h]``, ``dec_long`` ``[c_i, z]``."""
        k, cfg = len(self.key_index), self.config
        self.make_networks(k + cfg.root_dim, k + cfg.latent_dim, cfg.latent_dim)

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
        return self.decode_screens(root, root_hat, mu, log_var)

    def type_terms(self, out: TypeAOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The KL to ``N(0, I)``."""
        return {"kl": self.config.kl_weight * gaussian_kl(out.mu, out.log_var)}

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
