"""``man-rl collect``: run an agent in an environment and save the short-term memory it fills."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from man_rl.cli.common import (
    check_preprocess,
    frame_source,
    key_fn_from_spec,
    known_states,
    make_env,
    positive_int,
    probability,
    signals_deferred,
    sigterm_as_interrupt,
)
from man_rl.cli.saving import exclusive_writer, save_or_rescue
from man_rl.collection import DEFAULT_CAPACITY, CollectResult, collect, summarize
from man_rl.errors import InvalidValueError
from man_rl.stm import ShortTermMemory


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="run an agent and save the screens of every state it visits",
        description="Run an agent in an environment inside MemoryWrapper and save the "
        "short-term memory (one queue of screens per state) to a file. Ctrl-C or SIGTERM "
        "stops early and still writes what was gathered (exit code 130).",
    )
    parser.add_argument("--env", default="MiniGrid-Empty-5x5-v0", help="gymnasium env id")
    parser.add_argument(
        "--agent",
        default="pretrained",
        help="'pretrained' (the shipped agent for --env), 'random', or a saved agent file",
    )
    parser.add_argument("--steps", type=positive_int, default=5000, help="env steps in all")
    parser.add_argument(
        "--epsilon", type=probability, default=0.0, help="chance of a random action per step"
    )
    parser.add_argument(
        "--capacity",
        type=positive_int,
        default=None,
        help=f"frames kept per state (default {DEFAULT_CAPACITY})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of env, agent and exploration")
    parser.add_argument(
        "--tile-size", type=positive_int, default=8, help="MiniGrid pixels per grid cell"
    )
    parser.add_argument(
        "--key-fn",
        default="default",
        metavar="{default,cell,MODULE:FUNC}",
        help="state keys: the env adapter's (default), 'cell' (the frame shrunk to grey cells, "
        "their size and grey levels chosen for the game from 200 random steps, Go-Explore's "
        "dynamic downscaling), or a function key(env, obs, info) imported from MODULE:FUNC, "
        "e.g. my_pkg.keys:room_key",
    )
    parser.add_argument(
        "--preprocess",
        default="none",
        metavar="{none,atari,MODULE:CLASS}",
        help="'atari': gymnasium's AtariPreprocessing (frameskip 4, 84 x 84 grey screens, "
        "stored as the frames); MODULE:CLASS: a gymnasium wrapper class applied to the env",
    )
    parser.add_argument("--out", type=Path, required=True, help="memory file to write")
    parser.add_argument("--resume", action="store_true", help="add to the memory in --out")
    parser.add_argument(
        "--num-envs",
        type=positive_int,
        default=1,
        help="env copies in a gymnasium vector env, stepped in lock-step",
    )
    parser.add_argument(
        "--vectorization",
        choices=("async", "sync"),
        default="async",
        help="with --num-envs > 1: worker processes (async) or one process (sync)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="collect in this many local processes, each stepping its own env (seed "
        "--seed + i) and merged in order; on a few cores the fastest way to collect",
    )
    parser.add_argument(
        "--ray-workers",
        type=positive_int,
        default=None,
        help="fan collection out over this many Ray tasks (needs man_rl[ray])",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def policy_for(agent: str, env: Any, seed: int | None = None) -> Any:
    """The policy of ``agent`` in ``env`` (a module-level function: workers unpickle it)."""
    from man_rl.agents import make_policy

    return make_policy(agent, env, seed=seed)


def _start_memory(args: argparse.Namespace) -> ShortTermMemory | None:
    if not (args.resume and args.out.exists()):
        return None
    memory = ShortTermMemory.load(args.out)
    if args.capacity is not None and args.capacity != memory.capacity:
        raise InvalidValueError(
            f"--capacity {args.capacity} differs from the resumed memory's capacity "
            f"{memory.capacity}; drop --capacity when resuming"
        )
    return memory


def _one_source(args: argparse.Namespace) -> str | None:
    chosen = [
        name
        for name, used in [
            ("--num-envs", args.num_envs > 1),
            ("--workers", args.workers),
            ("--ray-workers", args.ray_workers),
        ]
        if used
    ]
    if len(chosen) > 1:
        raise InvalidValueError(f"use one of {' and '.join(chosen)}, not both")
    return chosen[0] if chosen else None


def _collect(
    args: argparse.Namespace, memory: ShortTermMemory, seed: int, key_fn: Any
) -> tuple[CollectResult, str]:
    from man_rl.collection import CollectorPool, RayTasks, Vector

    make = partial(make_env, args.env, tile_size=args.tile_size, preprocess=args.preprocess)
    options = {
        "key_fn": key_fn,
        "frame": frame_source(args.preprocess),
        "make_policy": partial(policy_for, args.agent),
        "memory": memory,
        "seed": seed,
        "epsilon": args.epsilon,
        "progress": not args.quiet,
    }
    kind = _one_source(args)
    if kind == "--workers":
        with CollectorPool(make, args.workers) as pool:
            result = collect(pool, None, args.steps, **options)
        return result, f"{result.steps} steps in {args.workers} worker processes"
    if kind == "--ray-workers":
        result = collect(RayTasks(make, args.ray_workers), None, args.steps, **options)
        return result, f"{result.steps} steps in {args.ray_workers} Ray tasks"
    if kind == "--num-envs":
        with Vector(make, args.num_envs, mode=args.vectorization) as source:
            result = collect(source, None, args.steps, **options)
        return result, f"{result.steps} steps in {args.num_envs} envs"
    env = make()
    try:
        result = collect(env, None, args.steps, **options)
    finally:
        env.close()
    return result, f"{result.steps} steps, {result.episodes} episodes finished"


def run(args: argparse.Namespace) -> int:
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give a file path")
    _one_source(args)
    key_fn = key_fn_from_spec(args.key_fn)
    check_preprocess(args.preprocess, args.env)
    with exclusive_writer(args.out):  # one run at a time reads and replaces --out
        return _run(args, key_fn)


def _run(args: argparse.Namespace, key_fn: Any) -> int:
    memory = _start_memory(args)
    if memory is None:  # seeded, so the same seed gives a bit-identical file
        memory = ShortTermMemory(args.capacity or DEFAULT_CAPACITY, seed=args.seed)
        seed = args.seed
    else:  # resuming: fresh seeds for env, agent and exploration, or it repeats the first run
        seed = int(np.random.SeedSequence().entropy % 2**31)
    scratch = make_env(args.env, tile_size=args.tile_size, preprocess=args.preprocess)
    try:
        policy_for(args.agent, scratch, seed)  # a bad agent is refused before collecting
    finally:
        scratch.close()
    with sigterm_as_interrupt():
        result, line = _collect(args, memory, seed, key_fn)
    with signals_deferred():
        save_or_rescue(memory.save, args.out, f"the memory ({len(memory)} frames)")
    print(("interrupted: " if result.interrupted else "ran ") + line)
    # the adapter's state space names its own keys, not those of another key function
    states = known_states(args.env) if key_fn is None else None
    for text in summarize(memory, states).lines():
        print(text)
    if (
        args.epsilon == 0
        and args.agent != "random"
        and states
        and memory.num_keys < len(states) / 2
    ):
        print(
            f"note: a greedy agent saw {memory.num_keys} of {len(states)} states; "
            "--epsilon 0.5 explores (as man-rl demo does) so the memory holds more of them"
        )
    print(f"memory saved to {args.out}")
    return 130 if result.interrupted else 0
