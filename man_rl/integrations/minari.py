"""Minari datasets in and out: a short-term memory from a dataset, a dataset from a memory.

`Minari <https://minari.farama.org>`_ is the Farama Foundation's format for offline-RL
datasets (``pip install 'man_rl[minari]'``; minari is imported only here, when called).

- :func:`memory_from_minari`: every step of every episode becomes a frame under its state's
  key. The frames are the dataset's image observations (``frames="observation"``; a ``Dict``
  observation names its image with ``image_key``), or the renders of its recovered
  environment, replayed from each episode's seed and actions (``frames="render"``: then the
  env adapter names the states, e.g. MiniGrid's ``(x, y, direction)``, and a replay that
  drifts from the recorded observations is an error). Keys come from ``key_fn(env, obs,
  info)`` (``env`` is ``None`` for observations; one with ``from_frame = True``, such as
  :class:`man_rl.envs.CellKey`, is given the frame), else from the ``state_key`` infos
  :func:`memory_to_minari` writes.
- :func:`memory_to_minari`: a memory's frames, key by key and oldest first, as the
  observations of episodes of at most ``frames_per_episode`` steps, each frame's key in
  ``infos["state_key"]`` (JSON of :func:`man_rl.keys.encode_key`), stored losslessly (no
  JPEG). A memory holds no actions or rewards: the actions (``Discrete(1)``) and rewards
  (0) are placeholders, and the "seen" counters are not kept.

Both use the datasets folder Minari uses (``MINARI_DATASETS_PATH``, else
``~/.minari/datasets``); nothing is downloaded.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Literal

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.keys import KeyFn, decode_key, encode_key
from man_rl.stm.memory import ShortTermMemory

KEY_INFO = "state_key"
_HINT = "pip install 'man_rl[minari]' (or pip install 'minari[hdf5]')"


def _minari() -> Any:
    try:
        import minari
    except ImportError:
        raise ImportError(f"Minari datasets need minari: {_HINT}") from None
    return minari


def _dataset(dataset: Any) -> Any:
    if isinstance(dataset, str):
        try:
            return _minari().load_dataset(dataset)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"no local Minari dataset {dataset!r} ({err}); make it first, or set "
                "MINARI_DATASETS_PATH to the folder that holds it"
            ) from None
    if not hasattr(dataset, "iterate_episodes"):
        raise InvalidTypeError(
            f"dataset must be a Minari dataset or its id, got {type(dataset).__name__}"
        )
    return dataset


def _at(tree: Any, t: int) -> Any:
    """Step ``t`` of a Minari episode's field (an array, or a dict / tuple of them)."""
    if isinstance(tree, dict):
        return {name: _at(value, t) for name, value in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_at(value, t) for value in tree)
    return tree[t]


def _images(observations: Any, image_key: str | None, episode: int) -> np.ndarray:
    if isinstance(observations, dict):
        if image_key is None or image_key not in observations:
            raise InvalidValueError(
                f"the dataset's observations are a dict of {sorted(observations)}; name the "
                "image with image_key=..., or use frames='render'"
            )
        observations = observations[image_key]
    elif image_key is not None:
        raise InvalidValueError(f"image_key={image_key!r} given, but observations are not a dict")
    images = np.asarray(observations)
    is_image = images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3, 4))
    if images.dtype != np.uint8 or not is_image:
        raise InvalidTypeError(
            f"episode {episode}'s observations are {images.dtype} of shape {images.shape}, "
            "not uint8 images (T, H, W[, C]); use frames='render' to take the recovered "
            "environment's screens instead"
        )
    return images


def _stored_key(value: Any) -> Hashable:
    text = value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)
    return decode_key(json.loads(text))


