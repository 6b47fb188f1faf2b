"""A stable-baselines3 DQN adapter for MiniGrid, saved in SB3's zip and loaded without pickle.

The network sees a small vector, not pixels: one-hot ``x``, one-hot ``y`` and one-hot
direction of the agent (:class:`PositionObservation`), which a 64 x 64 MLP learns on a CPU in
well under a minute on MiniGrid-Empty-5x5-v0.

Loading never unpickles. SB3's zip stores some attributes (spaces, schedules, classes, the
last observation) as cloudpickled ``":serialized:"`` entries of its ``data`` JSON that
``DQN.load`` would run. :meth:`DQNAgent.load` reads that JSON itself and hands ``DQN.load`` a
``custom_objects`` replacement for *every* serialized entry (spaces rebuilt from our own
``man_rl.json`` in the zip, the rest neutral), so none reaches cloudpickle; SB3 reads the
``.pth`` parts with ``torch.load(weights_only=True)``. A SHA-256 of the zip's other members is
recorded in ``man_rl.json`` and checked first.

Example:
    >>> import gymnasium as gym, minigrid
    >>> env = PositionObservation(gym.make("MiniGrid-Empty-5x5-v0"))
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.nonzero()[0].tolist()  # x=1, y=1 (offset 5), direction 0 (offset 10)
    ((14,), [1, 6, 10])
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from man_rl.errors import (
    CorruptFileError,
    EnvCompatibilityError,
    InvalidValueError,
)
from man_rl.io.atomic import write_bytes_atomically

from .qtable_file import check_format

FORMAT = "man_rl.dqn"
FORMAT_VERSION = 1
META_NAME = "man_rl.json"

#: DQN settings used unless overridden: small, fast on a CPU, enough for Empty-5x5.
DEFAULT_HYPERPARAMS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "buffer_size": 20_000,
    "learning_starts": 1_000,
    "batch_size": 64,
    "gamma": 0.95,
    "train_freq": 4,
    "target_update_interval": 250,
    "exploration_fraction": 0.3,
    "exploration_final_eps": 0.05,
    "policy_kwargs": {"net_arch": [64, 64]},
}


def _minigrid_base(env: Any) -> Any:
    base = env.unwrapped
    if not all(hasattr(base, n) for n in ("agent_pos", "agent_dir", "width", "height")):
        raise EnvCompatibilityError(
            f"the DQN adapter needs a MiniGrid env (agent_pos, agent_dir), got {base!r}"
        )
    return base


def position_features(env: Any) -> np.ndarray:
    """One-hot ``x`` (width), one-hot ``y`` (height), one-hot direction (4), float32.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0")
        >>> _ = env.reset(seed=0)
        >>> position_features(env).sum(), position_features(env).shape
        (np.float32(3.0), (14,))
    """
    base = _minigrid_base(env)
    x, y = base.agent_pos
    return key_features((int(x), int(y), int(base.agent_dir)), base.width, base.height)


def key_features(key: tuple[int, int, int], width: int, height: int) -> np.ndarray:
    """:func:`position_features` of the state key ``(x, y, direction)``.

    Example:
        >>> key_features((1, 2, 3), 5, 5).nonzero()[0].tolist()
        [1, 7, 13]
    """
    x, y, direction = key
    features = np.zeros(width + height + 4, dtype=np.float32)
    features[int(x)] = 1.0
    features[width + int(y)] = 1.0
    features[width + height + int(direction)] = 1.0
    return features


class PositionObservation(gym.ObservationWrapper[np.ndarray, Any, Any]):
    """Replace a MiniGrid observation by :func:`position_features` of the agent.

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = PositionObservation(gym.make("MiniGrid-Empty-5x5-v0"))
        >>> env.observation_space.shape
        (14,)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        base = _minigrid_base(env)
        self.observation_space = position_space(base.width, base.height)

    def observation(self, observation: Any) -> np.ndarray:
        """The agent's position and direction as one-hot vectors."""
        return position_features(self.env)


