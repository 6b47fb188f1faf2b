"""Checkpoints of long-term memories: one checked, versioned, pickle-free file.

A checkpoint is a :func:`man_rl.io.bundle.write_bundle` file of kind ``"long_term_memory"``.
Its JSON meta holds the model type, its config, its state keys and the training state's plain
values (step, learning-rate settings, the batch sampler's state); its arrays hold the weights,
Adam's moment estimates, the noise generator's state and the loss history; a model that
grew (:mod:`man_rl.ltm.growth`) adds the order its keys were added. Everything is
stored from the CPU, so a model trained on a GPU loads on any machine, and loading only reads
numbers: nothing is unpickled.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from man_rl import ShortTermMemory
    >>> from man_rl.ltm import TypeA
    >>> stm = ShortTermMemory(capacity=2)
    >>> stm.add("a", np.zeros((4, 4), np.uint8)); stm.add("b", np.ones((4, 4), np.uint8))
    >>> model = TypeA.for_memory(stm, seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.manrl"
    >>> save_model(model, path)
    >>> loaded = load_model(path)
    >>> type(loaded).__name__, loaded.keys
    ('TypeA', ['a', 'b'])
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from man_rl.errors import (
    CorruptFileError,
    InvalidTypeError,
    NotRegisteredError,
    TrainingDivergedError,
)
from man_rl.io.bundle import read_bundle, write_bundle
from man_rl.keys import decode_key, encode_key
from man_rl.ltm.config import RetiredSettingError
from man_rl.ltm.growth import GrowthLog
from man_rl.ltm.training import TERMS, TrainingState, adam_options
from man_rl.registry import Registry

FILE_KIND = "long_term_memory"
_WEIGHTS = "weights/"
_MOMENTS = "optimizer/"
_HISTORY = "history/"
_GENERATOR = "generator_state"

M = TypeVar("M")


#: Every model type a checkpoint can hold, by its ``kind`` (``"A"``, ``"B"``).
MODEL_TYPES: Registry[type] = Registry(
    "model type",
    group="man_rl.model_types",
    how="man_rl.ltm.register_model_type(ModelClass)",
    name_of=lambda cls: cls.kind,
)


def register_model_type(cls: type) -> type:
    """Make checkpoints of ``cls.kind`` load as ``cls`` (a ``LongTermMemory`` subclass).

    Returns ``cls``, so it decorates a class: ``@register_model_type``.
    """
    kind = getattr(cls, "kind", None)
    if not isinstance(cls, type) or not isinstance(kind, str):
        raise InvalidTypeError(f"{cls!r} is not a model class with a kind (a str)")
    MODEL_TYPES.register(kind, cls)
    return cls


def model_types() -> dict[str, type]:
    """``kind -> class`` of every registered model type."""
    return dict(MODEL_TYPES.items())


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (a ``TypeA`` or ``TypeB``) and its training state to ``path``.

    Refuses (:class:`TrainingDivergedError`) to write non-finite weights.
    """
    from man_rl.version import __version__

    if model_types().get(getattr(model, "kind", None)) is not type(model):
        raise InvalidTypeError(
            f"can only save a long-term memory (TypeA, TypeB), got {type(model).__name__}"
        )
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in model.state_dict().items():
        array = tensor.detach().cpu().numpy()
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise TrainingDivergedError(
                f"refusing to save {path}: weight {name!r} holds non-finite values (the model "
                "diverged); retrain it, with a lower learning rate"
            )
        arrays[_WEIGHTS + name] = array
    config = asdict(model.config)
    meta: dict[str, Any] = {
        "man_rl_version": __version__,
        "model_type": model.kind,
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
        "keys": [encode_key(key) for key in model.keys],
        "training": _training_meta(model.training_state, arrays),
    }
    if model.growth_log is not None:  # the order keys were added
        meta["growth"] = model.growth_log.to_meta()
    write_bundle(path, FILE_KIND, meta, arrays)


def _training_meta(state: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if state is None:
        return None
    optimizer = state.optimizer.state_dict()
    moments = {}
    for index, values in optimizer["state"].items():
        for name, value in values.items():
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
            arrays[f"{_MOMENTS}{index}/{name}"] = np.asarray(array)
            moments.setdefault(str(index), []).append(name)
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
        for group in optimizer["param_groups"]
    ]
    for name, values in state.history.items():
        arrays[_HISTORY + name] = np.asarray(values, dtype=np.float64)
    arrays[_GENERATOR] = state.generator.get_state().cpu().numpy()
    return {
        "step": state.step,
        "param_groups": groups,
        "moments": moments,
        "batch_rng": state.batch_rng.bit_generator.state,
        "generator_device": state.generator.device.type,
    }


