"""The loss terms of the long-term memories, each named after the paper's equation it computes.

Both models' losses are sums of these terms (:class:`LossTerms` names them):

- :func:`reconstruction_loss`: the screen decoded from ``h_hat`` against the real one
  (eqs. 7, 9, 14: the reconstruction term);
- :func:`gaussian_kl`: ``KL(Q || P)`` with ``P = N(0, I)`` (eq. 9, Type A) or
  ``P = N(lam c'_i, I)`` (eqs. 13-14, Type B), in closed form;
- :func:`root_loss`: ``lambda * ||h - h_hat||^2``, or with ``reduction="mean"`` eq. 9's
  ``lambda MSE(h, h_hat)`` exactly;
- :func:`association_loss`: the screen decoded from ``h`` itself (man_rl's addition);
- :func:`reparameterize`: eq. 4's sample of ``z`` (``std * eps``; eq. 4's printed
  ``std**2 * eps`` with ``scale="variance"``).

Example:
    >>> import torch
    >>> mu, log_var = torch.zeros(2, 3), torch.zeros(2, 3)
    >>> float(gaussian_kl(mu, log_var)), float(gaussian_kl(mu, log_var, torch.ones(2, 3)))
    (0.0, 1.5)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


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

    @classmethod
    def of(cls, **terms: torch.Tensor) -> LossTerms:
        """The terms a model computes, by name (any other term is 0), and their sum.

        A type names only its own terms, so adding a term to one type (a field here and
        the code that computes it) leaves the other type as it is.

        Example:
            >>> terms = LossTerms.of(reconstruction=torch.tensor(2.0), kl=torch.tensor(0.5))
            >>> float(terms.loss), float(terms.recognition)
            (2.5, 0.0)
        """
        names = cls._fields[1:]
        unknown = sorted(set(terms) - set(names))
        if unknown or not terms:
            raise ValueError(f"loss terms must be some of {names}, got {sorted(terms)}")
        zero = next(iter(terms.values())).new_zeros(())
        values = [terms.get(name, zero) for name in names]
        return cls(sum(values[1:], values[0]), *values)


def reconstruction_loss(
    logits: torch.Tensor,
    frames: torch.Tensor,
    hard_pixels: int = 0,
    hard_pixel_weight: float = 0.0,
) -> torch.Tensor:
    """Squared error of ``sigmoid(logits)`` against ``frames`` (both in ``[0, 1]``).

    Summed over a frame's pixels and averaged over the batch: the Gaussian negative
    log-likelihood with variance 1/2, up to a constant, so a perfect reconstruction scores 0.
    With ``hard_pixels = k > 0``, each frame's ``k`` largest squared errors count
    ``1 + hard_pixel_weight`` times (hard-pixel mining): where states differ in a small
    sprite, its pixels are the largest errors long after the rest is right, and summed with
    every other pixel they barely moved the decoder (MiniGrid-Empty-16x16: ``BENCHMARKS.md``).

    Example:
        >>> frames = torch.zeros(1, 1, 1, 4)
        >>> logits = torch.tensor([[[[0.0, 0.0, 0.0, 9.0]]]])  # errors 0.25 x3, ~1
        >>> round(float(reconstruction_loss(logits, frames)), 3)
        1.75
        >>> hard = reconstruction_loss(logits, frames, hard_pixels=1, hard_pixel_weight=10)
        >>> round(float(hard), 3)  # the largest error counts 11 times
        11.747
    """
    # float32 even under mixed precision: a sum over every pixel needs it
    error = (torch.sigmoid(logits.float()) - frames).square()
    total = error.sum()
    if hard_pixels > 0 and hard_pixel_weight > 0:
        per_frame = error.flatten(1)
        hardest = per_frame.topk(min(hard_pixels, per_frame.shape[1]), dim=1).values
        total = total + hard_pixel_weight * hardest.sum()
    return total / frames.shape[0]


#: Each frame's largest squared errors weighed up by default: MiniGrid's agent at tile 8 is
#: about 30 pixels (90 values); on Empty-16x16 (128x128, 782 states) Type A met the strict
#: target in 600 s with 64 and stayed at the view box's level (0.41) without (BENCHMARKS.md).
DEFAULT_HARD_PIXELS = 64

#: What the two hard-pixel options were in models of files older than them (off).
LEGACY_HARD_PIXELS = {"hard_pixels": 0, "hard_pixel_weight": 10.0}


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


#: ``root_reduction`` values: ``"sum"`` over the root vector's entries (man_rl's default),
#: ``"mean"`` over them (eq. 9's MSE: the same term divided by ``root_dim``).
ROOT_REDUCTIONS = ("sum", "mean")
#: ``reparameterization`` values: ``"std"`` (``mu + std * eps``, the standard one, default)
#: or ``"variance"`` (eq. 4 as printed: ``mu + std**2 * eps``).
REPARAMETERIZATIONS = ("std", "variance")

#: What ``root_reduction`` and ``reparameterization`` were in models of files older than the
#: two options (what ``ModelConfig.legacy`` holds).
LEGACY_FORM = {"root_reduction": "sum", "reparameterization": "std"}


def root_loss(
    root: torch.Tensor, root_hat: torch.Tensor, weight: float, reduction: str = "sum"
) -> torch.Tensor:
    """``weight * ||h - h_hat||^2`` per frame (``reduction="sum"``), averaged over the batch.

    ``reduction="mean"`` divides by the root vector's size: eq. 9's ``lambda MSE(h, h_hat)``
    exactly. ``"sum"`` (the default) weighs the term ``root_dim`` times more for the same
    ``weight``. The gradient reaches both sides, as in the paper: the encoder E learns to
    give the root vector the long-term decoder regenerates, and the long-term decoder learns
    to regenerate E's. (Treating ``h`` as a fixed target instead made training 2x slower:
    measured.)
    """
    if weight == 0:
        return root_hat.new_zeros(())
    squared = (root.float() - root_hat.float()).square()
    per_frame = squared.mean(dim=1) if reduction == "mean" else squared.sum(dim=1)
    return weight * per_frame.mean()


def reparameterize(
    mu: torch.Tensor,
    log_var: torch.Tensor,
    generator: torch.Generator | None,
    scale: str = "std",
) -> torch.Tensor:
    """``mu + std * eps`` with ``std = exp(log_var / 2)`` (the standard reparameterisation).

    ``scale="variance"`` is eq. 4 as the paper prints it, ``mu + std**2 * eps``: the sampled
    ``z`` then has variance ``std**4``, not the ``std**2`` the KL term assumes, so the KL
    pulls ``std`` to 1 while the decoder sees noise of another size wherever ``std != 1``
    (smaller below 1, larger above).
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    noise = torch.exp(log_var) if scale == "variance" else torch.exp(0.5 * log_var)
    return mu + noise * eps


