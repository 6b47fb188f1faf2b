"""The fit loop both long-term memories share.

:func:`fit` trains any model that has ``key_index``, ``frame_shape`` and
``loss(frames, labels, generator) -> LossTerms`` (``TypeA``, ``TypeB``) on class-balanced
batches of a :class:`~man_rl.stm.ShortTermMemory`. The model keeps a
:class:`TrainingState` (optimizer, step counter, random generators, loss history), so calling
``fit`` again continues where the last call stopped.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> from man_rl.ltm import TypeA
    >>> stm = ShortTermMemory(capacity=2)
    >>> stm.add("a", np.zeros((4, 4), np.uint8)); stm.add("b", np.ones((4, 4), np.uint8))
    >>> model = TypeA.for_memory(stm, seed=0)
    >>> history = fit(model, stm, steps=3, seed=0, progress=False)
    >>> history["step"], list(history)[:5]
    ([1.0, 2.0, 3.0], ['step', 'loss', 'reconstruction', 'kl', 'root'])
    >>> fit(model, stm, steps=2, progress=False)["step"][-1]  # continues
    5.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from man_rl.errors import (
    InvalidTypeError,
    InvalidValueError,
    UnknownKeyError,
)
from man_rl.keys import short_repr
from man_rl.ltm import growth
from man_rl.ltm.common import (
    KeyIndex,
    check_count_or_off,
    check_positive_int,
    check_seed,
    fresh_seed,
    make_generator,
    resolve_device,
)
from man_rl.ltm.losses import LossTerms
from man_rl.ltm.networks import frames_to_tensor
from man_rl.ltm.optim import (
    DEFAULT_LR,
    DEFAULT_WARMUP_STEPS,
    MAX_SKIPPED_STEPS,
    MIXED_PRECISION,
    Precision,
    Warmup,
    adam_options,
    check_lr,
    check_mixed_precision,
    move_optimizer,
    warmup_factor,
)
from man_rl.stm.memory import ShortTermMemory
from man_rl.stm.sampling import Sampler
from man_rl.threads import TorchThreads

#: Default frames per batch.
DEFAULT_BATCH_SIZE = 32
#: The loss terms recorded in the history, besides ``"step"``.
TERMS = LossTerms._fields


class Trainable(Protocol):
    """What :func:`fit` needs from a model (``TypeA`` and ``TypeB`` have it)."""

    key_index: KeyIndex
    frame_shape: tuple[int, ...]
    training_state: TrainingState | None

    def loss(
        self, frames: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> LossTerms: ...

    def parameters(self) -> Any: ...

    def to(self, device: torch.device) -> Any: ...


@dataclass
class TrainingState:
    """What a model keeps between :func:`fit` calls (saved in its checkpoint too).

    Args:
        optimizer: the Adam optimizer with its moment estimates.
        batch_rng: numpy generator drawing the batches.
        generator: torch generator drawing the reparameterisation noise.
        step: training steps taken so far.
        scaler: the fp16 loss scaler (kept between calls in this process, not in
            checkpoints: a loaded model starts a fresh scale).
        history: ``"step"`` and each loss term (:data:`TERMS`) -> one value per step.
    """

    optimizer: torch.optim.Optimizer
    batch_rng: np.random.Generator
    generator: torch.Generator
    step: int = 0
    scaler: torch.amp.GradScaler | None = None
    history: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in ("step", *TERMS)}
    )

    @classmethod
    def new(cls, model: nn.Module, lr: float, seed: int, device: torch.device) -> TrainingState:
        """A fresh state: Adam at ``lr``; generators seeded from ``seed``."""
        return cls(
            optimizer=torch.optim.Adam(model.parameters(), lr=lr, **adam_options(model)),
            batch_rng=np.random.default_rng(seed),
            generator=make_generator(device, _torch_seed(seed)),
        )

    def reseed(self, seed: int, device: torch.device) -> None:
        """Restart both random generators from ``seed``."""
        self.batch_rng = np.random.default_rng(seed)
        self.generator = make_generator(device, _torch_seed(seed))


def _torch_seed(seed: int) -> int:
    # A different stream from the batch sampler's, derived from the same seed.
    return int(np.random.SeedSequence([seed, 1]).generate_state(1, np.uint64)[0] >> 1)


def _check_memory(model: Trainable, memory: ShortTermMemory, grow: bool) -> np.ndarray:
    if not isinstance(memory, ShortTermMemory):
        raise InvalidTypeError(f"fit needs a ShortTermMemory, got {type(memory).__name__}")
    if len(memory) == 0:
        from man_rl.errors import EmptyMemoryError

        raise EmptyMemoryError("cannot train on an empty memory; collect frames first")
    if memory.frame_shape != tuple(model.frame_shape):
        raise InvalidValueError(
            f"the memory's frames are {memory.frame_shape} but the model was built for "
            f"{tuple(model.frame_shape)}; build the model from this memory (for_memory)"
        )
    new = [key for key in memory.keys if key not in model.key_index]
    if new and not grow:
        raise UnknownKeyError(
            f"the memory has {len(new)} state key(s) this model does not know: "
            f"{', '.join(short_repr(key) for key in new[:6])}{' ...' if len(new) > 6 else ''}; "
            "fit(..., grow=False) keeps the "
            "model's keys fixed. Train with grow=True (the default) to add them to the model, "
            "or build a new model from the memory (TypeA.for_memory(memory) / "
            "TypeB.for_memory(memory))"
        )
    if new:
        growth.grow(model, new, memory=memory)
    return model.key_index.map_memory(memory.keys)


def fit(
    model: Trainable,
    memory: ShortTermMemory,
    steps: int,
    *,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    balanced: bool = True,
    mixed_precision: str | None = None,
    grow: bool = True,
    warmup_steps: int | None = None,
    threads: int | None = None,
    sampler: Sampler | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` for ``steps`` Adam steps on class-balanced batches of ``memory``.

    Calling it again continues: the optimizer's moments, the step counter, the random
    generators and the history carry over (a ``seed`` given on a later call restarts the
    generators from it; an ``lr`` given sets the learning rate from then on).

    Args:
        model: a ``TypeA`` or ``TypeB``.
        memory: the short-term memory; its labels are mapped to the model's classes by key.
            Keys the model does not know yet are added to it first (see ``grow``).
        steps: optimizer steps to take now.
        batch_size: frames per step (default 32).
        lr: Adam learning rate (default 3e-3, or the last one used when continuing).
        seed: seed of the batch sampler and of the noise (``None``: fresh entropy on the first
            call, the carried-over generators afterwards). The same seed (and the same model
            seed) gives bit-identical weights on the CPU.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        progress: show a tqdm progress bar with the loss terms.
        balanced: draw each batch's states uniformly (the paper's short-term memory);
            ``False`` draws frames uniformly, so common states dominate (for comparison).
        mixed_precision: ``None`` (float32), ``"bf16"`` or ``"fp16"``: run the network's
            convolutions and matrix products in that dtype (``torch.autocast``), the losses
            and the weights in float32, so checkpoints are the same either way. ``"fp16"``
            scales the loss (``torch.amp.GradScaler``); a step whose gradient overflows is
            skipped, as the scaler does, and counted. For GPUs (bf16 on Ampere or newer);
            on a CPU it is usually slower than float32.
        grow: add the memory's keys the model does not know to it before training
            (:func:`man_rl.ltm.growth.grow`: the learnt weights and Adam's moments are kept,
            old states' recall is unchanged at that moment), so a memory that gains states
            as the agent explores can be trained on again and again; on by default, as the
            memory an agent fills keeps growing. ``False`` keeps the model's keys fixed, and
            a new key is then an :class:`~man_rl.errors.UnknownKeyError` naming it.
        warmup_steps: the model's first ``warmup_steps`` steps (counted over all calls, so
            a model trained past them is unaffected) ramp the learning rate up linearly to
            ``lr`` (:func:`warmup_factor`; default :data:`DEFAULT_WARMUP_STEPS`, 0: none).
        threads: torch's intra-op threads while training (``None``: the cores other
            processes leave free, looked at again every few seconds, at most torch's own
            setting; see :mod:`man_rl.threads`). A busy neighbour then costs about the core
            it takes instead of 20-40x (both processes' spinning threads fighting).
        sampler: draws the batches instead of ``balanced``'s sampler (a
            :class:`~man_rl.stm.sampling.Subset` trains on some frames and leaves the rest
            out, as :func:`man_rl.ltm.stopping.fit_until` does to check recall on them).

    Returns:
        The whole history (all calls so far): ``"step"``, ``"loss"`` and each loss term
        (``"reconstruction"``, ``"kl"``, ``"root"``, ``"association"``, ``"recognition"``) ->
        lists of floats, one entry per step (JSON-able).

    Raises:
        TrainingDivergedError: a non-finite loss or gradient; raised at the step it happens,
            before that step changes any weight. With ``"fp16"`` a non-finite gradient is
            the scaler's business; only :data:`MAX_SKIPPED_STEPS` overflows in a row raise.
    """
    steps = check_positive_int("steps", steps)
    warmup = (
        DEFAULT_WARMUP_STEPS
        if warmup_steps is None
        else check_count_or_off("warmup_steps", warmup_steps)
    )
    batch = (
        DEFAULT_BATCH_SIZE if batch_size is None else check_positive_int("batch_size", batch_size)
    )
    target = resolve_device(device)
    amp_dtype = check_mixed_precision(mixed_precision)
    to_model = torch.from_numpy(_check_memory(model, memory, grow))
    model.to(target)
    state = _training_state(model, lr, seed, target)
    precision = Precision(state.optimizer, amp_dtype, target, state.scaler)
    if precision.scaler is not None:  # the scale carries over to the next call
        state.scaler = precision.scaler
    bar = progress_bar(steps, progress, f"fit {type(model).__name__}")
    plan = TorchThreads(threads)
    schedule = None
    try:
        plan.__enter__()
        # last before the loop: it sets the rates, which the finally puts back
        schedule = Warmup(state.optimizer, warmup, first=state.step + 1)
        for _ in range(steps):
            plan.update()
            frames, labels = memory.sample(
                batch, balanced=balanced, rng=state.batch_rng, sampler=sampler
            )
            x = frames_to_tensor(frames, target)
            y = to_model[torch.from_numpy(labels)].to(target)
            state.optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                terms = model.loss(x, y, state.generator)
            values = precision.backward(terms)
            precision.step(values, state.step + 1, schedule.base_lr)
            state.step += 1
            schedule.after_step()
            _record(state, values, bar)
    finally:
        plan.__exit__(None, None, None)
        if schedule is not None:  # the optimizer keeps the base rate; the ramp follows the step
            schedule.restore()
        if bar is not None:
            bar.close()
    return {name: list(values) for name, values in state.history.items()}


