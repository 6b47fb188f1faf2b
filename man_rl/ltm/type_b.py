"""Type B long-term memory: recognition and memorisation in one VAE (the paper's section 3.3).

No condition at the encoder: ``h = E(x)``; ``mu, log_var = enc(h)``; ``z = mu + std * eps``;
``h_hat = dec_long(z)``; ``x_hat = D(h_hat)``. The prior of state ``i`` is
``N(lam * c'_i, I)``, with ``c'_i`` the one-hot of ``i`` zero-padded to the latent size, so
each state owns a Gaussian of its own. Loss = reconstruction +
KL(N(mu, var) || N(lam c'_i, I)) + ``lambda_root`` * ||h - h_hat||^2 +
``lambda_association`` * reconstruction(x, D(h)), as in Type A, + ``lambda_recognition`` *
``-log p(i | mu)``. The KL is in closed form; its one-hot dimensions weigh
``class_kl_weight`` (1, as the paper; 10 recognises sooner at a fixed 600 steps, but met the
out-of-box targets later: Dynamic-Obstacles 86 s vs 72 s, Breakout 500 s vs 246 s;
REPRODUCTION.md), its zero padding ``kl_weight`` (1).

Recall of state ``i`` samples ``z ~ N(lam c'_i, I)`` and decodes it. Recognition encodes a
screen and answers the state whose prior mean is nearest to the encoding's mean, or ``None``
("unknown") when that mean lies outside every prior's 3-sigma ball (see :meth:`TypeB.recognize`
for the exact rule).

Where this departs from a plain reading of the paper, and why (each measured on MiniGrid):

- ``state_from_prior``: in training, the decoded ``z``'s one-hot part is drawn from the true
  state's prior, as recall draws it (the posterior gives the padding): decoding the
  posterior's stalled recall from the prior at ~2% on Empty-8x8's 142 states.
- ``state_readout``: dec_long reads the one-hot part as the state posterior
  ``softmax(lam z[:K])`` (:meth:`TypeB.decode_root`).
- ``simplex_mean`` (on with more states than ``hidden_dim``; a screen of another env then
  loses its "unknown"): the one-hot mean is ``lam * softmax``. A linear output of the
  ``hidden_dim``-wide layer has rank <= ``hidden_dim`` over the states: on Empty-16x16's 782
  states each screen's own coordinate stayed near ``6 * 128 / 782``, 5.7 from its prior
  mean, and none was recognised (0.966 with it). A model that grows past ``hidden_dim``
  switches then: grown from 85 to 142 Empty-8x8 states, 0.779 of held-out screens were
  recognised with the linear mean kept, 1.000 with the switch (as a model built on all 142).
- the recognition term: the cross-entropy of that posterior at the encoding's mean (the
  KL's squared pull alone learns many states slowly); it vanishes at the prior mean.
- ``root_reduction`` and ``reparameterization`` as in Type A; :meth:`TypeB.paper` is eq. 14
  and nothing else (every switch above off; :mod:`man_rl.ltm.presets`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from man_rl.errors import InvalidValueError
from man_rl.ltm import recognition
from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.checkpoint import register_model_type
from man_rl.ltm.common import ModelOutput, check_non_negative
from man_rl.ltm.config import ModelConfig
from man_rl.ltm.growth import (
    Resize,
    Start,
    bank_rows,
    built_latent_dim,
    insert,
    keep_places,
    latent_noise,
    state_columns,
)
from man_rl.ltm.losses import gaussian_kl, reparameterize
from man_rl.ltm.recognition import DEFAULT_RADIUS

#: Latent dimensions added after the one-hot part by default (the paper's zero padding).
DEFAULT_PADDING = 16
#: The paper's lambda: two unit-variance priors 6 apart meet at 3 sigma.
DEFAULT_LAM = 6.0
#: Weight of the KL over the latent's one-hot part (see :mod:`man_rl.ltm.type_b`).
DEFAULT_CLASS_KL_WEIGHT = 1.0


@dataclass(frozen=True)
class TypeBConfig(ModelConfig):
    """Everything that defines a Type B model besides its keys (saved in checkpoints).

    The fields of :class:`ModelConfig`, with ``latent_dim`` ``None`` by default (the model
    makes it ``len(keys) + 16``; it must be >= ``len(keys)``) and ``kl_weight`` over the zero
    padding only, and:

    Args:
        lambda_recognition: weight of ``-log p(state | mu)``, the recognition term (0 turns
            it off).
        class_kl_weight: weight of the KL over the one-hot part (1; 10: see
            :mod:`man_rl.ltm.type_b`).
        lam: distance of each prior mean from the origin (the paper's lambda; below 6 the
            priors overlap within 3 sigma: a warning).
        state_readout: the long-term decoder reads ``z``'s one-hot part as the state posterior
            ``softmax(lam z[:K])`` (see :meth:`~man_rl.ltm.type_b.TypeB.decode_root`).
        state_from_prior: in training, decode the one-hot part of ``z`` drawn from the true
            state's prior (as recall does), not from the encoder's posterior; the posterior
            still gives the zero padding, and the KL and recognition terms still train the
            encoder's one-hot part (see :mod:`man_rl.ltm.type_b`).
        simplex_mean: the encoder's one-hot mean is ``lam * softmax`` of its output (``None``:
            on while the model knows more states than ``hidden_dim``, so a model that grows
            past it switches then; :attr:`~man_rl.ltm.type_b.TypeB.uses_simplex_mean`).

    Example:
        >>> TypeBConfig(frame_shape=(8, 8), latent_dim=18).lam
        6.0
    """

    latent_dim: int | None = None
    lambda_recognition: float = 1.0
    class_kl_weight: float = DEFAULT_CLASS_KL_WEIGHT
    lam: float = DEFAULT_LAM
    state_readout: bool = True
    state_from_prior: bool = True
    simplex_mean: bool | None = None

    legacy: ClassVar[dict[str, Any]] = {**ModelConfig.legacy, "simplex_mean": False}
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {
            **ModelConfig.presets["paper"],
            "lambda_recognition": 0.0,
            "class_kl_weight": 1.0,
            "lam": DEFAULT_LAM,
            "state_readout": False,
            "state_from_prior": False,
            "simplex_mean": False,
        },
        "recommended": {
            **ModelConfig.presets["recommended"],
            "lambda_recognition": 1.0,
            "class_kl_weight": DEFAULT_CLASS_KL_WEIGHT,
            "lam": DEFAULT_LAM,
            "state_readout": True,
            "state_from_prior": True,
            "simplex_mean": None,
        },
    }
    switches: ClassVar[dict[str, str]] = {
        **ModelConfig.switches,
        "lambda_recognition": "0 (paper) | 1: cross-entropy of the state posterior "
        "softmax(lam mu[:K]) at the encoding's mean (Type B)",
        "class_kl_weight": "1 (paper and default) | 10: the KL over the latent's one-hot part "
        "weighs 10x, pulling encodings onto their prior means faster (recognised sooner at 600 "
        "steps, but met the out-of-box targets later: 86 vs 72 s, 500 vs 246 s) (Type B)",
        "lam": "6 (both presets: the paper's lambda-hot prior means) | 3: prior means closer than "
        "the N(0, I) noise around them, so states overlap (Type B)",
        "state_readout": "False (paper: dec_long reads z as it is) | True: dec_long reads z's "
        "one-hot part as the state posterior softmax(lam z[:K]) (Type B)",
        "state_from_prior": "False (paper: decode the posterior's z) | True: in training, decode "
        "z's one-hot part drawn from the true state's prior, as recall draws it (Type B)",
        "simplex_mean": "False (paper: the encoder's mean as it is) | True: its one-hot part is "
        "lam * softmax of it, in the hull of the prior means, which a free linear output cannot "
        "reach with more states than hidden_dim | None (default): True where there are more, so "
        "that screens of other envs stay 'unknown' where the linear mean can work (Type B)",
    }
    tried: ClassVar[dict[str, Any]] = {**ModelConfig.tried, "class_kl_weight": 10.0, "lam": 3.0}
    #: ``prototype_readout`` and the recall term are retired: no benchmark, notebook or row
    #: used them (issue 22).
    retired: ClassVar[dict[str, Any]] = {**ModelConfig.retired, "prototype_readout": False}

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lambda_recognition", "class_kl_weight"):
            self._set(name, check_non_negative(name, getattr(self, name)))
        self._set("lam", check_non_negative("lam", self.lam))
        if self.lam == 0:
            raise InvalidValueError("lam must be > 0, got 0: every state would share one prior")
        for name in ("state_readout", "state_from_prior"):
            self._set_flag(name)
        if self.simplex_mean is not None:
            self._set_flag("simplex_mean")


TypeBOutput = ModelOutput  # what forward returns


@register_model_type
class TypeB(LongTermMemory):
    """Type B long-term memory: recalls screens of a state and recognises a screen's state.

    Each state ``i`` owns the prior ``N(lam * c'_i, I)``. :meth:`recall` samples it and
    decodes; :meth:`recognize` encodes screens and returns their states, or ``None`` for a
    screen unlike any state it learnt.

    Args:
        keys: the state keys (at least two; their order gives the class indices).
        frame_shape: ``(H, W)`` or ``(H, W, C)``.
        config: the settings (:class:`~man_rl.ltm.config.TypeBConfig`; default: its
            defaults); :meth:`paper` and :meth:`preset` name every switch.
        overrides: any config field, e.g. ``latent_dim=40`` (``None``, the default:
            ``len(keys) + 16``; it must be >= ``len(keys)``), ``lam`` (the prior means'
            distance from the origin, 6 by default) or ``seed=0`` (``None``: fresh entropy,
            recorded in ``config``).

    Example:
        >>> import numpy as np
        >>> from man_rl import ShortTermMemory, TypeB
        >>> stm = ShortTermMemory(capacity=4)
        >>> for key, value in [("dark", 0), ("light", 255)]:
        ...     stm.add(key, np.full((6, 5), value, dtype=np.uint8))
        >>> model = TypeB.for_memory(stm, seed=0)
        >>> history = model.fit(stm, steps=60, lr=0.01, seed=0, progress=False)
        >>> model.recognize(np.stack([stm.queue("light")[0], stm.queue("dark")[0]]))
        ['light', 'dark']
        >>> bool(model.recall("light", n=2, seed=0).mean() > 200)
        True
    """

    kind = "B"
    can_grow = True
    config_class = TypeBConfig
    recognizes = True

    def fill_from_keys(
        self, config: ModelConfig | None, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """``latent_dim`` ``None`` (the default) is the number of states + the padding."""
        num_keys = len(self.key_index)
        if num_keys < 2:
            raise InvalidValueError(
                f"Type B needs at least two states to tell apart, got {num_keys} "
                f"({self.key_index.keys!r}); collect more states or use TypeA"
            )
        if overrides.get("latent_dim", getattr(config, "latent_dim", None)) is None:
            overrides = {**overrides, "latent_dim": num_keys + DEFAULT_PADDING}
        return overrides

    def build(self) -> None:
        """The networks: ``enc_long`` reads ``h``, ``dec_long`` ``z`` (no condition)."""
        num_keys, cfg = len(self.key_index), self.config
        if cfg.latent_dim < num_keys:
            raise InvalidValueError(
                f"latent_dim must be >= the number of states ({num_keys}): each state's prior "
                f"mean is its one-hot vector zero-padded to latent_dim, got latent_dim="
                f"{cfg.latent_dim}; leave latent_dim=None for {num_keys} + {DEFAULT_PADDING}"
            )
        if cfg.lam < DEFAULT_LAM:
            warnings.warn(
                f"lam={cfg.lam} < {DEFAULT_LAM}: the states' priors overlap within 3 sigma, so "
                "recall can mix states and recognition is less certain",
                UserWarning,
                stacklevel=3,
            )
        # with the readout, the one-hot part reaches dec_long as the posterior (K values)
        self.make_networks(cfg.root_dim, cfg.latent_dim, cfg.latent_dim - num_keys)
        self.register_buffer("kl_weights", self._kl_weights(torch.device("cpu")), persistent=False)

    def _kl_weights(self, device: torch.device) -> torch.Tensor:
        """The KL's weight per latent dimension: ``class_kl_weight`` on the one-hot part."""
        weights = torch.full((self.config.latent_dim,), self.config.kl_weight, device=device)
        weights[: len(self.key_index)] = self.config.class_kl_weight
        return weights

    # ------------------------------------------------------------------ the model
    def prior_means(self, labels: torch.Tensor) -> torch.Tensor:
        """``lam * c'_i`` of each label: ``[B, latent_dim]``, made on the fly.

        (A table of every state's mean would be ``K x (K + padding)``: it is never built, so
        memory and time stay linear in the number of states.)
        """
        means = torch.zeros(len(labels), self.config.latent_dim, device=labels.device)
        return means.scatter_(1, labels[:, None], self.config.lam)

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(h, mu, log_var)`` of float frames ``[B, C, H, W]``."""
        root = self.encoder(frames)
        mu, log_var = self.enc_long(root).chunk(2, dim=1)
        return root, self.onto_simplex(mu), log_var

    @property
    def uses_simplex_mean(self) -> bool:
        """Whether the one-hot mean is ``lam * softmax`` (see ``simplex_mean``).

        ``simplex_mean=None`` (the default): while the model knows more states than
        ``hidden_dim``, so a model that grows past it switches then.
        """
        cfg = self.config
        return (
            len(self.key_index) > cfg.hidden_dim if cfg.simplex_mean is None else cfg.simplex_mean
        )

    def onto_simplex(self, mu: torch.Tensor) -> torch.Tensor:
        """With :attr:`uses_simplex_mean`, ``mu``'s one-hot part as ``lam * softmax`` of it."""
        if not self.uses_simplex_mean:
            return mu
        k = len(self.key_index)
        return torch.cat([self.config.lam * torch.softmax(mu[:, :k], dim=1), mu[:, k:]], dim=1)

    def forward(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> TypeBOutput:
        """Encode and reconstruct ``frames`` (float ``[B, C, H, W]``) of states ``labels``.

        With ``state_from_prior`` the one-hot part of the ``z`` that is decoded is drawn from
        the true state's prior, as recall draws it; the encoder's posterior gives the rest.
        """
        root, mu, log_var = self.encode(frames)
        z = reparameterize(mu, log_var, generator, self.config.reparameterization)
        if self.config.state_from_prior:
            k = len(self.key_index)
            means = self.prior_means(labels)[:, :k]
            noise = torch.randn(means.shape, generator=generator, device=means.device)
            z = torch.cat([means + noise, z[:, k:]], dim=1)
        return self.decode_screens(root, self.decode_root(z), mu, log_var)

    def type_terms(self, out: TypeBOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The KL to each frame's state prior, and the recognition term."""
        kl = gaussian_kl(out.mu, out.log_var, self.prior_means(labels), self.kl_weights)
        cross_entropy = F.cross_entropy(self.state_logits(out.mu), labels)
        return {"kl": kl, "recognition": self.config.lambda_recognition * cross_entropy}

    def bank_code(self, mu: torch.Tensor) -> torch.Tensor:
        """The zero padding of ``mu`` (the one-hot part is the state's)."""
        return mu[:, len(self.key_index) :]

    def growth_changes(self, start: Start) -> list[Resize]:
        """A prior dimension per new state, after the known states' (:mod:`.growth`).

        Its ``mu`` / ``log_var`` rows start at 0 (the prior's), so old frames' KL and
        recognition stay; dec_long gets an input column (the look-alike state's with the
        state readout, 0 reading raw ``z``, whose new coordinate is noise).
        """
        cfg = self.config
        k, n, latent = len(self.key_index), len(start.sources), cfg.latent_dim
        last = self.enc_long[-1]  # rows: mu (latent), then log_var (latent)
        keep = torch.cat([keep_places(latent, k, n), keep_places(latent, k, n) + latent + n])
        changes = []
        for name in ("weight", "bias"):
            old = getattr(last, name).detach()
            fill = old.new_zeros((n, *old.shape[1:]))
            mu, log_var = old[:latent], old[latent:]
            value = torch.cat([insert(mu, 0, k, fill), insert(log_var, 0, k, fill)])
            changes.append(Resize(last, name, value, 0, keep))
        changes += state_columns(self.dec_long[0], k, start, copy=cfg.state_readout)
        return changes + bank_rows(self, n)

    def after_growth(self, old_count: int) -> None:
        """One latent dimension and one KL weight more per state added."""
        added = len(self.key_index) - old_count
        cfg = self.config = replace(self.config, latent_dim=self.config.latent_dim + added)
        self.kl_weights = self._kl_weights(self.kl_weights.device)
        if cfg.simplex_mean is False and old_count <= cfg.hidden_dim < len(self.key_index):
            warnings.warn(
                f"this Type B model now has {len(self.key_index)} states, more than its "
                f"hidden_dim={cfg.hidden_dim}: with simplex_mean=False its encodings cannot "
                "reach every prior mean, so recognize() will answer None for many screens; "
                "leave simplex_mean=None (the default: on past hidden_dim) or set it True",
                UserWarning,
                stacklevel=3,
            )

    def state_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``lam * z[:, :K]``: the log-posterior over states of ``z``, up to a constant.

        Under the priors ``N(lam c'_i, I)`` with equal weights,
        ``-||z - lam c'_i||^2 / 2 = const + lam z_i``.
        """
        return self.config.lam * z[:, : len(self.key_index)]

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Screens (float ``[B, C, H, W]`` in ``[0, 1]``) of states ``labels``, z ~ their prior."""
        n, device = len(labels), labels.device
        # the bank's slots first: latent_noise draws more numbers once the model has grown
        uniform = None if self.bank is None else torch.rand(n, generator=generator, device=device)
        z = self.prior_means(labels) + latent_noise(self, n, generator, device)
        if uniform is not None:  # the padding from the state's banked codes
            k = len(self.key_index)
            z = torch.cat([z[:, :k], self.bank.draw(labels, z[:, k:], uniform)], dim=1)
        return torch.sigmoid(self.decoder(self.decode_root(z)))

    def decode_root(self, z: torch.Tensor) -> torch.Tensor:
        """``h_hat = dec_long(z)``, reading ``z``'s one-hot part as the state posterior.

        The posterior over states of ``z`` under the priors ``N(lam c'_i, I)`` (equal weights)
        is ``softmax(lam * z[:K])``. With ``state_readout`` (the default) dec_long gets it,
        scaled like Type A's condition to the norm of the noise, in place of ``z[:K]``, and the
        zero padding ``z[K:]`` as it is: the one-hot part says which state, the padding the
        detail within it. The decoder then needs no learning to see through the prior's unit
        noise on ``K`` dimensions.
        """
        k = len(self.key_index)
        if self.config.state_readout:
            posterior = torch.softmax(self.state_logits(z), dim=1)
            z = torch.cat([posterior * math.sqrt(built_latent_dim(self)), z[:, k:]], dim=1)
        return self.dec_long(z)

    # ------------------------------------------------------------------ public use
    def prior_distances(self, frames: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Distance of each frame's encoding mean to each state's prior mean: ``[N, K]``.

        See :func:`man_rl.ltm.recognition.prior_distances`.
        """
        return recognition.prior_distances(self, frames, batch_size)

    def recognize(
        self, frames: np.ndarray, *, radius: float = DEFAULT_RADIUS
    ) -> list[Hashable | None]:
        """The state key of each frame, or ``None`` ("unknown") for a screen of no known state.

        ``frames``: uint8 ``[N, *frame_shape]`` (or a single frame, giving a list of one).
        The nearest prior mean's state, ``None`` outside every prior's ``radius`` (3-sigma)
        ball; see :func:`man_rl.ltm.recognition.recognize`.
        """
        return recognition.recognize(self, frames, radius=radius)


__all__ = ["DEFAULT_LAM", "DEFAULT_RADIUS", "TypeB", "TypeBConfig", "TypeBOutput"]
