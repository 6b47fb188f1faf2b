"""Helpers shared by the subcommands: argument types and signal handling."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= {minimum}, got {text!r}"
        ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def probability(text: str) -> float:
    """An argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` so ``finally``/``except`` blocks still run.

    SIGTERM's default action kills the process without unwinding; long jobs (collect, train)
    catch ``KeyboardInterrupt`` to save what they gathered, and this makes SIGTERM do the same.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs (a save), then act on them.

    A second Ctrl-C during the final save must not throw away what was gathered.
    """
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if caught:
        raise KeyboardInterrupt


def env_kwargs(env_id: str, *, tile_size: int | None = None) -> dict[str, Any]:
    """``gym.make`` keywords for ``env_id``: rgb_array rendering, ``tile_size`` for MiniGrid.

    Registers our envs first; an unknown id is an :class:`InvalidValueError`.
    """
    import gymnasium as gym

    from man_rl.envs import register_envs
    from man_rl.errors import InvalidValueError

    register_envs()
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as err:
        raise InvalidValueError(
            f"unknown environment id {env_id!r} ({err}); e.g. MiniGrid-Empty-5x5-v0"
        ) from None
    kwargs: dict[str, Any] = {"render_mode": "rgb_array"}
    if tile_size is not None and "minigrid" in str(spec.entry_point).lower():
        kwargs["tile_size"] = tile_size
    return kwargs


def make_env(env_id: str, *, tile_size: int | None = None) -> Any:
    """``gym.make(env_id, render_mode="rgb_array")`` with our envs registered.

    ``tile_size`` is passed to MiniGrid envs only (pixels per grid cell).
    """
    import gymnasium as gym

    return gym.make(env_id, **env_kwargs(env_id, tile_size=tile_size))


def known_states(env_or_id: Any) -> list | None:
    """Every state key of an env (or env id) its adapter can reach, else ``None``."""
    from man_rl.envs import reachable_states

    try:
        return reachable_states(env_or_id)
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return None


def env_layout(env_id: str) -> tuple[Any, set | None]:
    """The layout of ``env_id`` and, where known, the set of its reachable states."""
    from man_rl.envs import layout_for

    states = known_states(env_id)
    return layout_for(env_id), None if states is None else set(states)
