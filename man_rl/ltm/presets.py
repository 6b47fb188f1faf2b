"""Named configurations of the long-term memories: the paper's equations, and man_rl's default.

A preset names **every switch** of a model type (every config field that is not a size or a
seed), so that a model built from it is what it says whatever the constructor's defaults
become:

- ``"paper"``: the paper's equations and nothing else. Type A is eq. 9:
  ``reconstruction + KL(Q || N(0, I)) + lambda MSE(h, h_hat)`` with the plain one-hot
  condition of eqs. 3 and 5; Type B is eq. 14: ``reconstruction + KL(Q || N(lam c'_i, I)) +
  lambda_2 MSE(h, h_hat)``, the one-hot part of ``z`` decoded as it is, the state read back
  as the nearest prior mean. Both sample ``z = mu + std * eps``; eq. 4's printed
  ``std**2 * eps`` is ``reparameterization="variance"`` (see
  :func:`~man_rl.ltm.losses.reparameterize` for what it does).
- ``"recommended"``: what man_rl trains by default (the constructors' defaults, spelled out).

What the paper leaves open is the same in both: the reconstruction term (eq. 7's
``reconstruction_recursive``) is the squared error summed over a frame's pixels; the root
vector's weight ``lambda`` is 1; sizes (``root_dim``, ``latent_dim``, ``hidden_dim``,
``channels``) are the constructors'; ``for_memory`` starts the decoder from the memory's
average screen (an initialisation, not a term of any equation).

Each type's presets are its own, beside it: ``ModelConfig.presets`` holds what both set, and
``TypeAConfig.presets`` / ``TypeBConfig.presets`` add their switches; :data:`PRESETS` reads
them from the registered model types. :data:`SWITCHES` says what each departure does.
``TypeA.paper(memory)`` / ``TypeB.preset("recommended", memory, seed=0)`` build models from them
(:meth:`~man_rl.ltm.base.LongTermMemory.preset`); ``benchmarks/ablation_bench.py`` measures
each switch on its own.

Example:
    >>> preset("B", "paper")["state_readout"], preset("B", "recommended")["state_readout"]
    (False, True)
    >>> sorted(departures("A"))
    ['code_bank', 'condition_scale', 'hard_pixels', 'lambda_association', 'root_reduction']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from man_rl.errors import InvalidValueError

#: Config fields that are sizes or seeds, not switches: presets leave them to the caller.
SIZES = ("frame_shape", "root_dim", "latent_dim", "hidden_dim", "channels", "stem", "seed")


class _Presets(Mapping[str, dict[str, dict[str, Any]]]):
    def __getitem__(self, kind: str) -> dict[str, dict[str, Any]]:
        from man_rl.ltm.checkpoint import model_types

        found = model_types()
        if kind not in found:
            raise KeyError(kind)
        return found[kind].config_class.presets

    def __iter__(self) -> Iterator[str]:
        from man_rl.ltm.checkpoint import model_types

        return iter(sorted(model_types()))

    def __len__(self) -> int:
        return sum(1 for _ in self)


#: ``kind -> preset name -> {switch: value}``: each type's own presets (its config's
#: ``presets``, beside the type), read from the registered model types.
PRESETS: Mapping[str, dict[str, dict[str, Any]]] = _Presets()

#: What each switch does, paper value first (those on in neither preset included).
SWITCHES: dict[str, str] = {
    "lambda_association": "0 (paper) | 1: also decode the screen from h = E(x) itself, training "
    "E and D as the paper's association autoencoder (DFC/DFD), so h holds what varies within "
    "a state",
    "condition_scale": "'unit' (paper: the one-hot c_i) | 'sqrt_latent': c_i times "
    "sqrt(latent_dim), the norm of z ~ N(0, I) beside it (Type A)",
    "root_reduction": "'mean' (paper: eq. 9's MSE) | 'sum': sum of squares over the root "
    "vector, the same term root_dim times heavier",
    "reparameterization": "'std' (both presets: mu + std * eps) | 'variance': eq. 4 as printed, "
    "mu + std**2 * eps, whose variance is not the one the KL assumes",
    "lambda_recognition": "0 (paper) | 1: cross-entropy of the state posterior "
    "softmax(lam mu[:K]) at the encoding's mean (Type B)",
    "class_kl_weight": "1 (paper and default) | 10: the KL over the latent's one-hot part "
    "weighs 10x, pulling encodings onto their prior means faster (recognised sooner at 600 "
    "steps, but met the out-of-box targets later: 86 vs 72 s, 500 vs 246 s) (Type B)",
    "state_readout": "False (paper: dec_long reads z as it is) | True: dec_long reads z's "
    "one-hot part as the state posterior softmax(lam z[:K]) (Type B)",
    "state_from_prior": "False (paper: decode the posterior's z) | True: in training, decode "
    "z's one-hot part drawn from the true state's prior, as recall draws it (Type B)",
    "simplex_mean": "False (paper: the encoder's mean as it is) | True: its one-hot part is "
    "lam * softmax of it, in the hull of the prior means, which a free linear output cannot "
    "reach with more states than hidden_dim | None (default): True where there are more, so "
    "that screens of other envs stay 'unknown' where the linear mean can work (Type B)",
    "code_bank": "0 (paper: recall draws z from the prior) | 64 (default): recall decodes one "
    "of the posterior means of the state's last n training screens (its aggregate posterior; "
    "Type B: the zero padding only), so a state whose screens vary draws one of them rather "
    "than a blend",
    "hard_pixels": "0 (paper) | k (64 by default): each frame's k largest squared pixel "
    "errors weigh 1 + hard_pixel_weight times in the reconstruction terms, so a small sprite "
    "that tells states apart is drawn",
    "hard_pixel_weight": "10 (both presets; used only with hard_pixels > 0) | the extra "
    "weight of those errors",
    "lambda_root": "1 (both presets: eq. 9 / 14's root-vector term) | 0: no root-vector term, "
    "so the long-term decoder's h_hat is trained only through the screen it decodes",
    "kl_weight": "1 (both presets: the plain VAE's KL) | 0.1: a weaker pull of the encodings "
    "towards the prior (Type B: of the zero padding)",
    "lam": "6 (both presets: the paper's lambda-hot prior means) | 3: prior means closer than "
    "the N(0, I) noise around them, so states overlap (Type B)",
}


def preset(kind: str, name: str) -> dict[str, Any]:
    """The switches of preset ``name`` (``"paper"``, ``"recommended"``) of model type ``kind``.

    A copy: changing it changes no preset.
    """
    if kind not in PRESETS:
        raise InvalidValueError(f"no presets for model type {kind!r}; types: {sorted(PRESETS)}")
    if name not in PRESETS[kind]:
        raise InvalidValueError(
            f"unknown preset {name!r} for Type {kind}; presets: {sorted(PRESETS[kind])}"
        )
    return dict(PRESETS[kind][name])


def departures(kind: str) -> dict[str, tuple[Any, Any]]:
    """``switch -> (paper value, recommended value)`` of every switch where the two differ."""
    paper, recommended = preset(kind, "paper"), preset(kind, "recommended")
    return {k: (v, recommended[k]) for k, v in paper.items() if recommended[k] != v}


def alternatives(kind: str) -> dict[str, Any]:
    """``switch -> value`` the ablation tries for every switch both presets set alike.

    Read from the type's config (``tried``), so that with :func:`departures` every switch of
    the type has a measured row (``benchmarks/ablation_bench.py``).

    Example:
        >>> alternatives("B")["lam"], "lam" in alternatives("A")
        (3.0, False)
    """
    preset(kind, "paper")  # refuses an unknown kind
    from man_rl.ltm.checkpoint import model_types

    return dict(model_types()[kind].config_class.tried)


__all__ = ["PRESETS", "SIZES", "SWITCHES", "alternatives", "departures", "preset"]
