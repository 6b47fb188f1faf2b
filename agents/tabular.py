"""Tabular Q-learning on state keys, saved as a small pickle-free ``.npz``.

The table has one row per state key (any key :func:`man_rl.keys.normalize_key` accepts, e.g.
MiniGrid's ``(x, y, direction)``) and one column per action. Greedy ties go to the lowest
action index, so a trained agent is deterministic.

Example:
    >>> import gymnasium as gym
    >>> from man_rl.envs import register_envs
    >>> _ = register_envs()
    >>> env = gym.make("ManRL/Empty-4x4-v0")
    >>> agent = QTableAgent.for_env(env)
    >>> result = agent.train(env, episodes=300, seed=0)
    >>> agent.act((1, 1, 0)), agent.act((2, 1, 0))  # forward, then turn right (down)
    (2, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from man_rl.env.adapter import default_key_fn
from man_rl.errors import InvalidValueError
from man_rl.keys import KeyFn, encode_key, normalize_key

from .qtable_file import FORMAT_VERSION, corrupt, read_table, write_table

EpsilonSchedule = float | tuple[float, float]


class TrainResult(NamedTuple):
    """What :meth:`QTableAgent.train` did."""

    episodes: int
    steps: int
    successes: int
    final_epsilon: float


def check_probability(name: str, value: float) -> float:
    """Return ``value`` as a float if it is in ``[0, 1]``, else raise :class:`InvalidValueError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def linear_epsilon(schedule: EpsilonSchedule, fraction: float) -> Callable[[float], float]:
    """``progress in [0, 1] -> epsilon``: constant, or linear from start to end over ``fraction``.

    Example:
        >>> eps = linear_epsilon((1.0, 0.1), fraction=0.5)
        >>> eps(0.0), round(eps(0.25), 3), eps(0.9)
        (1.0, 0.55, 0.1)
    """
    if isinstance(schedule, tuple):
        if len(schedule) != 2:
            raise InvalidValueError(f"epsilon must be a number or (start, end), got {schedule!r}")
        start, end = (check_probability("epsilon", v) for v in schedule)
    else:
        start = end = check_probability("epsilon", schedule)
    fraction = check_probability("exploration_fraction", fraction)

    def epsilon(progress: float) -> float:
        if fraction == 0 or progress >= fraction:
            return end
        return start + (end - start) * progress / fraction

    return epsilon


class QTableAgent:
    """A Q-table over state keys, trained by one-step Q-learning.

    Args:
        n_actions: size of the ``Discrete`` action space.
        action_start: the action space's ``start`` (actions are ``start .. start+n-1``).
        env_id: the env the agent is for (recorded in its file, checked by ``make_policy``).

    Example:
        >>> agent = QTableAgent(3)
        >>> agent.act(("room", 1))  # unknown keys have Q = 0; ties go to the lowest action
        0
        >>> agent.update(("room", 1), 2, 1.0, None, alpha=0.5, gamma=0.9)
        >>> agent.act(("room", 1)), agent.q_values(("room", 1)).tolist()
        (2, [0.0, 0.0, 0.5])
    """

    def __init__(self, n_actions: int, *, action_start: int = 0, env_id: str | None = None):
        if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)):
            raise InvalidValueError(f"n_actions must be an int >= 1, got {n_actions!r}")
        if n_actions < 1:
            raise InvalidValueError(f"n_actions must be >= 1, got {n_actions}")
        self.n_actions = int(n_actions)
        self.action_start = int(action_start)
        self.env_id = env_id
        self._rows: dict[Hashable, int] = {}
        self._q = np.zeros((16, self.n_actions), dtype=np.float64)
        self.training: dict[str, Any] = {}

    @classmethod
    def for_env(cls, env: Any) -> QTableAgent:
        """An empty table sized for ``env``'s ``Discrete`` action space."""
        import gymnasium as gym

        space = env.action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise InvalidValueError(
                f"tabular Q-learning needs a Discrete action space, got {space}"
            )
        env_id = env.spec.id if env.spec is not None else None
        return cls(int(space.n), action_start=int(space.start), env_id=env_id)

    @property
    def keys(self) -> list[Hashable]:
        """State keys with a row, in first-seen order."""
        return list(self._rows)

    @property
    def q(self) -> np.ndarray:
        """The table, ``[len(keys), n_actions]`` (a read-only view)."""
        view = self._q[: len(self._rows)]
        view.flags.writeable = False
        return view

    def _row(self, key: Hashable) -> int:
        row = self._rows.get(key)
        if row is None:
            row = len(self._rows)
            if row == len(self._q):
                self._q = np.concatenate([self._q, np.zeros_like(self._q)])
            self._rows[key] = row
        return row

    def q_values(self, key: Hashable) -> np.ndarray:
        """Q of every action in state ``key`` (zeros for a key never seen)."""
        row = self._rows.get(normalize_key(key))
        if row is None:
            return np.zeros(self.n_actions)
        return self._q[row].copy()

    def act(
        self, key: Hashable, *, epsilon: float = 0.0, rng: np.random.Generator | None = None
    ) -> int:
        """Greedy action in ``key`` (lowest index on ties), random with chance ``epsilon``."""
        if epsilon > 0:
            if rng is None:
                raise InvalidValueError("epsilon > 0 needs rng=np.random.Generator")
            if rng.random() < epsilon:
                return self.action_start + int(rng.integers(self.n_actions))
        row = self._rows.get(normalize_key(key))
        best = 0 if row is None else int(np.argmax(self._q[row]))
        return self.action_start + best

    def update(
        self,
        key: Hashable,
        action: int,
        reward: float,
        next_key: Hashable | None,
        *,
        alpha: float,
        gamma: float,
    ) -> None:
        """One Q-learning step; ``next_key=None`` marks a terminal transition (no bootstrap)."""
        row = self._row(normalize_key(key))
        target = float(reward)
        if next_key is not None:
            next_row = self._rows.get(normalize_key(next_key))
            if next_row is not None:
                target += gamma * float(self._q[next_row].max())
        column = int(action) - self.action_start
        self._q[row, column] += alpha * (target - self._q[row, column])

    def train(
        self,
        env: Any,
        *,
        episodes: int | None = None,
        steps: int | None = None,
        alpha: float = 0.5,
        gamma: float = 0.9,
        epsilon: EpsilonSchedule = (1.0, 0.05),
        exploration_fraction: float = 0.5,
        seed: int | None = None,
        key_fn: KeyFn | None = None,
    ) -> TrainResult:
        """Q-learning in ``env`` until ``episodes`` episodes or ``steps`` steps (whichever first).

        Keys come from ``info["state_key"]`` (set by :class:`man_rl.MemoryWrapper`), else
        ``key_fn(env, obs, info)`` (default: :func:`man_rl.keys.default_key_fn`). Epsilon
        decays linearly from ``epsilon[0]`` to ``epsilon[1]`` over the first
        ``exploration_fraction`` of the budget. ``seed`` seeds the first ``reset`` and the
        exploration generator. Truncated episodes bootstrap; terminated ones do not.
        """
        for name, value in (("episodes", episodes), ("steps", steps)):
            if value is not None and (isinstance(value, bool) or value < 1):
                raise InvalidValueError(f"{name} must be >= 1, got {value!r}")
        if episodes is None and steps is None:
            raise InvalidValueError("give episodes=N or steps=N (or both) to train")
        alpha = check_probability("alpha", alpha)
        gamma = check_probability("gamma", gamma)
        schedule = linear_epsilon(epsilon, exploration_fraction)
        key_fn = key_fn if key_fn is not None else default_key_fn(env)
        rng = np.random.default_rng(seed)

        def key_of(obs: Any, info: dict[str, Any]) -> Hashable:
            return info["state_key"] if "state_key" in info else key_fn(env, obs, info)

        def progress() -> float:
            done = [episodes_done / episodes] if episodes else []
            done += [steps_done / steps] if steps else []
            return max(done)

        episodes_done = steps_done = successes = 0
        obs, info = env.reset(seed=seed)
        key = key_of(obs, info)
        eps = schedule(0.0)
        while (episodes is None or episodes_done < episodes) and (
            steps is None or steps_done < steps
        ):
            eps = schedule(progress())
            action = self.act(key, epsilon=eps, rng=rng)
            obs, reward, terminated, truncated, info = env.step(action)
            steps_done += 1
            next_key = key_of(obs, info)
            self.update(
                key,
                action,
                float(reward),
                None if terminated else next_key,
                alpha=alpha,
                gamma=gamma,
            )
            key = next_key
            if terminated or truncated:
                episodes_done += 1
                successes += int(terminated and float(reward) > 0)
                obs, info = env.reset()
                key = key_of(obs, info)
        self.training = {
            "episodes": episodes_done,
            "steps": steps_done,
            "alpha": alpha,
            "gamma": gamma,
            "epsilon": list(epsilon) if isinstance(epsilon, tuple) else epsilon,
            "exploration_fraction": exploration_fraction,
            "seed": seed,
        }
        return TrainResult(episodes_done, steps_done, successes, eps)

    def policy(self, env: Any = None, key_fn: KeyFn | None = None) -> Callable[[Any, dict], int]:
        """A greedy ``policy(obs, info) -> action``.

        The key is ``info["state_key"]`` when present (MemoryWrapper puts it there), else
        ``key_fn(env, obs, info)`` (default: the env's default key function).

        Example:
            >>> agent = QTableAgent(3)
            >>> agent.policy()(None, {"state_key": (1, 1, 0)})
            0
        """
        fallback: list[KeyFn] = [key_fn] if key_fn is not None else []

        def act(obs: Any, info: dict[str, Any]) -> int:
            if "state_key" in info:
                return self.act(info["state_key"])
            if not fallback:
                if env is None:
                    raise InvalidValueError(
                        "info has no 'state_key' (wrap the env in MemoryWrapper) and the "
                        "policy was made without env or key_fn to compute it"
                    )
                fallback.append(default_key_fn(env))
            return self.act(fallback[0](env, obs, info))

        return act

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table to ``path`` (an ``.npz``) atomically; returns the path."""
        keys = [encode_key(k) for k in self._rows]
        settings = {"n_actions": self.n_actions, "action_start": self.action_start}
        return write_table(
            path, self.q, keys, {**settings, "env_id": self.env_id, "training": self.training}
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> QTableAgent:
        """Load a table saved by :meth:`save`; nothing is unpickled.

        Raises :class:`CorruptFileError` for pickle-bearing, damaged or foreign files
        (:func:`~man_rl.agents.qtable_file.read_table`).

        Example:
            >>> import pathlib, tempfile
            >>> agent = QTableAgent(3)
            >>> agent.update((1, 2, 0), 1, 1.0, None, alpha=1.0, gamma=0.9)
            >>> path = agent.save(pathlib.Path(tempfile.mkdtemp()) / "q.npz")
            >>> QTableAgent.load(path).act((1, 2, 0))
            1
        """
        path = Path(path)
        q, keys, meta = read_table(path)
        agent = cls(
            meta["n_actions"],
            action_start=int(meta.get("action_start", 0)),
            env_id=meta.get("env_id"),
        )
        for key in keys:
            agent._row(key)
        if len(agent._rows) != len(keys):
            raise corrupt(path, "duplicate keys")
        agent._q[: len(keys)] = q
        agent.training = meta.get("training") or {}
        return agent


__all__ = ["FORMAT_VERSION", "QTableAgent", "TrainResult", "check_probability", "linear_epsilon"]
