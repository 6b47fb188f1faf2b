"""Type B long-term memory: recognition and memorisation in one VAE (the paper's section 3.3).

No condition at the encoder: ``h = E(x)``; ``mu, log_var = enc(h)``; ``z = mu + std * eps``;
``h_hat = dec_long(z)``; ``x_hat = D(h_hat)``. The prior of state ``i`` is
``N(lam * c'_i, I)``, with ``c'_i`` the one-hot of ``i`` zero-padded to the latent size, so
each state owns a Gaussian of its own. Loss = reconstruction +
KL(N(mu, var) || N(lam c'_i, I)) + ``lambda_root`` * ||h - h_hat||^2 +
``lambda_association`` * reconstruction(x, D(h)), as in Type A, + ``lambda_recognition`` *
``-log p(i | mu)``. The KL is in closed form; its one-hot dimensions weigh
``class_kl_weight`` (1, as the paper: 10 recognised sooner but collapsed the recall of
varied screens to one picture per state, 0.07x as varied as the real ones on
Dynamic-Obstacles-5x5 against 0.78x), its zero padding ``kl_weight`` (1).

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
  mean, and none was recognised (0.966 with it).
- the recognition term: the cross-entropy of that posterior at the encoding's mean (the
  KL's squared pull alone learns many states slowly); it vanishes at the prior mean.
- ``root_reduction`` and ``reparameterization`` as in Type A; :meth:`TypeB.paper` is eq. 14
  and nothing else (every switch above off; :mod:`man_rl.ltm.presets`).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from man_rl.errors import InvalidValueError
from man_rl.ltm import recognition
from man_rl.ltm.bank import DEFAULT_CODE_BANK, CodeBank
from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.common import (
    KeyIndex,
    ModelOutput,
    check_count,
    check_non_negative,
    check_positive_int,
    check_seed,
    fresh_seed,
    make_generator,
    update_prototypes,
)
from man_rl.ltm.growth import prior_noise, readout_scale
from man_rl.ltm.losses import (
    DEFAULT_HARD_PIXELS,
    LEGACY_FORM,
    LEGACY_HARD_PIXELS,
    LossTerms,
    association_loss,
    decode_all,
    frozen,
    gaussian_kl,
    hard_pixel_form,
    loss_form,
    recall_loss,
    reconstruction_loss,
    reparameterize,
    root_loss,
)
from man_rl.ltm.networks import (
    LEGACY_STEM,
    ConvPlan,
    Decoder,
    Encoder,
    init_weights,
    mlp,
)
from man_rl.ltm.recognition import DEFAULT_RADIUS
from man_rl.ltm.type_b_config import (
    DEFAULT_CLASS_KL_WEIGHT,
    DEFAULT_LAM,
    DEFAULT_PADDING,
    TypeBConfig,
)

TypeBOutput = ModelOutput  # what forward returns


class TypeB(LongTermMemory):
    """Type B long-term memory: recalls screens of a state and recognises a screen's state.

    Each state ``i`` owns the prior ``N(lam * c'_i, I)``. :meth:`recall` samples it and
    decodes; :meth:`recognize` encodes screens and returns their states, or ``None`` for a
    screen unlike any state it learnt.

    Args:
        keys: the state keys (at least two; their order gives the class indices).
        frame_shape: ``(H, W)`` or ``(H, W, C)``.
        latent_dim: size of ``z``; ``None`` gives ``len(keys) + 16``. Must be >= ``len(keys)``.
        lam: prior means' distance from the origin (default 6, the paper's 3-sigma argument;
            smaller values warn, as the priors then overlap).
        root_dim, hidden_dim, channels, lambda_root, lambda_association, lambda_recognition,
            kl_weight, class_kl_weight, state_readout and the other switches: see
            :class:`TypeBConfig`; :meth:`paper` and :meth:`preset` name them all.
        seed: seed of the initial weights (``None``: fresh entropy, recorded in ``config``).

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
    recognizes = True
    legacy_config: ClassVar[dict[str, Any]] = {
        "prototype_readout": False,
        "lambda_recall": 0.0,
        "code_bank": 0,
        "simplex_mean": False,
        **LEGACY_FORM,
        **LEGACY_HARD_PIXELS,
        **LEGACY_STEM,
    }

    def __init__(
        self,
        keys: Iterable[Hashable],
        frame_shape: Sequence[int],
        *,
        latent_dim: int | None = None,
        root_dim: int = 64,
        hidden_dim: int = 128,
        channels: Sequence[int] | None = None,
        stem: int | None = None,
        lambda_root: float = 1.0,
        lambda_association: float = 1.0,
        lambda_recognition: float = 1.0,
        kl_weight: float = 1.0,
        class_kl_weight: float = DEFAULT_CLASS_KL_WEIGHT,
        lam: float = DEFAULT_LAM,
        state_readout: bool = True,
        state_from_prior: bool = True,
        simplex_mean: bool | None = None,
        prototype_readout: bool = False,
        prototype_rate: float = 0.3,
        lambda_recall: float = 0.0,
        root_reduction: str = "sum",
        reparameterization: str = "std",
        code_bank: int = DEFAULT_CODE_BANK,
        hard_pixels: int = DEFAULT_HARD_PIXELS,
        hard_pixel_weight: float = 10.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.key_index = KeyIndex(keys)
        num_keys = len(self.key_index)
        if num_keys < 2:
            raise InvalidValueError(
                f"Type B needs at least two states to tell apart, got {num_keys} "
                f"({self.key_index.keys!r}); collect more states or use TypeA"
            )
        if latent_dim is None:
            latent_dim = num_keys + DEFAULT_PADDING
        latent_dim = check_positive_int("latent_dim", latent_dim)
        if latent_dim < num_keys:
            raise InvalidValueError(
                f"latent_dim must be >= the number of states ({num_keys}): each state's prior "
                f"mean is its one-hot vector zero-padded to latent_dim, got latent_dim="
                f"{latent_dim}; leave latent_dim=None for {num_keys} + {DEFAULT_PADDING}"
            )
        lam = check_non_negative("lam", lam)
        if lam == 0:
            raise InvalidValueError("lam must be > 0, got 0: every state would share one prior")
        if lam < DEFAULT_LAM:
            warnings.warn(
                f"lam={lam} < {DEFAULT_LAM}: the states' priors overlap within 3 sigma, so "
                "recall can mix states and recognition is less certain",
                UserWarning,
                stacklevel=2,
            )
        plan = ConvPlan.for_frame(frame_shape, channels, stem)
        self.config = TypeBConfig(
            frame_shape=plan.frame_shape,
            latent_dim=latent_dim,
            root_dim=check_positive_int("root_dim", root_dim),
            hidden_dim=check_positive_int("hidden_dim", hidden_dim),
            channels=plan.channels,
            stem=plan.stem,
            lambda_root=check_non_negative("lambda_root", lambda_root),
            lambda_association=check_non_negative("lambda_association", lambda_association),
            lambda_recognition=check_non_negative("lambda_recognition", lambda_recognition),
            kl_weight=check_non_negative("kl_weight", kl_weight),
            class_kl_weight=check_non_negative("class_kl_weight", class_kl_weight),
            lam=lam,
            state_readout=bool(state_readout),
            state_from_prior=bool(state_from_prior),
            simplex_mean=num_keys > hidden_dim if simplex_mean is None else bool(simplex_mean),
            prototype_readout=bool(prototype_readout),
            prototype_rate=check_non_negative("prototype_rate", prototype_rate),
            lambda_recall=check_non_negative("lambda_recall", lambda_recall),
            **loss_form(root_reduction, reparameterization),
            code_bank=check_count("code_bank", code_bank),
            **hard_pixel_form(hard_pixels, hard_pixel_weight),
            seed=fresh_seed() if seed is None else check_seed(seed),
        )
        cfg = self.config
        # torch's layers draw their first weights from the global RNG; keep it untouched
        # and draw the weights from the model's own seed below.
        with torch.random.fork_rng(devices=[]):
            self.encoder = Encoder(plan, cfg.root_dim)
            self.enc_long = mlp([cfg.root_dim, cfg.hidden_dim, 2 * cfg.latent_dim])
            # with the readout, the one-hot part reaches dec_long as the posterior (K values)
            readout = cfg.root_dim if cfg.prototype_readout else num_keys
            self.dec_long = mlp([readout + cfg.latent_dim - num_keys, cfg.hidden_dim, cfg.root_dim])
            self.decoder = Decoder(plan, cfg.root_dim)
        if cfg.prototype_readout:
            self.register_buffer("prototypes", torch.zeros(num_keys, cfg.root_dim))
            self.register_buffer("prototype_seen", torch.zeros(num_keys))
        padding = cfg.latent_dim - num_keys
        self.bank = CodeBank(num_keys, cfg.code_bank, padding) if cfg.code_bank else None
        weights = torch.full((cfg.latent_dim,), cfg.kl_weight)
        weights[:num_keys] = cfg.class_kl_weight
        self.register_buffer("kl_weights", weights, persistent=False)
        init_weights(self, make_generator(torch.device("cpu"), cfg.seed))
        self.training_state: Any = None  # set by man_rl.ltm.training.fit

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

    def onto_simplex(self, mu: torch.Tensor) -> torch.Tensor:
        """With ``simplex_mean``, ``mu``'s one-hot part as ``lam * softmax`` of it (module doc)."""
        if not self.config.simplex_mean:
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
        root_hat = self.decode_root(z)
        recalled = None
        if self.config.lambda_recall > 0:
            means = self.prior_means(labels)
            prior = means + torch.randn(means.shape, generator=generator, device=means.device)
            recalled = self.decode_root(prior)
        association = root if self.config.lambda_association > 0 else None
        logits, association_logits, recalled_logits = decode_all(
            self.decoder, [root_hat, association, recalled]
        )
        return TypeBOutput(logits, association_logits, root, root_hat, mu, log_var, recalled_logits)

    def loss(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> LossTerms:
        """The training loss of a batch and its named terms (KL to each frame's state prior)."""
        out = self(frames, labels, generator)
        if self.config.prototype_readout:
            rate = self.config.prototype_rate
            update_prototypes(self.prototypes, self.prototype_seen, out.root, labels, rate)
        if self.bank is not None and self.training:
            self.bank.write(labels, out.mu.detach()[:, len(self.key_index) :])
        hard = (self.config.hard_pixels, self.config.hard_pixel_weight)
        reconstruction = reconstruction_loss(out.logits, frames, *hard)
        kl = gaussian_kl(out.mu, out.log_var, self.prior_means(labels), self.kl_weights)
        cfg = self.config
        root = root_loss(out.root, out.root_hat, cfg.lambda_root, cfg.root_reduction)
        association = association_loss(
            out.association_logits, frames, self.config.lambda_association, *hard
        )
        recognition = self.config.lambda_recognition * F.cross_entropy(
            self.state_logits(out.mu), labels
        )
        recall = out.root.new_zeros(())
        if out.recalled_logits is not None:  # recalled screens must be recognised (frozen E)
            seen = frozen(self.encoder, torch.sigmoid(out.recalled_logits))
            mu = self.onto_simplex(frozen(self.enc_long, seen).chunk(2, dim=1)[0])
            recall = recall_loss(self.state_logits(mu), labels, self.config.lambda_recall)
        total = reconstruction + kl + root + association + recognition + recall
        return LossTerms(total, reconstruction, kl, root, association, recognition, recall)

    def state_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``lam * z[:, :K]``: the log-posterior over states of ``z``, up to a constant.

        Under the priors ``N(lam c'_i, I)`` with equal weights,
        ``-||z - lam c'_i||^2 / 2 = const + lam z_i``.
        """
        return self.config.lam * z[:, : len(self.key_index)]

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Screens (float ``[B, C, H, W]`` in ``[0, 1]``) of states ``labels``, z ~ their prior."""
        n, device = len(labels), labels.device
        # the bank's slots first: prior_noise draws more numbers once the model has grown
        uniform = None if self.bank is None else torch.rand(n, generator=generator, device=device)
        z = self.prior_means(labels) + prior_noise(self, n, generator, device)
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
        if self.config.prototype_readout:
            posterior = torch.softmax(self.state_logits(z), dim=1)
            # a copy: the batch moves the prototypes in place before the backward pass
            z = torch.cat([posterior @ self.prototypes.clone(), z[:, k:]], dim=1)
        elif self.config.state_readout:
            posterior = torch.softmax(self.state_logits(z), dim=1)
            z = torch.cat([posterior * readout_scale(self), z[:, k:]], dim=1)
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
