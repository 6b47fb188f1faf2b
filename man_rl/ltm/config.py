"""The long-term memories' settings, each declared once: a frozen dataclass per model type.

A config field is a setting's name, type and default; the class docstring says what it does;
``__post_init__`` checks it (and fills what ``None`` leaves to the frame). A model takes a
config and/or overrides of its fields (``TypeB(keys, shape, config, lam=8.0)``), presets name
fields, and checkpoints save ``asdict(config)``. :class:`ModelConfig` holds what every type
shares; each type's config (``TypeAConfig`` in :mod:`.type_a`, ``TypeBConfig`` in
:mod:`.type_b`) adds its own fields beside the model.

Example:
    >>> config = ModelConfig(frame_shape=(8, 8), seed=0)
    >>> config.latent_dim, config.stem, config.channels
    (16, 2, (16,))
    >>> ModelConfig.build((8, 8), config, latent_dim=4).latent_dim
    4
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, TypeVar

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm.bank import DEFAULT_CODE_BANK
from man_rl.ltm.common import (
    check_choice,
    check_count_or_off,
    check_non_negative,
    check_positive_int,
    check_seed,
    fresh_seed,
)
from man_rl.ltm.losses import (
    DEFAULT_HARD_PIXELS,
    LEGACY_FORM,
    LEGACY_HARD_PIXELS,
    REPARAMETERIZATIONS,
    ROOT_REDUCTIONS,
)
from man_rl.ltm.networks import LEGACY_STEM, ConvPlan

C = TypeVar("C", bound="ModelConfig")


class RetiredSettingError(InvalidValueError):
    """A setting taken out of man_rl, given a value other than the one models still have."""


_POSITIVE = ("root_dim", "hidden_dim")
_NON_NEGATIVE = ("lambda_root", "lambda_association", "kl_weight", "hard_pixel_weight")
#: A retired setting that any value of is dropped (it did nothing in the models that had it).
ANY = object()


@dataclass(frozen=True)
class ModelConfig:
    """What every long-term memory's config holds (its type's config adds the rest).

    Args:
        frame_shape: ``(H, W)`` or ``(H, W, C)`` of the frames.
        root_dim: size of the root vector ``h``.
        latent_dim: size of ``z``.
        hidden_dim: width of the long-term encoder and decoder.
        channels: conv channels per layer (``None``: sized from the frame).
        stem: the first conv layer's stride, 2 or 4 (``None``: 4 on frames of
            :data:`~man_rl.ltm.networks.LARGE_FRAME` pixels or more; see
            :class:`~man_rl.ltm.networks.ConvPlan`).
        lambda_root: weight of ``||h - h_hat||^2`` (0 turns the term off).
        lambda_association: weight of the reconstruction from ``h`` itself (0 turns it off).
        kl_weight: weight of the KL term (Type B: over the zero padding; 1 is the plain VAE).
        root_reduction: ``"sum"`` of ``(h - h_hat)**2`` over the root vector, or ``"mean"``
            (eq. 9's MSE; see :func:`~man_rl.ltm.losses.root_loss`).
        reparameterization: ``"std"`` (``mu + std * eps``) or ``"variance"`` (eq. 4 as
            printed, ``mu + std**2 * eps``; see :func:`~man_rl.ltm.losses.reparameterize`).
        code_bank: posterior codes kept per state for recall (0: recall draws ``z`` from
            the prior, as the paper; ``n > 0``, default :data:`~man_rl.ltm.bank.
            DEFAULT_CODE_BANK`: from the ``mu`` of the state's last ``n`` training screens,
            :class:`~man_rl.ltm.bank.CodeBank`; a state with none yet draws from the prior).
        hard_pixels: each frame's this many largest squared pixel errors weigh
            ``1 + hard_pixel_weight`` times in both reconstruction terms (0: off, as the
            paper; :func:`~man_rl.ltm.losses.reconstruction_loss`): for states that differ
            in a small sprite (MiniGrid's agent at 128x128).
        hard_pixel_weight: the extra weight of those errors.
        seed: seed of the initial weights (``None``: fresh entropy, recorded here).
    """

    frame_shape: tuple[int, ...]
    root_dim: int = 64
    latent_dim: int | None = 16
    hidden_dim: int = 128
    channels: tuple[int, ...] | None = None
    stem: int | None = None
    lambda_root: float = 1.0
    lambda_association: float = 1.0
    kl_weight: float = 1.0
    root_reduction: str = "sum"
    reparameterization: str = "std"
    code_bank: int = DEFAULT_CODE_BANK
    hard_pixels: int = DEFAULT_HARD_PIXELS
    hard_pixel_weight: float = 10.0
    seed: int | None = None

    #: Fields added after the checkpoint format was fixed, with the values models of older
    #: files had: a file that lacks one loads with that value, so it rebuilds the same model.
    legacy: ClassVar[dict[str, Any]] = {
        "code_bank": 0,
        **LEGACY_FORM,
        **LEGACY_HARD_PIXELS,
        **LEGACY_STEM,
    }
    #: The switches both presets set (the paper's equations, and man_rl's default); each
    #: type's config adds its own (:mod:`man_rl.ltm.presets`).
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {
            "lambda_root": 1.0,
            "lambda_association": 0.0,
            "kl_weight": 1.0,
            "root_reduction": "mean",
            "reparameterization": "std",
            "code_bank": 0,
            "hard_pixels": 0,
            "hard_pixel_weight": 10.0,
        },
        "recommended": {
            "lambda_root": 1.0,
            "lambda_association": 1.0,
            "kl_weight": 1.0,
            "root_reduction": "sum",
            "reparameterization": "std",
            "code_bank": DEFAULT_CODE_BANK,
            "hard_pixels": DEFAULT_HARD_PIXELS,
            "hard_pixel_weight": 10.0,
        },
    }
    #: What each switch does, paper value first (:data:`man_rl.ltm.presets.SWITCHES`); each
    #: type's config adds its own.
    switches: ClassVar[dict[str, str]] = {
        "lambda_association": "0 (paper) | 1: also decode the screen from h = E(x) itself, "
        "training E and D as the paper's association autoencoder (DFC/DFD), so h holds what "
        "varies within a state",
        "root_reduction": "'mean' (paper: eq. 9's MSE) | 'sum': sum of squares over the root "
        "vector, the same term root_dim times heavier",
        "reparameterization": "'std' (both presets: mu + std * eps) | 'variance': eq. 4 as "
        "printed, mu + std**2 * eps, whose variance is not the one the KL assumes",
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
    }
    #: For each switch both presets set alike, the other value the ablation benchmark tries
    #: on the recommended preset, so that every switch has a measured row; each type's
    #: config adds its own.
    tried: ClassVar[dict[str, Any]] = {
        "lambda_root": 0.0,
        "kl_weight": 0.1,
        "reparameterization": "variance",
        "hard_pixel_weight": 3.0,
    }
    #: Settings taken out (no measurement earned them; issue 22), with the one value every
    #: model still has (:data:`ANY`: any): an old checkpoint or script that names one with
    #: that value builds the same model; another value is refused, naming the setting.
    retired: ClassVar[dict[str, Any]] = {"lambda_recall": 0.0, "prototype_rate": ANY}

    def __post_init__(self) -> None:
        plan = self.plan
        self._set("frame_shape", plan.frame_shape)
        self._set("channels", plan.channels)
        self._set("stem", plan.stem)
        for name in _POSITIVE:
            self._set(name, check_positive_int(name, getattr(self, name)))
        if self.latent_dim is not None:
            self._set("latent_dim", check_positive_int("latent_dim", self.latent_dim))
        for name in _NON_NEGATIVE:
            self._set(name, check_non_negative(name, getattr(self, name)))
        check_choice("root_reduction", self.root_reduction, ROOT_REDUCTIONS)
        check_choice("reparameterization", self.reparameterization, REPARAMETERIZATIONS)
        self._set("code_bank", check_count_or_off("code_bank", self.code_bank))
        self._set("hard_pixels", check_count_or_off("hard_pixels", self.hard_pixels))
        self._set("seed", fresh_seed() if self.seed is None else check_seed(self.seed))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # frozen: only __post_init__ normalises

    def _set_flag(self, name: str) -> None:
        self._set(name, bool(getattr(self, name)))

    @property
    def plan(self) -> ConvPlan:
        """The conv stack's layout for these frames (:class:`~man_rl.ltm.networks.ConvPlan`)."""
        return ConvPlan.for_frame(self.frame_shape, self.channels, self.stem)

    @classmethod
    def settings(cls) -> list[str]:
        """The fields a caller sets: every one but ``frame_shape`` (the frames give it)."""
        return [f.name for f in fields(cls) if f.name != "frame_shape"]

    @classmethod
    def build(
        cls: type[C], frame_shape: Any, config: ModelConfig | None = None, **overrides: Any
    ) -> C:
        """``config`` (default: every field's default) for ``frame_shape``, with ``overrides``.

        An override that is not a setting is refused, naming the settings.
        """
        if config is not None and not isinstance(config, cls):
            raise InvalidTypeError(f"config must be a {cls.__name__}, got {type(config).__name__}")
        overrides = cls.without_retired(overrides)
        unknown = sorted(set(overrides) - set(cls.settings()))
        if unknown:
            raise InvalidValueError(
                f"{unknown} are not settings of {cls.__name__}; settings: {cls.settings()}"
            )
        if config is None:
            return cls(frame_shape=frame_shape, **overrides)
        return replace(config, frame_shape=frame_shape, **overrides)

    @classmethod
    def without_retired(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        """``overrides`` less the retired settings that hold the value models still have."""
        kept = {}
        for name, value in overrides.items():
            if name not in cls.retired:
                kept[name] = value
            elif cls.retired[name] is not ANY and value != cls.retired[name]:
                raise RetiredSettingError(
                    f"{name}={value!r} is retired: no measurement showed it helping, so "
                    f"every model now has {name}={cls.retired[name]!r} (a checkpoint that "
                    "used another value needs the man_rl release that wrote it)"
                )
        return kept


__all__ = ["ANY", "ModelConfig", "RetiredSettingError"]