def _training_state(
    model: Trainable, lr: float | None, seed: int | None, target: torch.device
) -> TrainingState:
    """The model's training state on ``target``: a new one, or the last call's carried over.

    A carried-over state is reseeded where ``seed`` is given and set to ``lr`` where given.
    """
    state: TrainingState | None = model.training_state
    if state is None:
        first_seed = fresh_seed() if seed is None else check_seed(seed)
        state = TrainingState.new(
            model, check_lr(DEFAULT_LR if lr is None else lr), first_seed, target
        )
        model.training_state = state
        return state
    move_optimizer(state.optimizer, target)
    if seed is not None:
        state.reseed(check_seed(seed), target)
    elif state.generator.device.type != target.type:
        state.generator = make_generator(target, int(state.batch_rng.integers(2**62)))
    if lr is not None:
        for group in state.optimizer.param_groups:
            group["lr"] = check_lr(lr)
    return state


def _record(state: TrainingState, values: list[float], bar: Any) -> None:
    """Append a step's terms to the history and the progress bar."""
    state.history["step"].append(float(state.step))
    for name, value in zip(TERMS, values, strict=False):
        state.history[name].append(value)
    if bar is not None:
        bar.update(1)
        if state.step % 10 == 0:
            shown = {name: f"{v:.4g}" for name, v in zip(TERMS, values, strict=False)}
            bar.set_postfix(shown, refresh=False)


def progress_bar(total: int | None, show: bool, desc: str) -> Any:
    """A tqdm bar counting steps (``None`` when not ``show``)."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", mininterval=0.5)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LR",
    "DEFAULT_WARMUP_STEPS",
    "MAX_SKIPPED_STEPS",
    "MIXED_PRECISION",
    "TERMS",
    "TrainingState",
    "fit",
    "warmup_factor",
]
