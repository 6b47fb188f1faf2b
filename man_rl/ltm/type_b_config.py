"""Type B's configuration: every setting that defines a model besides its keys.

Example:
    >>> TypeBConfig(frame_shape=(8, 8), latent_dim=18).lam
    6.0
"""

from __future__ import annotations

from dataclasses import dataclass

from man_rl.ltm.bank import DEFAULT_CODE_BANK
from man_rl.ltm.losses import DEFAULT_HARD_PIXELS

#: Latent dimensions added after the one-hot part by default (the paper's zero padding).
DEFAULT_PADDING = 16
#: The paper's lambda: two unit-variance priors 6 apart meet at 3 sigma.
DEFAULT_LAM = 6.0
#: Weight of the KL over the latent's one-hot part (see the module docstring).
DEFAULT_CLASS_KL_WEIGHT = 1.0


@dataclass(frozen=True)
class TypeBConfig:
    """Everything that defines a Type B model besides its keys (saved in checkpoints).

    Args:
        frame_shape: ``(H, W)`` or ``(H, W, C)`` of the frames.
        root_dim: size of the root vector ``h``.
        latent_dim: size of ``z`` (>= number of states; the rest is the zero padding).
        hidden_dim: width of the long-term encoder and decoder.
        channels: conv channels per layer (``None``: sized from the frame).
        stem: the first conv layer's stride, 2 or 4 (``None``: 4 on frames of
            :data:`~man_rl.ltm.networks.LARGE_FRAME` pixels or more; see
            :class:`~man_rl.ltm.networks.ConvPlan`).
        lambda_root: weight of ``||h - h_hat||^2`` (0 turns the term off).
        lambda_association: weight of the reconstruction from ``h`` itself (0 turns it off).
        lambda_recognition: weight of ``-log p(state | mu)`` (0 turns it off).
        kl_weight: weight of the KL over the zero-padding dimensions (1 is the plain VAE).
        class_kl_weight: weight of the KL over the one-hot part (1; 10: see the module doc).
        lam: distance of each prior mean from the origin (the paper's lambda).
        state_readout: the long-term decoder reads ``z``'s one-hot part as the state posterior
            ``softmax(lam z[:K])`` (see :meth:`TypeB.decode_root`).
        state_from_prior: in training, decode the one-hot part of ``z`` drawn from the true
            state's prior (as recall does), not from the encoder's posterior; the posterior
            still gives the zero padding, and the KL and recognition terms still train the
            encoder's one-hot part (see the module docstring).
        simplex_mean: the encoder's one-hot mean is ``lam * softmax`` of its output (``None``:
            when states outnumber ``hidden_dim``; see the module doc).
        prototype_readout: the long-term decoder reads, instead of the K-wide state part
            of ``z``, the posterior-weighted mean of the states' prototype root vectors
            (running means of ``E(x)``, no gradient), so its first layer is as wide as the
            root vector whatever the number of states.
        prototype_rate: how far a batch moves a prototype toward its frames' mean encoding.
        lambda_recall: weight of the recall term, the recognition head's cross-entropy on
            screens decoded from the prior of the batch's states, the head held fixed
            (:func:`~man_rl.ltm.losses.recall_loss`; 0 turns it off).
        root_reduction, reparameterization: as in :class:`~man_rl.ltm.type_a.TypeAConfig`.
        code_bank: posterior codes kept per state for recall's zero padding (0: drawn from
            the prior; default :data:`~man_rl.ltm.bank.DEFAULT_CODE_BANK`; see
            :class:`~man_rl.ltm.bank.CodeBank`); the one-hot part is always drawn from the
            state's prior.
        hard_pixels, hard_pixel_weight: as in :class:`~man_rl.ltm.type_a.TypeAConfig`.
        seed: seed of the initial weights.
    """

    frame_shape: tuple[int, ...]
    latent_dim: int
    root_dim: int = 64
    hidden_dim: int = 128
    channels: tuple[int, ...] | None = None
    stem: int | None = None
    lambda_root: float = 1.0
    lambda_association: float = 1.0
    lambda_recognition: float = 1.0
    kl_weight: float = 1.0
    class_kl_weight: float = DEFAULT_CLASS_KL_WEIGHT
    lam: float = DEFAULT_LAM
    state_readout: bool = True
    state_from_prior: bool = True
    simplex_mean: bool | None = None
    prototype_readout: bool = False
    prototype_rate: float = 0.3
    lambda_recall: float = 0.0
    root_reduction: str = "sum"
    reparameterization: str = "std"
    code_bank: int = DEFAULT_CODE_BANK
    hard_pixels: int = DEFAULT_HARD_PIXELS
    hard_pixel_weight: float = 10.0
    seed: int = 0


__all__ = ["DEFAULT_CLASS_KL_WEIGHT", "DEFAULT_LAM", "DEFAULT_PADDING", "TypeBConfig"]
