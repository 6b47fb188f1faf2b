"""Collecting from vector environments into one short-term memory in the main process.

Each sub-env is wrapped in :class:`StateFrameInfo`, which puts the state key and the frame into
``info`` (so they cross process boundaries with the rest of the info), and the vector env is
wrapped in :class:`VectorMemoryWrapper`, which adds them to one :class:`ShortTermMemory`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from man_rl.env.collapse import CollapseCheck
from man_rl.env.wrapper import FrameSource, StateObserver
from man_rl.errors import InvalidValueError
from man_rl.keys import KeyFn
from man_rl.stm.memory import ShortTermMemory

KEY_INFO = "state_key"
FRAME_INFO = "state_frame"
#: The key function's chosen settings (JSON text), where it chose any (the cell fallback).
SETTINGS_INFO = "state_key_settings"


class StateFrameInfo(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Put the current state's key and frame into ``info`` after ``reset`` and ``step``.

    ``info["state_key"]`` and ``info["state_frame"]`` (uint8), and, where the key function
    chose its settings from the env (the pixel fallback's cells),
    ``info["state_key_settings"]`` (JSON text). Used inside vector envs, whose sub-envs may
    run in other processes: the frames travel back with the infos and
    :class:`VectorMemoryWrapper` stores them. ``key_settings``: settings a memory saved, so
    the sub-env keys as that memory did.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = StateFrameInfo(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                               tile_size=8))
        >>> _, info = env.reset(seed=0)
        >>> info["state_key"], info["state_frame"].shape
        ((1, 1, 0), (40, 40, 3))
    """

    def __init__(
        self,
        env: gym.Env,
        key_fn: KeyFn | None = None,
        frame: FrameSource = "auto",
        key_settings: dict[str, Any] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, key_fn=key_fn, frame=frame, key_settings=key_settings
        )
        gym.Wrapper.__init__(self, env)
        self._observer = StateObserver(env, key_fn, frame)
        self._observer.use_settings(key_settings)
        self._settings_text: str | None = None
        self.metadata = self._observer.metadata()

    def _annotate(self, obs: Any, info: dict[str, Any]) -> None:
        key, frame = self._observer.observe(obs, info)
        info[KEY_INFO] = key
        info[FRAME_INFO] = frame
        chosen = self._observer.chosen_settings
        if chosen is not None:
            if self._settings_text is None:  # once: the choice is fixed from then on
                self._settings_text = json.dumps(chosen, sort_keys=True)
            info[SETTINGS_INFO] = self._settings_text

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset and annotate ``info``."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._annotate(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step and annotate ``info`` (the terminal step too)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._annotate(obs, info)
        return obs, reward, terminated, truncated, info


