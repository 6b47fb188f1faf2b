"""Collecting from vector environments into one short-term memory in the main process.

Each sub-env is wrapped in :class:`StateFrameInfo`, which puts the state key and the frame into
``info`` (so they cross process boundaries with the rest of the info), and the vector env is
wrapped in :class:`VectorMemoryWrapper`, which adds them to one :class:`ShortTermMemory`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from man_rl.errors import InvalidValueError
from man_rl.keys import KeyFn
from man_rl.memory import ShortTermMemory
from man_rl.wrapper import FrameSource, StateObserver

KEY_INFO = "state_key"
FRAME_INFO = "state_frame"


class StateFrameInfo(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Put the current state's key and frame into ``info`` after ``reset`` and ``step``.

    ``info["state_key"]`` and ``info["state_frame"]`` (uint8). Used inside vector envs, whose
    sub-envs may run in other processes: the frames travel back with the infos and
    :class:`VectorMemoryWrapper` stores them.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = StateFrameInfo(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                               tile_size=8))
        >>> _, info = env.reset(seed=0)
        >>> info["state_key"], info["state_frame"].shape
        ((1, 1, 0), (40, 40, 3))
    """

    def __init__(
        self, env: gym.Env, key_fn: KeyFn | None = None, frame: FrameSource = "auto"
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, key_fn=key_fn, frame=frame)
        gym.Wrapper.__init__(self, env)
        self._observer = StateObserver(env, key_fn, frame)
        self.metadata = self._observer.metadata()

    def _annotate(self, obs: Any, info: dict[str, Any]) -> None:
        key, frame = self._observer.observe(obs, info)
        info[KEY_INFO] = key
        info[FRAME_INFO] = frame

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
    next-step and same-step autoreset modes are both handled).

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
        for i in np.flatnonzero(mask):
            self.memory.add(keys[i], frames[i])

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
    env_id: str,
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
    """``gym.make_vec`` with :class:`StateFrameInfo` on every sub-env and one memory here.

    ``env_kwargs`` go to ``gym.make`` (``render_mode`` defaults to ``"rgb_array"``); async
    envs do not use shared memory, since MiniGrid's mission text cannot live there.
    """
    if num_envs < 1:
        raise InvalidValueError(f"num_envs must be >= 1, got {num_envs}")
    if vectorization_mode not in ("sync", "async"):
        raise InvalidValueError(
            f"vectorization_mode must be 'sync' or 'async', got {vectorization_mode!r}"
        )
    env_kwargs.setdefault("render_mode", "rgb_array")
    vector_kwargs = {"shared_memory": False} if vectorization_mode == "async" else {}
    vec = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode=vectorization_mode,
        vector_kwargs=vector_kwargs,
        wrappers=[*(wrappers or []), partial(StateFrameInfo, key_fn=key_fn, frame=frame)],
        **env_kwargs,
    )
    return VectorMemoryWrapper(vec, capacity=capacity, memory=memory)


def per_env_policy(
    policy: Callable[[Any, dict[str, Any]], Any], num_envs: int
) -> Callable[[Any, dict[str, Any]], np.ndarray]:
    """Turn a single-env ``policy(obs, info)`` into a batch policy for a vector env.

    Sub-env ``i`` gets its own slice of the batched observation (dicts and tuples are sliced
    leaf by leaf) and ``{"state_key": infos["state_key"][i]}`` as its info.
    """

    def slice_obs(obs: Any, i: int) -> Any:
        if isinstance(obs, dict):
            return {k: slice_obs(v, i) for k, v in obs.items()}
        return obs[i]

    def act(obs: Any, infos: dict[str, Any]) -> np.ndarray:
        keys = infos.get(KEY_INFO)
        actions = []
        for i in range(num_envs):
            info = {KEY_INFO: keys[i]} if keys is not None else {}
            actions.append(policy(slice_obs(obs, i), info))
        return np.asarray(actions)

    return act


def collect_vector(
    env: VectorMemoryWrapper,
    policy: Callable[[Any, dict[str, Any]], Any] | None,
    steps: int,
    *,
    seed: int | None = None,
    progress: bool = False,
) -> int:
    """Step ``env`` until ``steps`` sub-env steps in all were taken; returns the steps taken.

    ``policy(obs, infos) -> actions`` acts for the whole batch; ``None`` samples the action
    space. Stops early, without raising, on Ctrl-C (``KeyboardInterrupt``); the caller can
    tell from the count returned.
    """
    from tqdm import tqdm

    taken = 0
    bar = tqdm(total=steps, disable=not progress, unit="step", desc="collect")
    try:
        seeds = None if seed is None else [seed + i for i in range(env.num_envs)]
        obs, infos = env.reset(seed=seeds)
        if seed is not None:
            env.action_space.seed(seed)
        while taken < steps:
            actions = env.action_space.sample() if policy is None else policy(obs, infos)
            obs, _, _, _, infos = env.step(actions)
            taken += env.num_envs
            bar.update(env.num_envs)
    except KeyboardInterrupt:
        pass
    finally:
        bar.close()
    return taken


__all__ = [
    "FRAME_INFO",
    "KEY_INFO",
    "StateFrameInfo",
    "VectorMemoryWrapper",
    "collect_vector",
    "make_memory_vec_env",
    "per_env_policy",
]
