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


def _configs() -> dict[str, Any]:
    """``kind -> config class`` of every registered model type."""
    from man_rl.ltm.checkpoint import model_types

    return {kind: cls.config_class for kind, cls in sorted(model_types().items())}


def _config(kind: str) -> Any:
    """The config class of model type ``kind``, or an error naming the types."""
    configs = _configs()
    if kind not in configs:
        raise InvalidValueError(f"no presets for model type {kind!r}; types: {sorted(configs)}")
    return configs[kind]


class _Presets(Mapping[str, dict[str, dict[str, Any]]]):
    def __getitem__(self, kind: str) -> dict[str, dict[str, Any]]:
        return _configs()[kind].presets

    def __iter__(self) -> Iterator[str]:
        return iter(_configs())

    def __len__(self) -> int:
        return len(_configs())


#: ``kind -> preset name -> {switch: value}``: each type's own presets (its config's
#: ``presets``, beside the type), read from the registered model types.
PRESETS: Mapping[str, dict[str, dict[str, Any]]] = _Presets()


class _Switches(Mapping[str, str]):
    def _texts(self) -> dict[str, str]:
        return {k: v for config in _configs().values() for k, v in config.switches.items()}

    def __getitem__(self, switch: str) -> str:
        return self._texts()[switch]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts())

    def __len__(self) -> int:
        return len(self._texts())


#: What each switch does, paper value first (those on in neither preset included): each
#: config's ``switches``, beside the field, read from the registered model types.
SWITCHES: Mapping[str, str] = _Switches()


def preset(kind: str, name: str) -> dict[str, Any]:
    """The switches of preset ``name`` (``"paper"``, ``"recommended"``) of model type ``kind``.

    A copy: changing it changes no preset.
    """
    presets = _config(kind).presets
    if name not in presets:
        raise InvalidValueError(
            f"unknown preset {name!r} for Type {kind}; presets: {sorted(presets)}"
        )
    return dict(presets[name])


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
    return dict(_config(kind).tried)


__all__ = ["PRESETS", "SIZES", "SWITCHES", "alternatives", "departures", "preset"]
