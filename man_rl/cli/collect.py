"""``man-rl collect``: run an agent in an environment and save the short-term memory it fills."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from man_rl.cli.common import (
    env_kwargs,
    known_states,
    make_env,
    positive_int,
    probability,
    signals_deferred,
    sigterm_as_interrupt,
)
from man_rl.collect import collect, epsilon_greedy, summarize
from man_rl.errors import InvalidValueError
from man_rl.memory import ShortTermMemory
from man_rl.wrapper import MemoryWrapper

DEFAULT_CAPACITY = 500


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


def _policy_for(agent: str, env: Any, seed: int) -> Any:
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


def run(args: argparse.Namespace) -> int:
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give a file path")
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
    memory = _start_memory(args)
    if memory is None:  # seeded, so the same seed gives a bit-identical file
        memory = ShortTermMemory(args.capacity or DEFAULT_CAPACITY, seed=args.seed)
        seed = args.seed
    else:  # resuming: fresh seeds for env, agent and exploration, or it repeats the first run
        seed = int(np.random.SeedSequence().entropy % 2**31)
    single = MemoryWrapper(make_env(args.env, tile_size=args.tile_size), memory=memory)
    policy = epsilon_greedy(
        _policy_for(args.agent, single, seed),
        single.action_space,
        args.epsilon,
        np.random.default_rng(seed),
    )
    single.action_space.seed(seed)
    interrupted = False
    with sigterm_as_interrupt():
        if args.ray_workers or args.workers:
            from man_rl.distributed import collect_with_processes, collect_with_ray

            fan_out = collect_with_ray if args.ray_workers else collect_with_processes
            workers = args.ray_workers or args.workers
            try:
                fan_out(
                    partial(make_env, args.env, tile_size=args.tile_size),
                    partial(_policy_for, args.agent),
                    args.steps,
                    workers=workers,
                    seed=seed,
                    capacity=single.memory.capacity,
                    epsilon=args.epsilon,
                    memory=single.memory,
                )
            except KeyboardInterrupt:
                interrupted = True
            where = f"{workers} Ray tasks" if args.ray_workers else f"{workers} worker processes"
            line = f"{'part of ' if interrupted else ''}{args.steps} steps in {where}"
        elif args.num_envs > 1:
            from man_rl.vector import collect_vector, make_memory_vec_env, per_env_policy

            vec = make_memory_vec_env(
                args.env,
                args.num_envs,
                vectorization_mode=args.vectorization,
                memory=single.memory,
                **env_kwargs(args.env, tile_size=args.tile_size),
            )
            taken = collect_vector(
                vec,
                per_env_policy(policy, args.num_envs),
                args.steps,
                seed=seed,
                progress=not args.quiet,
            )
            vec.close()
            interrupted = taken < args.steps
            line = f"{taken} steps in {args.num_envs} envs"
        else:
            result = collect(single, policy, args.steps, seed=seed, progress=not args.quiet)
            interrupted = result.interrupted
            line = f"{result.steps} steps, {result.episodes} episodes finished"
    with signals_deferred():
        single.memory.save(args.out)
    print(("interrupted: " if interrupted else "ran ") + line)
    for text in summarize(single.memory, known_states(single)).lines():
        print(text)
    print(f"memory saved to {args.out}")
    single.close()
    return 130 if interrupted else 0