class VectorMemoryWrapper(gym.vector.VectorWrapper):
    """Store every sub-env's frames in one :class:`ShortTermMemory` in this process.

    The sub-envs must be wrapped in :class:`StateFrameInfo` (see :func:`make_memory_vec_env`).
    Frames are added sub-env by sub-env at each step; a sub-env's own sequence of states is the
    one it would give alone with the same seed, its terminal frame included (gymnasium's
    next-step and same-step autoreset modes are both handled). Settings the sub-envs' key
    function chose (the pixel fallback's cells) are saved in ``memory.key_settings``, and a
    key that collapses warns once, as :class:`~man_rl.env.wrapper.MemoryWrapper` does.

    Example:
        >>> env = make_memory_vec_env("MiniGrid-Empty-5x5-v0", num_envs=2,
        ...                           vectorization_mode="sync", capacity=10, tile_size=8)
        >>> _ = env.reset(seed=[0, 1])
        >>> env.memory.counts()
        {(1, 1, 0): 2}
        >>> env.close()
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        capacity: int | None = None,
        memory: ShortTermMemory | None = None,
    ) -> None:
        super().__init__(env)
        if memory is not None and capacity is not None and capacity != memory.capacity:
            raise InvalidValueError(
                f"capacity={capacity} conflicts with the given memory's capacity "
                f"{memory.capacity}; pass only one of them"
            )
        self.memory = memory if memory is not None else ShortTermMemory(capacity or 500)
        self._collapse = CollapseCheck()
        # the settings text last checked, and the memory's settings it was checked against
        self._settings_seen: tuple[str, Any] | None = None

    def _store(self, infos: dict[str, Any]) -> None:
        final = infos.get("final_info")
        if isinstance(final, dict) and FRAME_INFO in final:  # same-step autoreset
            self._store_from(final)
        self._store_from(infos)

    def _store_from(self, infos: dict[str, Any]) -> None:
        mask = infos.get(f"_{FRAME_INFO}")
        if mask is None:
            if FRAME_INFO not in infos:
                raise InvalidValueError(
                    "the vector env's infos carry no state frames: wrap each sub-env in "
                    "StateFrameInfo (make_memory_vec_env does)"
                )
            mask = np.ones(self.num_envs, dtype=bool)
        keys, frames = infos[KEY_INFO], infos[FRAME_INFO]
        chosen = np.flatnonzero(mask)
        self._settings(infos, chosen)
        for i in chosen:
            self.memory.add(keys[i], frames[i])
        self._collapse.added(self.memory, len(chosen))

    def _already_kept(self, text: str) -> bool:
        """Whether ``text`` was checked against the settings this memory holds now."""
        seen = self._settings_seen
        return seen is not None and seen[0] == text and seen[1] is self.memory.key_settings

    def _settings(self, infos: dict[str, Any], chosen: np.ndarray) -> None:
        """Keep the settings the sub-envs' key function chose; refuse sub-envs that differ."""
        texts = infos.get(SETTINGS_INFO)
        if texts is None:
            return
        have = infos.get(f"_{SETTINGS_INFO}", np.ones(self.num_envs, dtype=bool))
        for i in chosen:
            if not have[i] or self._already_kept(texts[i]):
                continue  # the usual step: these settings already kept, nothing to parse
            settings = json.loads(texts[i])
            if self.memory.key_settings is None:
                self.memory.key_settings = settings
            if settings == self.memory.key_settings:
                self._settings_seen = (texts[i], self.memory.key_settings)
            else:
                raise InvalidValueError(
                    f"sub-env {i} keys with {settings} but the memory's keys were made with "
                    f"{self.memory.key_settings}; give every sub-env the same key function "
                    "(make_memory_vec_env(key_fn=...), e.g. a fixed man_rl.envs.CellKey)"
                )

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset all sub-envs and store their first frames."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self._store(infos)
        return obs, infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Step all sub-envs and store their new frames."""
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self._store(infos)
        return obs, rewards, terminations, truncations, infos


def make_memory_vec_env(
    env: str | Callable[[], gym.Env],
    num_envs: int,
    *,
    vectorization_mode: Literal["sync", "async"] = "async",
    capacity: int | None = None,
    memory: ShortTermMemory | None = None,
    key_fn: KeyFn | None = None,
    frame: FrameSource = "auto",
    wrappers: list[Callable[[gym.Env], gym.Wrapper]] | None = None,
    **env_kwargs: Any,
) -> VectorMemoryWrapper:
    """A vector env of ``num_envs`` copies, :class:`StateFrameInfo` on each, one memory here.

    ``env`` is an env id (made with ``gym.make_vec``; ``env_kwargs`` go to ``gym.make``,
    ``render_mode`` defaulting to ``"rgb_array"``) or a factory ``make_env() -> gym.Env``
    (picklable for ``"async"``). Async envs do not use shared memory, since MiniGrid's
    mission text cannot live there.
    """
    if num_envs < 1:
        raise InvalidValueError(f"num_envs must be >= 1, got {num_envs}")
    if vectorization_mode not in ("sync", "async"):
        raise InvalidValueError(
            f"vectorization_mode must be 'sync' or 'async', got {vectorization_mode!r}"
        )
    settings = memory.key_settings if memory is not None else None
    annotate = partial(StateFrameInfo, key_fn=key_fn, frame=frame, key_settings=settings)
    vector_kwargs = {"shared_memory": False} if vectorization_mode == "async" else {}
    if callable(env):
        if env_kwargs:
            raise InvalidValueError("env_kwargs go with an env id; a factory makes its own env")
        make = partial(_annotated, env, [*(wrappers or []), annotate])
        kind = (
            gym.vector.AsyncVectorEnv if vectorization_mode == "async" else gym.vector.SyncVectorEnv
        )
        vec = kind([make] * num_envs, **vector_kwargs)
    else:
        env_kwargs.setdefault("render_mode", "rgb_array")
        vec = gym.make_vec(
            env,
            num_envs=num_envs,
            vectorization_mode=vectorization_mode,
            vector_kwargs=vector_kwargs,
            wrappers=[*(wrappers or []), annotate],
            **env_kwargs,
        )
    return VectorMemoryWrapper(vec, capacity=capacity, memory=memory)


def _annotated(make_env: Callable[[], gym.Env], wrappers: list[Callable]) -> gym.Env:
    env = make_env()
    for wrap in wrappers:
        env = wrap(env)
    return env


__all__ = [
    "FRAME_INFO",
    "KEY_INFO",
    "SETTINGS_INFO",
    "StateFrameInfo",
    "VectorMemoryWrapper",
    "make_memory_vec_env",
]
