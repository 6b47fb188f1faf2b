"""Policies from agent names: ``make_policy("pretrained" | "random" | PATH, env)`` and evaluation.

A policy is any callable ``policy(obs, info) -> action``; ``info["state_key"]`` is there when
the env is wrapped in :class:`man_rl.MemoryWrapper`. Exploration (epsilon-greedy) is the
caller's business: :func:`man_rl.collection.exploring_policy` wraps any policy.

Example:
    >>> import gymnasium as gym, minigrid
    >>> env = gym.make("MiniGrid-Empty-5x5-v0")
    >>> policy = make_policy("pretrained", env)
    >>> policy.description
    'pretrained tabular agent tabular_minigrid_empty_5x5.npz'
    >>> evaluate(policy, env, episodes=3).success_rate
    1.0
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from man_rl.errors import EnvCompatibilityError, InvalidValueError

from . import zoo

Policy = Callable[[Any, dict[str, Any]], Any]


class AgentPolicy:
    """A ``policy(obs, info) -> action`` with a human-readable description.

    Example:
        >>> policy = AgentPolicy(lambda obs, info: 2, "always forward")
        >>> policy(None, {}), policy.description
        (2, 'always forward')
    """

    def __init__(self, act: Policy, description: str) -> None:
        self._act = act
        self.description = description

    def __call__(self, obs: Any, info: dict[str, Any]) -> Any:
        """The action for ``obs`` and ``info``."""
        return self._act(obs, info)

    def __repr__(self) -> str:
        return f"AgentPolicy({self.description!r})"


class EvalResult(NamedTuple):
    """What :func:`evaluate` measured."""

    episodes: int
    success_rate: float
    mean_length: float
    mean_return: float


def random_policy(action_space: gym.Space, rng: np.random.Generator) -> AgentPolicy:
    """Uniform random actions of a ``Discrete`` space, drawn from ``rng``.

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> policy = random_policy(gym.spaces.Discrete(3), np.random.default_rng(0))
        >>> sorted({policy(None, {}) for _ in range(30)})
        [0, 1, 2]
    """
    if not isinstance(action_space, gym.spaces.Discrete):
        raise EnvCompatibilityError(
            f"the random agent needs a Discrete action space, got {action_space}"
        )
    start, n = int(action_space.start), int(action_space.n)
    return AgentPolicy(lambda obs, info: start + int(rng.integers(n)), "random agent")


def _env_id(env: Any) -> str | None:
    return env.spec.id if getattr(env, "spec", None) is not None else None


def _check_env_id(agent_env: str | None, env: Any, source: str) -> None:
    env_id = _env_id(env)
    if agent_env is not None and env_id is not None and agent_env != env_id:
        raise EnvCompatibilityError(
            f"{source} was trained on {agent_env}, but the env is {env_id}; use an agent "
            f"trained on {env_id}"
        )


def load_agent(path: str | Path) -> Any:
    """Load a saved agent: a tabular ``.npz`` or a DQN ``.zip`` (by suffix, else by content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent file {path} does not exist (or is not a file)")
    kind = {".npz": "tabular", ".zip": "dqn"}.get(path.suffix.lower())
    if kind is None:
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            names = set()
        kind = "dqn" if "data" in names else "tabular" if "q.npy" in names else None
    if kind is None:
        raise InvalidValueError(
            f"{path} is neither a tabular agent (.npz) nor a DQN agent (.zip) written by man_rl"
        )
    if kind == "tabular":
        from .tabular import QTableAgent

        return QTableAgent.load(path)
    from .dqn import DQNAgent

    return DQNAgent.load(path)


def agent_policy(agent: Any, env: Any, description: str) -> AgentPolicy:
    """The greedy policy of a loaded agent (tabular or DQN) acting in ``env``."""
    _check_env_id(agent.env_id, env, description)
    return AgentPolicy(agent.policy(env), description)


def make_policy(agent: str, env: gym.Env, *, seed: int | None = None) -> AgentPolicy:
    """A ``policy(obs, info) -> action`` for ``env`` from an agent name.

    Args:
        agent: ``"pretrained"`` (the shipped agent for ``env.spec.id``; ``"pretrained:dqn"``
            or ``"pretrained:tabular"`` picks the kind), ``"random"`` (uniform actions), or
            the path of a saved tabular ``.npz`` or DQN ``.zip``.
        env: the env the policy acts in (possibly wrapped, e.g. in ``MemoryWrapper``).
        seed: seeds the random agent's generator; trained agents are greedy and ignore it.

    Raises:
        InvalidValueError: no pretrained agent for the env (the message lists those that
            have one), or an unknown agent name.
        FileNotFoundError: ``agent`` is a path that does not exist.
        CorruptFileError: the file is damaged, pickle-bearing, or not what the manifest says.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0")
        >>> obs, info = env.reset(seed=0)
        >>> make_policy("pretrained", env)(obs, {"state_key": (1, 1, 0)})
        2
        >>> make_policy("random", env, seed=0)(obs, info) in range(7)
        True
    """
    if not isinstance(agent, (str, Path)):
        raise InvalidValueError(f"agent must be a string or path, got {agent!r}")
    name = str(agent)
    if name == "random":
        return random_policy(env.action_space, np.random.default_rng(seed))
    if name == "pretrained" or name.startswith("pretrained:"):
        kind = name.partition(":")[2] or None
        recipe = zoo.find_recipe(_env_id(env), kind)
        loaded = load_agent(zoo.verified_file(recipe.filename))
        return agent_policy(loaded, env, f"pretrained {recipe.kind} agent {recipe.filename}")
    if not Path(name).exists():
        raise FileNotFoundError(
            f"agent {name!r} is not 'pretrained', 'random' or an existing agent file "
            "(.npz tabular, .zip DQN)"
        )
    return agent_policy(load_agent(name), env, f"agent {name}")


def evaluate(
    policy: Policy, env: gym.Env, *, episodes: int, seed: int = 0, max_steps: int = 10_000
) -> EvalResult:
    """Run ``episodes`` episodes (env seeds ``seed, seed+1, ...``) and measure the policy.

    An episode succeeds when it terminates with a positive reward (MiniGrid: goal reached).
    An episode still running after ``max_steps`` steps is cut there and counts as a failure.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0")
        >>> evaluate(lambda obs, info: 0, env, episodes=2)  # turning in place never succeeds
        EvalResult(episodes=2, success_rate=0.0, mean_length=100.0, mean_return=0.0)
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise InvalidValueError(f"episodes must be an int >= 1, got {episodes!r}")
    successes, lengths, returns = 0, [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        length, total, done = 0, 0.0, False
        terminated = False
        while not done and length < max_steps:
            obs, reward, terminated, truncated, info = env.step(policy(obs, info))
            length += 1
            total += float(reward)
            done = terminated or truncated
        successes += int(terminated and total > 0)
        lengths.append(length)
        returns.append(total)
    return EvalResult(
        episodes=episodes,
        success_rate=successes / episodes,
        mean_length=float(np.mean(lengths)),
        mean_return=float(np.mean(returns)),
    )


__all__ = [
    "AgentPolicy",
    "EvalResult",
    "Policy",
    "agent_policy",
    "evaluate",
    "load_agent",
    "make_policy",
    "random_policy",
]