def _observation_steps(
    episode: Any, image_key: str | None, key_fn: KeyFn | None
) -> Iterator[tuple[Hashable, np.ndarray]]:
    images = _images(episode.observations, image_key, episode.id)
    infos = episode.infos or {}
    stored = infos.get(KEY_INFO) if isinstance(infos, dict) else None
    if key_fn is None and stored is None:
        raise InvalidValueError(
            f"episode {episode.id} has no '{KEY_INFO}' infos to take keys from; pass "
            "key_fn(env, obs, info) -> key (e.g. man_rl.envs.CellKey() for pixel cells), or "
            "frames='render' to let the recovered env's adapter name the states"
        )
    from_frame = getattr(key_fn, "from_frame", False) is True
    for t, frame in enumerate(images):
        if key_fn is None:
            yield _stored_key(stored[t]), frame
            continue
        info = _at(infos, t) if infos else {}
        obs = frame if from_frame else _at(episode.observations, t)
        yield key_fn(None, obs, info), frame


def _same(recorded: Any, replayed: Any) -> bool:
    """Whether a replayed observation is the recorded one (numbers and arrays compared)."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        return all(_same(recorded[k], replayed[k]) for k in recorded if k in replayed)
    if isinstance(recorded, tuple) and isinstance(replayed, tuple):
        return all(_same(a, b) for a, b in zip(recorded, replayed, strict=False))
    numeric = (np.ndarray, np.number, np.bool_, int, float)
    if isinstance(recorded, numeric) and isinstance(replayed, numeric):
        a, b = np.asarray(recorded), np.asarray(replayed)
        return a.shape == b.shape and bool(np.allclose(a, b))
    containers = (dict, tuple)
    if isinstance(recorded, containers) != isinstance(replayed, containers):
        return False  # one is a structure, the other a leaf
    return True  # text and other leaves are not compared


def _replay(dataset: Any, memory: ShortTermMemory, key_fn: KeyFn | None, ids: list[int]) -> None:
    from man_rl.env.wrapper import MemoryWrapper

    try:
        env = dataset.recover_environment(render_mode="rgb_array")
    except ValueError as err:
        raise InvalidValueError(
            f"the dataset's environment cannot be recovered ({err}); use frames='observation'"
        ) from None
    wrapper = MemoryWrapper(env, key_fn=key_fn, memory=memory, frame="render")
    try:
        metadata = dataset.storage.get_episode_metadata(ids)
        for episode, meta in zip(dataset.iterate_episodes(ids), metadata, strict=True):
            obs, _ = wrapper.reset(seed=meta.get("seed"), options=meta.get("options"))
            for t in range(len(episode)):
                if not _same(_at(episode.observations, t), obs):
                    raise InvalidValueError(
                        f"replaying episode {episode.id} from its seed and actions left the "
                        f"recorded observations at step {t}: the recovered environment is not "
                        "the one that made the dataset; use frames='observation'"
                    )
                obs, *_ = wrapper.step(_at(episode.actions, t))
    finally:
        wrapper.close()


def memory_from_minari(
    dataset: Any,
    *,
    key_fn: KeyFn | None = None,
    frames: Literal["observation", "render"] = "observation",
    image_key: str | None = None,
    capacity: int = 500,
    episodes: Iterable[int] | None = None,
    memory: ShortTermMemory | None = None,
    seed: int | None = None,
) -> ShortTermMemory:
    """A short-term memory of a Minari dataset's screens (see the module docstring).

    Args:
        dataset: a ``minari.MinariDataset``, or the id of a local one.
        key_fn: ``key_fn(env, obs, info) -> key``; default: the ``state_key`` infos
            (observations) or the recovered env's adapter (renders).
        frames: ``"observation"`` (image observations) or ``"render"`` (replayed renders).
        image_key: the image in a ``Dict`` observation (``frames="observation"``).
        capacity: frames kept per state of a new memory.
        episodes: episode indices to read (default: all).
        memory: a memory to add to, in place of a new one.
        seed: seed of a new memory's generator.
    """
    if frames not in ("observation", "render"):
        raise InvalidValueError(f"frames must be 'observation' or 'render', got {frames!r}")
    dataset = _dataset(dataset)
    ids = [int(i) for i in (dataset.episode_indices if episodes is None else episodes)]
    memory = memory if memory is not None else ShortTermMemory(capacity, seed=seed)
    if frames == "render":
        _replay(dataset, memory, key_fn, ids)
        return memory
    for episode in dataset.iterate_episodes(ids):
        for key, frame in _observation_steps(episode, image_key, key_fn):
            memory.add(key, frame)
    return memory


def _episode_sizes(total: int, longest: int) -> list[int]:
    """Frames of each episode: as even as can be, at most ``longest`` (>= 3), at least 2.

    An episode holds one frame more than it has steps, so it needs 2 frames at least.
    """
    count = -(-total // longest)
    base, extra = divmod(total, count)
    return [base + 1] * extra + [base] * (count - extra)


def _frames_and_keys(memory: ShortTermMemory) -> Iterator[tuple[bytes, np.ndarray]]:
    for key in memory.keys:
        text = json.dumps(encode_key(key)).encode("utf-8")
        for frame in memory.queue(key):
            yield text, frame


def memory_to_minari(
    memory: ShortTermMemory,
    dataset_id: str,
    *,
    env: Any | None = None,
    frames_per_episode: int = 1000,
    description: str | None = None,
    author: str | None = None,
    data_format: str | None = None,
) -> Any:
    """Write ``memory``'s frames and keys as the local Minari dataset ``dataset_id``.

    Args:
        memory: the short-term memory (at least 2 frames: a Minari episode is >= 1 step).
        dataset_id: ``(namespace/)name-v(version)``, e.g. ``"man_rl/empty-5x5-v0"``.
        env: the env id, spec or env the frames came from, recorded for
            ``dataset.recover_environment()`` (optional).
        frames_per_episode: the frames are cut into episodes of at most this many (>= 3),
            as even as can be.
        description: the dataset's description (default: what the fields hold).
        author: the dataset's author.
        data_format: Minari's storage format (default: Minari's, HDF5).

    Returns:
        The ``minari.MinariDataset`` written.
    """
    minari = _minari()
    from gymnasium import spaces
    from minari.data_collector.episode_buffer import EpisodeBuffer

    if len(memory) < 2:
        raise InvalidValueError(
            f"the memory holds {len(memory)} frame(s); a Minari episode needs at least 2"
        )
    if isinstance(frames_per_episode, bool) or int(frames_per_episode) < 3:
        raise InvalidValueError(f"frames_per_episode must be >= 3, got {frames_per_episode!r}")
    shape = memory.frame_shape
    stream = _frames_and_keys(memory)
    options: dict[str, Any] = {
        "observation_space": spaces.Box(0, 255, shape, np.uint8),
        "action_space": spaces.Discrete(1),
        "env": env,
        "author": author,
        "algorithm_name": "man_rl ShortTermMemory",
        "description": description
        or (
            f"man_rl short-term memory: {memory.num_keys} states, {len(memory)} frames. "
            f"Observations are the frames, key by key, oldest first; infos['{KEY_INFO}'] is "
            "each frame's state key (JSON of man_rl.keys.encode_key); actions and rewards "
            "are placeholders."
        ),
    }
    if data_format is not None:
        options["data_format"] = data_format
    if "jpeg_encoding" in inspect.signature(minari.create_dataset_from_buffers).parameters:
        options["jpeg_encoding"] = False  # frames kept exactly
    dataset = None
    for number, size in enumerate(_episode_sizes(len(memory), int(frames_per_episode))):
        keys, frames = zip(*(next(stream) for _ in range(size)), strict=True)
        steps = size - 1
        buffer = EpisodeBuffer(
            id=number,
            observations=np.stack(frames),
            actions=np.zeros(steps, np.int64),
            rewards=np.zeros(steps, np.float64),
            terminations=np.zeros(steps, bool),
            truncations=np.arange(steps) == steps - 1,
            infos={KEY_INFO: np.array(keys, dtype=bytes)},
        )
        if dataset is None:
            try:
                with warnings.catch_warnings():  # a memory has no env to evaluate in: fine
                    warnings.filterwarnings("ignore", ".*(eval_env|env_spec) is", UserWarning)
                    dataset = minari.create_dataset_from_buffers(dataset_id, [buffer], **options)
            except ValueError as err:
                raise InvalidValueError(
                    f"cannot create Minari dataset {dataset_id!r}: {err} (delete it with "
                    "minari.delete_dataset, or pick another id)"
                ) from None
        else:
            dataset.update_dataset_from_buffer([buffer])
    return dataset


__all__ = ["KEY_INFO", "memory_from_minari", "memory_to_minari"]
