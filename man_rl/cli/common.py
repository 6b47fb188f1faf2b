"""Helpers shared by the subcommands: argument types and signal handling."""

from __future__ import annotations

import argparse
import importlib
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


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, unless its text already names it.

    Options whose default is ``None``, ``False`` or suppressed say nothing more: their text
    says what leaving them out does.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # each line its own paragraph: an epilog of one line per entry stays readable
        return "\n".join(
            super(DefaultsFormatter, self)._fill_text(line, width, indent)
            for line in text.splitlines()
        )

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: {default})"


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every subcommand under it :class:`DefaultsFormatter`."""
    parser.formatter_class = DefaultsFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` for a command that runs torch (:func:`torch_threads` applies it)."""
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="torch threads (default: the cores other processes leave free, looked at again "
        "every few seconds while training, so a busy neighbour does not slow it 20x)",
    )
    parser.set_defaults(uses_torch=True)


@contextmanager
def torch_threads(args: argparse.Namespace) -> Iterator[None]:
    """Run a command with torch's threads chosen (or fixed by ``--threads``), then restored.

    Commands without :func:`add_threads_option` run as they are (and need not import torch).
    """
    if not getattr(args, "uses_torch", False):
        yield
        return
    from man_rl.threads import TorchThreads

    with TorchThreads(args.threads):
        yield


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


def _spec(env_id: str) -> Any:
    """The registered spec of ``env_id``; ale-py's ids are registered when it is installed."""
    import gymnasium as gym

    from man_rl.envs import register_atari, register_envs
    from man_rl.errors import EnvCompatibilityError, InvalidValueError

    register_envs()
    try:
        return gym.spec(env_id)
    except gym.error.Error as err:
        unknown = err
    try:
        register_atari()
    except EnvCompatibilityError:
        if env_id.startswith("ALE/"):
            raise  # the install hint
    try:
        return gym.spec(env_id)
    except gym.error.Error:
        raise InvalidValueError(
            f"unknown environment id {env_id!r} ({unknown}); e.g. MiniGrid-Empty-5x5-v0"
        ) from None


def env_kwargs(env_id: str, *, tile_size: int | None = None) -> dict[str, Any]:
    """``gym.make`` keywords for ``env_id``: rgb_array rendering, ``tile_size`` for MiniGrid.

    Registers our envs (and ale-py's Atari ids, ``ALE/Breakout-v5``, when ale-py is
    installed) first; an unknown id is an :class:`InvalidValueError`.
    """
    spec = _spec(env_id)
    kwargs: dict[str, Any] = {"render_mode": "rgb_array"}
    if tile_size is not None and "minigrid" in str(spec.entry_point).lower():
        kwargs["tile_size"] = tile_size
    return kwargs


_WRAPPER_EXAMPLE = "gymnasium.wrappers:GrayscaleObservation"


def import_spec(spec: str, option: str, example: str) -> Any:
    """The callable ``MODULE:NAME`` names (``NAME`` may be dotted), or a one-line error."""
    from man_rl.errors import InvalidValueError

    module_name, colon, name = spec.partition(":")
    if not (colon and module_name and name):
        raise InvalidValueError(f"{option} {spec!r} is not MODULE:NAME, e.g. {example}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidValueError(
            f"{option} {spec!r}: cannot import module {module_name!r} ({err})"
        ) from None
    for part in name.split("."):
        if not hasattr(found, part):
            raise InvalidValueError(f"{option} {spec!r}: {module_name!r} has no {name!r}")
        found = getattr(found, part)
    if not callable(found):
        raise InvalidValueError(f"{option} {spec!r} names a {type(found).__name__}, not a callable")
    return found


def key_fn_from_spec(spec: str) -> Any:
    """The key function ``--key-fn`` names, ``None`` for the env adapter's.

    ``"default"`` -> ``None``; ``"cell"`` -> :class:`~man_rl.envs.DynamicCellKey` ``()``
    (cells sized for the game, Go-Explore's dynamic downscaling);
    ``MODULE:FUNC`` -> the imported function (a class there is instantiated with no
    arguments, e.g. ``man_rl.envs.cells:CellKey``).
    """
    from man_rl.envs import DynamicCellKey
    from man_rl.errors import InvalidValueError

    if spec == "default":
        return None
    if spec == "cell":
        return DynamicCellKey()
    if ":" not in spec:
        raise InvalidValueError(
            f"--key-fn must be 'default', 'cell' or MODULE:FUNC (e.g. my_pkg.keys:room_key), "
            f"got {spec!r}"
        )
    found = import_spec(spec, "--key-fn", "my_pkg.keys:room_key")
    return found() if isinstance(found, type) else found


def check_preprocess(spec: str, env_id: str) -> None:
    """Refuse a bad ``--preprocess`` before any env is made (a one-line error)."""
    from man_rl.envs.atari import is_atari_id
    from man_rl.errors import InvalidValueError

    if spec == "atari":
        _spec(env_id)
        if not is_atari_id(env_id):
            raise InvalidValueError(
                f"--preprocess atari needs an ALE env (e.g. ALE/Breakout-v5), got {env_id!r}"
            )
    elif spec != "none":
        if ":" not in spec:
            raise InvalidValueError(
                "--preprocess must be 'none', 'atari' or MODULE:CLASS (a wrapper class, e.g. "
                f"{_WRAPPER_EXAMPLE}), got {spec!r}"
            )
        import_spec(spec, "--preprocess", _WRAPPER_EXAMPLE)


def frame_source(preprocess: str) -> str:
    """Where the frames come from: the 84 x 84 observations with ``atari``, else ``"auto"``."""
    return "observation" if preprocess == "atari" else "auto"


def make_env(env_id: str, *, tile_size: int | None = None, preprocess: str = "none") -> Any:
    """``gym.make(env_id, render_mode="rgb_array")`` with our envs registered.

    ``tile_size`` is passed to MiniGrid envs only (pixels per grid cell). ``preprocess``:
    ``"none"``; ``"atari"``, gymnasium's ``AtariPreprocessing`` of the env made with
    ``frameskip=1`` (84 x 84 grey observations); or ``MODULE:CLASS``, a wrapper class applied
    to the env. A module-level function of plain arguments, so ``functools.partial`` of it
    pickles to worker processes.
    """
    import gymnasium as gym

    from man_rl.errors import EnvCompatibilityError

    check_preprocess(preprocess, env_id)
    kwargs = env_kwargs(env_id, tile_size=tile_size)
    if preprocess == "atari":
        from man_rl.envs import preprocessed_atari

        return preprocessed_atari(env_id, **kwargs)
    env = gym.make(env_id, **kwargs)
    if preprocess == "none":
        return env
    wrapper = import_spec(preprocess, "--preprocess", _WRAPPER_EXAMPLE)
    try:
        return wrapper(env)
    except (TypeError, ValueError, gym.error.Error) as err:
        env.close()
        raise EnvCompatibilityError(
            f"--preprocess {preprocess} cannot wrap {env_id}: {err}"
        ) from None


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
