"""The judge: a small CNN trained on a short-term memory's real frames, never on a model.

:func:`train_judge` splits each state's real frames (seeded) into train and held-out
(about 20%; a state with one frame is train-only), trains a classifier of the state on the
train frames (class-balanced batches, drawn from the judge's own ``torch.Generator``) and
measures its accuracy on the held-out frames: the **ceiling** a recall can reach. The
network (:mod:`.network`) is sized from the frame shape: a first convolution that cuts
big frames to at most 20 pixels a side with patches (more channels for bigger patches),
stride-2 convolutions down to at most 10 x 10 (each with group normalisation), one hidden
layer whose output is the feature space (:meth:`Judge.features`) and one linear layer to the
states. Its cost per step does not depend on the number of states but for that last layer.

Example:
    >>> import numpy as np
    >>> from man_rl import ShortTermMemory
    >>> rng = np.random.default_rng(0)
    >>> stm = ShortTermMemory(capacity=10)
    >>> for key, level in [("dark", 40), ("light", 200)]:
    ...     for _ in range(5):
    ...         stm.add(key, rng.integers(level - 30, level + 30, (8, 8), dtype=np.uint8))
    >>> judge = train_judge(stm, steps=30, seed=0)
    >>> judge.ceiling, judge.split.states_with_held_out
    (1.0, 2)
    >>> [judge.keys[i] for i in judge.predict(stm.queue("light")[:2])]
    ['light', 'light']
    >>> judge.features(stm.queue("dark")).shape
    (5, 64)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from man_rl.errors import InvalidValueError, UnknownKeyError, UnsupportedVersionError
from man_rl.evaluation.network import JudgeNet, images, judge_plan
from man_rl.io.bundle import read_bundle, write_bundle
from man_rl.keys import decode_key, encode_key, short_repr
from man_rl.ltm.common import check_positive_int, check_seed, make_generator
from man_rl.stm.memory import ShortTermMemory
from man_rl.threads import TorchThreads

KIND = "judge"
VERSION = 1
_CHUNK = 512
_PATIENCE = 20  # training stops early once this many batches in a row are all right ...
_DONE_LOSS = 0.05  # ... and each has a loss under this


class JudgeSplit(NamedTuple):
    """Which real frames the judge held out from its training.

    ``held_out[j]`` is for the ``j``-th frame of :attr:`keys`' frames taken key by key in
    ``memory.queue(key)`` order (oldest first); ``keys[i]`` had ``counts[i]`` frames.
    """

    keys: list[Hashable]
    counts: np.ndarray
    held_out: np.ndarray

    @property
    def states_with_held_out(self) -> int:
        """States with at least one held-out frame (those with two or more frames)."""
        return int(sum(mask.any() for mask in self.masks()))

    def masks(self) -> list[np.ndarray]:
        """One held-out mask per state, in :attr:`keys` order."""
        ends = np.cumsum(self.counts)
        return np.split(self.held_out, ends[:-1]) if len(ends) else []

    def mask(self, index: int) -> np.ndarray:
        """The held-out mask of state ``keys[index]``."""
        start = int(self.counts[:index].sum())
        return self.held_out[start : start + int(self.counts[index])]


def split_frames(counts: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Held-out mask over frames grouped by state (``counts[i]`` frames of state ``i``).

    ``round(share * n)`` (at least one, at most ``n - 1``) of each state's ``n >= 2`` frames,
    chosen by a generator seeded with ``seed``; a state with one frame keeps it for training.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for n in counts.tolist():
        mask = np.zeros(n, bool)
        if n >= 2:
            mask[rng.permutation(n)[: min(n - 1, max(1, round(share * n)))]] = True
        parts.append(mask)
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def memory_fingerprint(memory: ShortTermMemory, keys: list[Hashable]) -> str:
    """SHA-256 of ``keys`` and every frame of theirs, to check a judge meets its memory."""
    digest = hashlib.sha256()
    for key in keys:
        frames = memory.queue(key)
        digest.update(json.dumps([encode_key(key), list(frames.shape)]).encode())
        digest.update(np.ascontiguousarray(frames).data)
    return digest.hexdigest()


class Judge:
    """A trained state classifier of real frames (make one with :func:`train_judge`).

    Attributes:
        keys: the states; :meth:`predict` returns indices into them.
        frame_shape: the frames' shape.
        ceiling: accuracy on the held-out real frames (``None`` when no state had two frames).
        split: the :class:`JudgeSplit` of the real frames.
        info: training settings and figures (seed, steps, batch size, seconds, ...).

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> from man_rl import ShortTermMemory
        >>> stm = ShortTermMemory(capacity=4)
        >>> for i in range(2):
        ...     stm.add(i, np.full((6, 6, 3), 100 * i, np.uint8))
        >>> judge = train_judge(stm, steps=20, seed=1)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "judge.manrl"
        >>> judge.save(path)
        >>> Judge.load(path).predict(stm.queue(1)).tolist() == judge.predict(stm.queue(1)).tolist()
        True
    """

    def __init__(
        self,
        net: JudgeNet,
        keys: list[Hashable],
        frame_shape: tuple[int, ...],
        plan: dict[str, Any],
        split: JudgeSplit,
        fingerprint: str,
        ceiling: float | None,
        info: dict[str, Any],
    ) -> None:
        self.net = net.eval()
        self.keys = list(keys)
        self.frame_shape = tuple(frame_shape)
        self.plan = plan
        self.split = split
        self.fingerprint = fingerprint
        self.ceiling = ceiling
        self.info = info
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._starts = np.concatenate([[0], np.cumsum(split.counts)]).astype(np.int64)

    def index_of(self, key: Hashable) -> int:
        """Position of ``key`` in :attr:`keys`; :class:`UnknownKeyError` if not a state."""
        try:
            return self._index[key]
        except (KeyError, TypeError):
            raise UnknownKeyError(
                f"the judge knows no state {short_repr(key)} (it knows {len(self.keys)} "
                "states); judge samples of the states of the memory it was trained on"
            ) from None

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._index
        except TypeError:
            return False

    def __repr__(self) -> str:
        ceiling = "none" if self.ceiling is None else f"{self.ceiling:.3f}"
        return f"Judge({len(self.keys)} states, frames {self.frame_shape}, ceiling {ceiling})"

    def _check(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.shape[1:] != self.frame_shape:
            raise InvalidValueError(
                f"the judge takes uint8 frames [N, {', '.join(map(str, self.frame_shape))}], "
                f"got {frames.dtype} {frames.shape}; give screens of the memory it was trained on"
            )
        return frames

    def _run(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = self._check(frames)
        features, logits = [], []
        with torch.no_grad():
            for start in range(0, len(frames), _CHUNK):
                f, lg = self.net(images(frames[start : start + _CHUNK]))
                features.append(f.numpy())
                logits.append(lg.numpy())
        width = self.plan["features"]
        if not features:
            return np.zeros((0, width), np.float32), np.zeros((0, len(self.keys)), np.float32)
        return np.concatenate(features), np.concatenate(logits)

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Index into :attr:`keys` of the state of each uint8 frame ``[N, H, W(, C)]``."""
        return self._run(frames)[1].argmax(axis=1)

    def features(self, frames: np.ndarray) -> np.ndarray:
        """The hidden layer's output for each frame: float32 ``[N, F]``."""
        return self._run(frames)[0]

    def embed(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features(frames), predict(frames))`` in one pass."""
        features, logits = self._run(frames)
        return features, logits.argmax(axis=1)

    def check_memory(self, memory: ShortTermMemory) -> None:
        """Raise :class:`InvalidValueError` unless ``memory`` holds what the judge saw."""
        missing = [key for key in self.keys if key not in memory]
        if missing or memory_fingerprint(memory, self.keys) != self.fingerprint:
            raise InvalidValueError(
                "this judge was trained on other frames than this memory holds (frames were "
                "added, evicted or changed); train a judge on this memory with "
                "train_judge(memory), or pass the memory the judge was trained on"
            )

    def held_out_mask(self, key: Hashable) -> np.ndarray:
        """Which of ``key``'s frames (in ``memory.queue(key)`` order) were held out."""
        i = self.index_of(key)
        return self.split.held_out[self._starts[i] : self._starts[i + 1]]

    def real_frames(self, memory: ShortTermMemory, key: Hashable) -> tuple[np.ndarray, np.ndarray]:
        """``(train, held_out)`` real frames of ``key`` in ``memory`` (checked separately)."""
        mask = self.held_out_mask(key)
        frames = memory.queue(key)
        if len(frames) != len(mask):
            raise InvalidValueError(
                f"state {key!r} has {len(frames)} frames in the memory but had {len(mask)} "
                "when the judge was trained; train a judge on this memory"
            )
        return frames[~mask], frames[mask]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the judge (network, split, figures) to ``path`` atomically (no pickle)."""
        arrays: dict[str, np.ndarray] = {
            "counts": self.split.counts.astype(np.int64),
            "held_out": self.split.held_out.astype(bool),
        }
        for name, tensor in self.net.state_dict().items():
            arrays[f"param/{name}"] = tensor.detach().cpu().numpy()
        meta = {
            "version": VERSION,
            "keys": [encode_key(key) for key in self.keys],
            "frame_shape": list(self.frame_shape),
            "plan": self.plan,
            "fingerprint": self.fingerprint,
            "ceiling": self.ceiling,
            "info": self.info,
        }
        write_bundle(path, KIND, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Judge:
        """Read a judge written by :meth:`save`."""
        bundle = read_bundle(path, KIND)
        meta, arrays = bundle.meta, bundle.arrays
        if meta.get("version", 0) > VERSION:
            raise UnsupportedVersionError(
                f"{path} holds a judge of version {meta['version']}, newer than this man_rl "
                f"reads ({VERSION}); upgrade man_rl or train a judge again"
            )
        keys = [decode_key(key) for key in meta["keys"]]
        shape = tuple(meta["frame_shape"])
        net = JudgeNet(meta["plan"], shape, len(keys))
        state = {
            n[len("param/") :]: torch.from_numpy(a.copy()) for n, a in arrays.items() if "/" in n
        }
        net.load_state_dict(state)
        split = JudgeSplit(keys, arrays["counts"].copy(), arrays["held_out"].copy())
        return cls(
            net,
            keys,
            shape,
            meta["plan"],
            split,
            meta["fingerprint"],
            meta["ceiling"],
            meta["info"],
        )


def default_steps(states: int) -> int:
    """Most training steps when none are given: 400, plus 2 per state past 100, at most 2000.

    Training stops earlier once 20 batches in a row are all classified right, each with a
    loss under 0.05.
    """
    return int(min(2000, 400 + 2 * max(0, states - 100)))


def _gather(
    memory: ShortTermMemory, keys: list[Hashable], held_out: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held-out)`` frames of ``keys``, in order, split by the ``held_out`` mask."""
    shape = memory.frame_shape
    train = np.empty((int((~held_out).sum()), *shape), np.uint8)
    held = np.empty((int(held_out.sum()), *shape), np.uint8)
    at_train = at_held = start = 0
    for key, count in zip(keys, counts.tolist(), strict=True):
        frames, mask = memory.queue(key), held_out[start : start + count]
        n_held = int(mask.sum())
        train[at_train : at_train + count - n_held] = frames[~mask]
        held[at_held : at_held + n_held] = frames[mask]
        at_train, at_held, start = at_train + count - n_held, at_held + n_held, start + count
    return train, held