def position_space(width: int, height: int) -> gym.spaces.Box:
    """The observation space of :class:`PositionObservation` for a ``width x height`` grid."""
    return gym.spaces.Box(0.0, 1.0, shape=(width + height + 4,), dtype=np.float32)


class DQNAgent:
    """An SB3 DQN acting on :func:`position_features` of a MiniGrid env.

    Args:
        model: a trained ``stable_baselines3.DQN`` whose observation is ``position_space``.
        width: grid width the model was trained on.
        height: grid height the model was trained on.
        env_id: the env it was trained on (recorded in its file).
        training: how it was trained (recorded in its file).

    Example:
        >>> import gymnasium as gym, minigrid
        >>> env = gym.make("MiniGrid-Empty-5x5-v0")
        >>> agent = DQNAgent.train(env, steps=64, seed=0, learning_starts=32)
        >>> _ = env.reset(seed=0)
        >>> agent.act(position_features(env)) in range(7)
        True
    """

    def __init__(
        self,
        model: Any,
        *,
        width: int,
        height: int,
        env_id: str | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.width = int(width)
        self.height = int(height)
        self.env_id = env_id
        self.training = dict(training or {})

    @classmethod
    def train(
        cls, env: gym.Env, *, steps: int, seed: int | None = 0, progress: bool = False, **hyper: Any
    ) -> DQNAgent:
        """Train a DQN on ``env`` (a MiniGrid env) for ``steps`` env steps.

        ``hyper`` overrides :data:`DEFAULT_HYPERPARAMS` (any ``stable_baselines3.DQN``
        keyword). SB3 seeds torch's and numpy's global generators from ``seed``.
        """
        from stable_baselines3 import DQN

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidValueError(f"steps must be an int >= 1, got {steps!r}")
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise EnvCompatibilityError(
                f"DQN needs a Discrete action space, got {env.action_space}"
            )
        base = _minigrid_base(env)
        settings = {**DEFAULT_HYPERPARAMS, **hyper}
        model = DQN("MlpPolicy", PositionObservation(env), seed=seed, device="cpu", **settings)
        model.learn(total_timesteps=steps, progress_bar=progress)
        return cls(
            model,
            width=base.width,
            height=base.height,
            env_id=env.spec.id if env.spec is not None else None,
            training={"steps": steps, "seed": seed, **settings},
        )

    def act(self, features: np.ndarray) -> int:
        """Greedy action (highest Q, lowest index on ties) for a features vector."""
        import torch

        with torch.no_grad():
            q = self.model.q_net(torch.as_tensor(features, dtype=torch.float32)[None])
        action_space = self.model.action_space
        return int(action_space.start) + int(np.argmax(q[0].numpy()))

    def policy(self, env: Any) -> Callable[[Any, dict], int]:
        """A greedy ``policy(obs, info) -> action``.

        The agent's position is ``info["state_key"]`` (``(x, y, direction)``, as
        MemoryWrapper puts it there; so the policy also acts for sub-envs in other
        processes), else read from ``env``.
        """
        base = _minigrid_base(env)
        if (base.width, base.height) != (self.width, self.height):
            raise EnvCompatibilityError(
                f"this DQN was trained on a {self.width} x {self.height} grid, the env is "
                f"{base.width} x {base.height}"
            )

        def act(obs: Any, info: dict[str, Any]) -> int:
            key = info.get("state_key")
            if key is not None:
                return self.act(key_features(key, self.width, self.height))
            return self.act(position_features(env))

        return act

    def _meta(self) -> dict[str, Any]:
        space = self.model.action_space
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "observation": "position-onehot",
            "width": self.width,
            "height": self.height,
            "n_actions": int(space.n),
            "action_start": int(space.start),
            "env_id": self.env_id,
            "training": self.training,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write SB3's zip (plus our ``man_rl.json``) to ``path`` atomically; returns the path."""
        buffer = io.BytesIO()
        self.model.save(buffer, exclude=["replay_buffer"])
        meta = self._meta()
        with zipfile.ZipFile(buffer, "a") as archive:
            meta["sha256"] = _members_digest(archive)
            archive.writestr(META_NAME, json.dumps(meta, sort_keys=True, default=str))
        return write_bytes_atomically(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DQNAgent:
        """Load a file written by :meth:`save` so that nothing in it is unpickled.

        Raises :class:`CorruptFileError` for damaged files, files without our metadata (any
        other SB3 zip: we cannot rebuild its spaces without unpickling them) and bad checksums.
        """
        from stable_baselines3 import DQN

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (or is not a file)")
        raw = path.read_bytes()  # verify and load the same bytes
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = set(archive.namelist())
                if "data" not in names or META_NAME not in names:
                    raise _corrupt(
                        path,
                        f"no 'data' or '{META_NAME}' entry; man_rl loads only DQN files it "
                        "wrote itself, since other SB3 zips need unpickling",
                    )
                meta = json.loads(archive.read(META_NAME).decode("utf-8"))
                data = json.loads(archive.read("data").decode("utf-8"))
                digest = _members_digest(archive)
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, ValueError) as err:
            if isinstance(err, CorruptFileError):
                raise
            raise _corrupt(path, f"{type(err).__name__}: {err}") from None
        meta = _check_meta(path, meta)
        if not isinstance(data, dict):
            raise _corrupt(path, "'data' is not a JSON object")
        if meta.get("sha256") != digest:
            raise _corrupt(path, "checksum mismatch")
        custom = _safe_objects(data, meta)
        try:
            model = DQN.load(io.BytesIO(raw), custom_objects=custom, device="cpu", buffer_size=1)
        except (KeyError, RuntimeError, ValueError, TypeError, AssertionError) as err:
            raise _corrupt(path, f"SB3 could not rebuild the model: {err}") from None
        return cls(
            model,
            width=meta["width"],
            height=meta["height"],
            env_id=meta.get("env_id"),
            training=meta.get("training"),
        )


def _members_digest(archive: zipfile.ZipFile) -> str:
    digest = hashlib.sha256()
    for name in sorted(n for n in archive.namelist() if n != META_NAME):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(archive.read(name))
    return digest.hexdigest()


def _corrupt(path: Path, why: str) -> CorruptFileError:
    return CorruptFileError(f"{path} is not a valid man_rl DQN file ({why})")


def _check_meta(path: Path, meta: Any) -> dict[str, Any]:
    foreign = f"'{META_NAME}' is not man_rl DQN metadata"
    check_format(path, meta, (FORMAT, FORMAT_VERSION, "a DQN file"), _corrupt, foreign)
    for name in ("width", "height", "n_actions"):
        value = meta.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise _corrupt(path, f"metadata {name}={value!r}")
    start = meta.setdefault("action_start", 0)
    if isinstance(start, bool) or not isinstance(start, int):
        raise _corrupt(path, f"metadata action_start={start!r}")
    if meta.get("observation") != "position-onehot":
        raise _corrupt(path, f"unknown observation {meta.get('observation')!r}")
    return meta


def _safe_objects(data: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """``custom_objects`` replacing every cloudpickled entry of SB3's ``data`` JSON.

    Spaces and the policy class are always ours; schedules are rebuilt by ``_setup_model``;
    anything else serialized (last observations, episode buffers, unknown additions) is None.
    """
    from stable_baselines3.dqn.policies import DQNPolicy

    custom: dict[str, Any] = {
        key: None
        for key, value in data.items()
        if isinstance(value, dict) and ":serialized:" in value
    }
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    train_freq = training.get("train_freq", 4)
    custom.update(
        policy_class=DQNPolicy,
        observation_space=position_space(meta["width"], meta["height"]),
        action_space=gym.spaces.Discrete(meta["n_actions"], start=meta["action_start"]),
        train_freq=train_freq if isinstance(train_freq, int) and train_freq >= 1 else 4,
        replay_buffer_class=None,
    )
    if "policy_kwargs" in custom or not isinstance(data.get("policy_kwargs", {}), dict):
        saved = training.get("policy_kwargs")
        custom["policy_kwargs"] = saved if isinstance(saved, dict) else {}
    return custom


__all__ = [
    "DEFAULT_HYPERPARAMS",
    "DQNAgent",
    "PositionObservation",
    "position_features",
    "position_space",
]