def association_loss(
    logits: torch.Tensor | None,
    frames: torch.Tensor,
    weight: float,
    hard_pixels: int = 0,
    hard_pixel_weight: float = 0.0,
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
    return weight * reconstruction_loss(logits, frames, hard_pixels, hard_pixel_weight)


def autoencoder_terms(out: Any, frames: torch.Tensor, config: Any) -> dict[str, torch.Tensor]:
    """The terms both types compute alike, by name: ``reconstruction``, ``root``, ``association``.

    ``out``: the model's forward output (``logits``, ``root``, ``root_hat``,
    ``association_logits``); ``config``: its config (the terms' weights and forms).
    """
    hard = (config.hard_pixels, config.hard_pixel_weight)
    return {
        "reconstruction": reconstruction_loss(out.logits, frames, *hard),
        "root": root_loss(out.root, out.root_hat, config.lambda_root, config.root_reduction),
        "association": association_loss(
            out.association_logits, frames, config.lambda_association, *hard
        ),
    }


def decode_all(
    decoder: torch.nn.Module, roots: list[torch.Tensor | None]
) -> list[torch.Tensor | None]:
    """Frame logits of ``D(r)`` for each root batch ``r`` given (``None`` stays ``None``).

    One batched decoder call for all of them: ``D(h_hat)`` and the association's ``D(h)``.
    """
    present = [root for root in roots if root is not None]
    decoded = iter(decoder(torch.cat(present, dim=0)).split([len(r) for r in present]))
    return [None if root is None else next(decoded) for root in roots]


__all__ = [
    "DEFAULT_HARD_PIXELS",
    "LEGACY_FORM",
    "LEGACY_HARD_PIXELS",
    "REPARAMETERIZATIONS",
    "ROOT_REDUCTIONS",
    "LossTerms",
    "association_loss",
    "autoencoder_terms",
    "decode_all",
    "gaussian_kl",
    "reconstruction_loss",
    "reparameterize",
    "root_loss",
]
