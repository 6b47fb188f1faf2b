"""``MemoryWrapper``: a Gymnasium wrapper writing every state's screen to a short-term memory."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np

from man_rl.env.adapter import EnvAdapter, adapter_for
from man_rl.env.collapse import CollapseCheck
from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.keys import KeyFn
from man_rl.stm.memory import ShortTermMemory

FrameSource = Literal["auto", "render", "observation"]
_DEFAULT_CAPACITY = 500


def _is_image_space(space: gym.Space) -> bool:
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) in (2, 3)
        and (len(space.shape) == 2 or space.shape[2] in (1, 3, 4))
    )


class StateObserver:
    """Reads the state key and the frame of the state an env is in (shared by the wrappers).

    Checks the configuration once, at construction: the frame source (render or image
    observation) and the key function (given, or the env adapter's,
    :func:`~man_rl.env.adapter.adapter_for`). ``expected_states`` is the adapter's state
    count when the adapter names the keys, else ``None``.

    A key function with the attribute ``from_frame = True`` (a key computed from pixels) is
    called with the frame in place of the observation, so a rendered frame is rendered once.

    A key *chooser* (with ``choose(env, frame) -> key_fn`` and ``restore(settings) ->
    key_fn``, e.g. :class:`man_rl.envs.DynamicCellKey`, the pixel fallback's key) picks its
    key function once: from the settings a memory saved (:meth:`use_settings`), else at the
    first frame; :attr:`chosen_settings` are then what a memory should save.

    Example:
        >>> import gymnasium as gym
        >>> def brightness(env, frame, info):
        ...     return int(frame.mean() > 128)
        >>> brightness.from_frame = True
        >>> env = gym.make("CartPole-v1", render_mode="rgb_array")
        >>> obs, info = env.reset(seed=0)
        >>> key, frame = StateObserver(env, brightness, "auto").observe(obs, info)
        >>> key, frame.shape
        (1, (400, 600, 3))
    """

    def __init__(
        self,
        env: gym.Env,
        key_fn: KeyFn | None,
        frame: FrameSource,
        adapter: EnvAdapter | None = None,
    ) -> None:
        self.env = env
        self.use_render = self._choose_frame_source(env, frame)
        if key_fn is not None and not callable(key_fn):
            raise InvalidValueError(f"key_fn must be callable, got {key_fn!r}")
        if key_fn is None and adapter is None:
            adapter = adapter_for(env)
        self.key_fn: KeyFn = key_fn if key_fn is not None else adapter.key  # type: ignore[union-attr]
        self.expected_states = adapter.state_count(env) if key_fn is None else None  # type: ignore[union-attr]
        self.from_frame = getattr(self.key_fn, "from_frame", False) is True
        chooses = callable(getattr(self.key_fn, "choose", None))
        self._chooser: Any = self.key_fn if chooses else None
        self.chosen_settings: dict[str, Any] | None = None

    def use_settings(self, settings: dict[str, Any] | None) -> None:
        """Key as a memory's saved ``settings`` say (a no-op without a chooser or settings)."""
        if self._chooser is not None and settings is not None:
            self._settle(self._chooser.restore(settings))

    def _settle(self, key_fn: Any) -> None:
        self.key_fn, self._chooser = key_fn, None
        settings = getattr(key_fn, "settings", None)
        self.chosen_settings = settings() if callable(settings) else None

    @staticmethod
    def _choose_frame_source(env: gym.Env, frame: str) -> bool:
        if frame not in ("auto", "render", "observation"):
            raise InvalidValueError(
                f"frame must be 'auto', 'render' or 'observation', got {frame!r}"
            )
        renders = env.render_mode == "rgb_array"
        if frame == "render" or (frame == "auto" and renders):
            if not renders:
                raise EnvCompatibilityError(
                    f"MemoryWrapper(frame='render') needs an env made with "
                    f"render_mode='rgb_array', got render_mode={env.render_mode!r}; e.g. "
                    "gym.make(env_id, render_mode='rgb_array')"
                )
            return True
        if _is_image_space(env.observation_space):
            return False
        raise EnvCompatibilityError(
            f"MemoryWrapper needs screens: make the env with render_mode='rgb_array' (got "
            f"{env.render_mode!r}), or use an env whose observation is a uint8 image (got "
            f"{env.observation_space})"
        )

    def metadata(self) -> dict[str, Any]:
        """The env's metadata, restricted to the render mode that gives screens."""
        if self.use_render:
            return {**self.env.metadata, "render_modes": ["rgb_array"]}
        return self.env.metadata

    def observe(self, obs: Any, info: dict[str, Any]) -> tuple[Hashable, np.ndarray]:
        """``(key, frame)`` of the state the env is in now."""
        frame = self.env.render() if self.use_render else obs
        if self._chooser is not None:
            self._settle(self._chooser.choose(self.env, np.asarray(frame)))
        return self.key_fn(self.env, frame if self.from_frame else obs, info), frame


class MemoryWrapper(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Store the screen of every state the agent visits in a :class:`ShortTermMemory`.

    After ``reset`` and after every ``step`` the wrapper takes the frame of the state the agent
    is now in (``env.render()``, or the observation when it is an image) and adds it under that
    state's key. The key is also put in ``info["state_key"]``. The terminal step's frame is
    stored too, before any autoreset. Calling ``render()`` after a step returns the frame
    already taken, so the env is rendered once per step.

    Keys come from ``key_fn(env, obs, info) -> hashable`` when given, else from the env's
    adapter (:mod:`man_rl.env.adapter`): MiniGrid envs -> ``(x, y, direction)``,
    ``Discrete`` observations -> the observation, and so on for the adapters installed.

    A pixel env with no adapter of its own gets :class:`man_rl.envs.DynamicCellKey`: cells
    sized for the game from a short random walk in a copy of it, chosen at the first frame
    and saved in ``memory.key_settings``; a memory that has them keys new frames the same
    way. When one key comes to hold most frames while its screens differ widely, the
    wrapper warns once (:class:`~man_rl.env.collapse.KeyCollapseWarning`): pass ``key_fn``.

    Gymnasium 1.x wrappers do not forward attributes: reach the memory of a re-wrapped env
    with ``env.get_wrapper_attr("memory")``.

    Args:
        env: the environment to wrap.
        capacity: frames kept per state (default 500) when the wrapper makes its own memory.
        key_fn: ``key_fn(env, obs, info)`` naming the state the agent is in; one with the
            attribute ``from_frame = True`` is given the frame as ``obs``.
        memory: a memory to write into (e.g. one shared by several envs); give either this
            or ``capacity``.
        frame: ``"render"``, ``"observation"``, or ``"auto"`` (render when the env's
            ``render_mode`` is ``"rgb_array"``, else an image observation).
        adapter: the :class:`~man_rl.env.adapter.EnvAdapter` naming the keys (default: the
            first installed one that matches ``env``); ignored when ``key_fn`` is given.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = MemoryWrapper(gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array",
        ...                              tile_size=8), capacity=100)
        >>> obs, info = env.reset(seed=0)
        >>> info["state_key"]
        (1, 1, 0)
        >>> obs, reward, terminated, truncated, info = env.step(2)  # forward
        >>> env.memory.counts()
        {(1, 1, 0): 1, (2, 1, 0): 1}
    """

    def __init__(
        self,
        env: gym.Env,
        capacity: int | None = None,
        key_fn: KeyFn | None = None,
        memory: ShortTermMemory | None = None,
        frame: FrameSource = "auto",
        adapter: EnvAdapter | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, capacity=capacity, key_fn=key_fn, memory=memory, frame=frame, adapter=adapter
        )
        gym.Wrapper.__init__(self, env)
        if memory is not None and capacity is not None and capacity != memory.capacity:
            raise InvalidValueError(
                f"capacity={capacity} conflicts with the given memory's capacity "
                f"{memory.capacity}; pass only one of them"
            )
        if memory is not None and not isinstance(memory, ShortTermMemory):
            raise InvalidValueError(f"memory must be a ShortTermMemory, got {type(memory)}")
        self._observer = StateObserver(env, key_fn, frame, adapter)
        # The wrapper needs screens, so it only supports the render mode that gives them.
        self.metadata = self._observer.metadata()
        self.memory: ShortTermMemory = (
            memory if memory is not None else ShortTermMemory(capacity or _DEFAULT_CAPACITY)
        )
        self._observer.use_settings(self.memory.key_settings)
        self._collapse = CollapseCheck()
        self._frame: np.ndarray | None = None
        self.last_key: Hashable | None = None

    def _remember(self, obs: Any, info: dict[str, Any]) -> None:
        key, frame = self._observer.observe(obs, info)
        if self.memory.frame_shape is None and self._observer.expected_states is not None:
            self.memory.check_fits(self._observer.expected_states, np.shape(frame))
        if self.memory.key_settings is None:
            self.memory.key_settings = self._observer.chosen_settings
        self.memory.add(key, frame)
        self._collapse.added(self.memory)
        self._frame = frame
        self.last_key = key
        info["state_key"] = key

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and store the first state's frame."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._remember(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and store the new state's frame (also on the terminal step)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._remember(obs, info)
        return obs, reward, terminated, truncated, info

    def render(self) -> Any:
        """The frame taken at the last step (rendered once), else the env's own render."""
        if self._observer.use_render and self._frame is not None:
            return self._frame
        return self.env.render()


__all__ = ["FrameSource", "MemoryWrapper", "StateObserver"]