def train_judge(
    memory: ShortTermMemory,
    *,
    seed: int = 0,
    steps: int | None = None,
    batch_size: int = 64,
    held_out_share: float = 0.2,
    lr: float = 1e-3,
    threads: int | None = None,
) -> Judge:
    """Train a :class:`Judge` on the real frames of ``memory`` (on the CPU).

    Args:
        memory: the real frames; states without frames are left out.
        seed: seeds the split, the weights and the batches (the judge's own generator).
        steps: optimiser steps (default: :func:`default_steps`).
        batch_size: frames per step, drawn class-balanced (a state, then one of its frames).
        held_out_share: share of each state's frames held out to measure the ceiling.
        lr: Adam's learning rate, decayed to zero along a cosine.
        threads: torch's threads while training (``None``: the cores other processes leave
            free, as ``fit`` chooses; :mod:`man_rl.threads`).
    """
    seed = check_seed(seed)
    batch_size = check_positive_int("batch_size", batch_size)
    if not 0.0 < held_out_share < 1.0:
        raise InvalidValueError(f"held_out_share must be in (0, 1), got {held_out_share}")
    counts_by_key = memory.counts()
    keys = [key for key in memory.keys if counts_by_key[key] > 0]
    if not keys:
        raise InvalidValueError("the memory holds no frame; collect frames before judging")
    started = time.perf_counter()
    counts = np.array([counts_by_key[key] for key in keys], np.int64)
    labels = np.repeat(np.arange(len(keys)), counts)
    held_out = split_frames(counts, held_out_share, seed)
    # one array per side, filled a state at a time: the memory is copied once, not twice
    train_frames, held_frames = _gather(memory, keys, held_out, counts)
    train_x, train_y = torch.from_numpy(train_frames), labels[~held_out]
    train_counts = torch.from_numpy(np.bincount(train_y, minlength=len(keys)))
    starts = torch.cumsum(train_counts, 0) - train_counts
    steps = default_steps(len(keys)) if steps is None else steps
    steps = check_positive_int("steps", steps)

    generator = make_generator(torch.device("cpu"), seed)
    plan = judge_plan(memory.frame_shape)
    net = JudgeNet(plan, memory.frame_shape, len(keys), generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    train_labels = torch.from_numpy(train_y)
    net.train()
    losses: list[float] = []
    right: list[bool] = []
    with TorchThreads(threads) as chosen:
        for _ in range(steps):
            chosen.update()
            classes = torch.randint(len(keys), (batch_size,), generator=generator)
            offsets = (torch.rand(batch_size, generator=generator) * train_counts[classes]).long()
            index = starts[classes] + offsets
            _, logits = net(images(train_x[index]))
            loss = F.cross_entropy(logits, train_labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            right.append(bool((logits.argmax(1) == train_labels[index]).all()))
            recent = slice(-_PATIENCE, None)
            if len(losses) >= _PATIENCE and all(right[recent]) and max(losses[recent]) < _DONE_LOSS:
                break  # every recent batch is classified right and with confidence
    split = JudgeSplit(keys, counts, held_out)
    info = {
        "seed": seed,
        "steps": len(losses),
        "max_steps": steps,
        "batch_size": batch_size,
        "held_out_share": held_out_share,
        "lr": lr,
        "train_frames": len(train_y),
        "held_out_frames": int(held_out.sum()),
        "states_with_held_out": split.states_with_held_out,
        "final_loss": losses[-1],
        "seconds": 0.0,
    }
    judge = Judge(net, keys, memory.frame_shape, plan, split, "", None, info)
    if held_out.any():
        judge.ceiling = float(np.mean(judge.predict(held_frames) == labels[held_out]))
    judge.fingerprint = memory_fingerprint(memory, keys)
    judge.info["seconds"] = round(time.perf_counter() - started, 3)
    return judge


__all__ = [
    "Judge",
    "JudgeSplit",
    "default_steps",
    "memory_fingerprint",
    "split_frames",
    "train_judge",
]
