"""A Stable-Baselines3 callback training a long-term memory while the agent learns.

:class:`MemoryCallback` runs a :class:`~man_rl.integrations.trainer.MemoryTrainer` every
``every`` env steps of ``model.learn(...)`` and writes what it returns through the agent's
logger (``self.logger``, so into the run's TensorBoard folder when the agent has
``tensorboard_log``): the loss terms, the states known, the judge's figures and the recall
grid as an image (``stable_baselines3.common.logger.Image``). The entries are written at
the step they were measured, straight to the logger's file outputs (TensorBoard, CSV,
JSON; the image to TensorBoard only), so none is overwritten before the agent's next dump
and the agent's own pending values are left alone; the scalars also join the agent's
console table at its next dump.

The memory is the one the agent's env fills: give it, or let the callback find it in the
training env (a ``DummyVecEnv`` of :class:`~man_rl.env.MemoryWrapper` envs sharing one
memory, e.g. ``MemoryWrapper(env, memory=shared)`` in each). A ``SubprocVecEnv``'s memories
live in its worker processes, out of reach: collect in this process instead.

Example:
    >>> import gymnasium as gym, minigrid
    >>> from minigrid.wrappers import ImgObsWrapper
    >>> from stable_baselines3 import PPO
    >>> from man_rl import MemoryWrapper
    >>> env = MemoryWrapper(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
    ...                              tile_size=4), capacity=4)
    >>> callback = MemoryCallback(every=32, model="A", steps=2, judge_every=None)
    >>> agent = PPO("MlpPolicy", ImgObsWrapper(env), n_steps=32, batch_size=32, n_epochs=1,
    ...             seed=0, device="cpu")
    >>> _ = agent.learn(64, callback=callback)
    >>> callback.trainer.calls, callback.trainer.model.keys == env.memory.keys
    (2, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HumanOutputFormat, Image

from man_rl.errors import InvalidValueError
from man_rl.integrations.trainer import MemoryTrainer, MemoryUpdate
from man_rl.ltm.common import check_positive_int
from man_rl.stm.memory import ShortTermMemory

#: Output formats the scalars skip when written at once (the console gets them at the dump).
_CONSOLE = ("stdout", "log")
#: ... and those the image skips (only TensorBoard shows images).
_NOT_IMAGES = ("stdout", "log", "json", "csv")


def find_memory(training_env: Any) -> ShortTermMemory:
    """The one :class:`ShortTermMemory` the envs of an SB3 ``VecEnv`` fill."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    base = training_env.unwrapped
    if not isinstance(base, DummyVecEnv):
        raise InvalidValueError(
            f"cannot reach the memory of a {type(base).__name__}: its envs run in other "
            "processes. Use a DummyVecEnv (make_vec_env's default), or pass "
            "MemoryCallback(memory=...) a memory filled in this process"
        )
    try:
        memories = base.get_attr("memory")
    except AttributeError:
        raise InvalidValueError(
            "the agent's env has no MemoryWrapper: wrap it, MemoryWrapper(env), or pass "
            "MemoryCallback(memory=...)"
        ) from None
    distinct = {id(memory): memory for memory in memories}
    if len(distinct) != 1 or not isinstance(memories[0], ShortTermMemory):
        raise InvalidValueError(
            f"the agent's {len(memories)} envs fill {len(distinct)} different memories; give "
            "them one, MemoryWrapper(env, memory=shared), or pass MemoryCallback(memory=...)"
        )
    return memories[0]


class MemoryCallback(BaseCallback):
    """Train a long-term memory every ``every`` env steps of ``model.learn(...)`` and log it.

    Args:
        trainer: the loop to run (built on the first step from ``memory`` and
            ``trainer_options`` when ``None``).
        memory: the memory the env fills (default: found in the training env,
            :func:`find_memory`).
        every: env steps between updates (all envs' steps counted, as ``num_timesteps``).
        on_update: called with each :class:`MemoryUpdate` after it is logged (to keep
            snapshots of the grid, say); :attr:`updates` holds only the last 10.
        verbose: SB3's verbosity (1 prints a line per judge call).
        trainer_options: :class:`MemoryTrainer` keywords (``model``, ``steps``,
            ``judge_every``, ``layout``...), when it is built here.
    """

    def __init__(
        self,
        trainer: MemoryTrainer | None = None,
        *,
        memory: ShortTermMemory | None = None,
        every: int = 1000,
        on_update: Callable[[MemoryUpdate], None] | None = None,
        verbose: int = 0,
        **trainer_options: Any,
    ) -> None:
        super().__init__(verbose)
        if trainer is not None and (memory is not None or trainer_options):
            raise InvalidValueError("give a trainer, or the memory and options to build one")
        self.trainer = trainer
        self._memory = memory
        self._options = trainer_options
        self.every = check_positive_int("every", every)
        if on_update is not None and not callable(on_update):
            raise InvalidValueError(f"on_update must be callable, got {on_update!r}")
        self.on_update = on_update
        self.updates: list[MemoryUpdate] = []  # the last few, for inspection
        self._next = self.every

    def _init_callback(self) -> None:
        if self.trainer is None:
            memory = self._memory if self._memory is not None else find_memory(self.training_env)
            self.trainer = MemoryTrainer(memory, **self._options)
        self._next = self.model.num_timesteps + self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next = self.num_timesteps + self.every
            update = self.trainer.update(self.num_timesteps)  # type: ignore[union-attr]
            if update is not None:
                self._log(update)
                self.updates = [*self.updates[-9:], update]
                if self.on_update is not None:
                    self.on_update(update)
        return True

    def _log(self, update: MemoryUpdate) -> None:
        values: dict[str, Any] = dict(update.scalars)
        excluded: dict[str, tuple[str, ...]] = dict.fromkeys(values, _CONSOLE)
        if update.grid is not None:
            key = f"{self.trainer.prefix}/recall_grid"  # type: ignore[union-attr]
            values[key] = Image(update.grid, "HWC")
            excluded[key] = _NOT_IMAGES
        for output in self.logger.output_formats:
            if not isinstance(output, HumanOutputFormat):
                output.write(values, excluded, self.num_timesteps)
        for name, value in update.scalars.items():  # the console table, at the agent's dump
            self.logger.record(name, value, exclude=("tensorboard", "json", "csv"))
        if self.verbose >= 1 and update.report is not None:
            known = update.scalars[f"{self.trainer.prefix}/states_known"]  # type: ignore[union-attr]
            print(
                f"memory at {self.num_timesteps} steps: {known:.0f} states known, judge "
                f"accuracy {update.report.accuracy:.3f}"
            )


__all__ = ["MemoryCallback", "find_memory"]