def load_model(path: str | os.PathLike[str], expect: type[M] | None = None) -> M:
    """Load a checkpoint onto the CPU; ``expect`` (``TypeA`` / ``TypeB``) checks its type.

    Damaged files raise :class:`~man_rl.errors.CorruptFileError`; a checkpoint of the other
    type raises it too, saying which loader to use.
    """
    bundle = read_bundle(path, FILE_KIND)
    meta, arrays = bundle.meta, bundle.arrays
    kind = meta.get("model_type")
    if not isinstance(kind, str) or not kind:
        raise CorruptFileError(f"{path} holds an unknown model type {kind!r}")
    if kind not in MODEL_TYPES:
        raise NotRegisteredError(
            f"{path} holds a model of type {kind!r}, which is not registered here (known: "
            f"{MODEL_TYPES.names()}); import the module that defines it (it registers itself "
            "with man_rl.ltm.register_model_type) before loading"
        )
    cls = MODEL_TYPES.get(kind)
    if expect is not None and cls is not expect:
        raise CorruptFileError(
            f"{path} holds a {cls.__name__} model, not a {expect.__name__}; load it with "
            f"{cls.__name__}.load (or man_rl.ltm.load_model, which reads either)"
        )
    try:
        # settings added since a file was written take the values that file's model had
        config = {**cls.config_class.legacy, **meta["config"]}
        keys = [decode_key(value) for value in meta["keys"]]
        frame_shape = config.pop("frame_shape")
        stored = {
            name[len(_WEIGHTS) :]: array
            for name, array in arrays.items()
            if name.startswith(_WEIGHTS)
        }
        _check_config(Path(path), cls, keys, frame_shape, config, stored)
        model = cls(keys, frame_shape, **config)
        weights = {name: torch.from_numpy(array.copy()) for name, array in stored.items()}
        model.load_state_dict(weights, strict=True)
        if meta.get("growth") is not None:
            model.growth_log = GrowthLog.from_meta(meta["growth"], len(keys))
        if meta.get("training") is not None:
            model.training_state = _load_training(model, meta["training"], arrays)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        if isinstance(err, CorruptFileError | RetiredSettingError):
            raise
        raise CorruptFileError(
            f"{Path(path)} holds a {cls.__name__} checkpoint whose contents are inconsistent "
            f"({type(err).__name__}: {err}); re-create it or restore a copy"
        ) from None
    return model


def _check_config(
    path: Path,
    cls: type,
    keys: list[Any],
    frame_shape: Any,
    config: dict[str, Any],
    stored: dict[str, np.ndarray],
) -> None:
    """Refuse a config that does not build the file's own tensors, allocating nothing.

    The model is built on torch's ``meta`` device (shapes, no storage) and its tensors are
    compared with the file's: an edited config (``code_bank=2000000``) is refused here,
    before the real model would take gigabytes.
    """
    with torch.device("meta"):
        probe = cls(keys, frame_shape, **config)
    expected = {name: tuple(tensor.shape) for name, tensor in probe.state_dict().items()}
    found = {name: tuple(array.shape) for name, array in stored.items()}
    if expected == found:
        return
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = [name for name in sorted(set(expected) & set(found)) if expected[name] != found[name]]
    if wrong:
        name = wrong[0]
        why = f"its config builds {name!r} of shape {expected[name]}, the file holds {found[name]}"
    elif missing:
        why = f"its config builds {len(missing)} weight(s) the file lacks, e.g. {missing[0]!r}"
    else:
        why = f"the file holds {len(extra)} weight(s) its config does not build, e.g. {extra[0]!r}"
    raise CorruptFileError(
        f"{path} holds a {cls.__name__} checkpoint whose config does not match its weights "
        f"({why}); re-create it or restore a copy"
    )


def _load_training(model: Any, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    params = list(model.parameters())
    groups = [
        {k: tuple(v) if k == "betas" else v for k, v in group.items()}
        for group in meta["param_groups"]
    ]
    moments = {
        int(index): {
            name: torch.from_numpy(np.array(arrays[f"{_MOMENTS}{index}/{name}"])) for name in names
        }
        for index, names in meta["moments"].items()
    }
    options = adam_options(model)
    for group in groups:  # files from before fused Adam resume with it where it runs
        group["fused"] = options.get("fused")
    optimizer = torch.optim.Adam(params, **options)
    optimizer.load_state_dict({"state": moments, "param_groups": groups})
    batch_rng = np.random.default_rng()
    batch_rng.bit_generator.state = meta["batch_rng"]
    generator = torch.Generator()
    if meta["generator_device"] == "cpu":
        generator.set_state(torch.from_numpy(np.array(arrays[_GENERATOR])))
    else:  # a CUDA generator's state does not fit a CPU one: derive a fresh stream
        generator.manual_seed(int(batch_rng.integers(2**62)))
    steps = arrays[_HISTORY + "step"].tolist()
    # terms added since a file was written were zero in its model
    history = {
        name: arrays[_HISTORY + name].tolist() if _HISTORY + name in arrays else [0.0] * len(steps)
        for name in TERMS
    }
    history = {"step": steps, **history}
    return TrainingState(
        optimizer=optimizer,
        batch_rng=batch_rng,
        generator=generator,
        step=int(meta["step"]),
        history=history,
    )


__all__ = [
    "FILE_KIND",
    "MODEL_TYPES",
    "load_model",
    "model_types",
    "register_model_type",
    "save_model",
]
