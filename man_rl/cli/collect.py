"""``man-rl collect``: run an agent in an environment and save the short-term memory it fills."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from man_rl.cli.common import (
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="run an agent and save the screens of every state it visits",
        description="Run an agent in an environment inside MemoryWrapper and save the "
        "short-term memory (one queue of screens per state) to a file. Ctrl-C or SIGTERM "
        "stops early and still writes what was gathered.",
    )
    parser.add_argument("--env", default="MiniGrid-Empty-5x5-v0", help="gymnasium env id")
    parser.add_argument(
        "--agent",
        default="pretrained",
        help="'pretrained' (the shipped agent for --env), 'random', or a saved agent file",
    )
    parser.add_argument("--steps", type=positive_int, default=5000, help="env steps to run")
    parser.add_argument(
        "--epsilon", type=probability, default=0.0, help="chance of a random action per step"
    )
    parser.add_argument(
        "--capacity", type=positive_int, default=None, help="frames per state (default 500)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of env, agent and exploration")
    parser.add_argument(
        "--tile-size", type=positive_int, default=8, help="MiniGrid pixels per grid cell"
    )
    parser.add_argument("--out", type=Path, required=True, help="memory file to write")
    parser.add_argument("--resume", action="store_true", help="add to the memory already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from man_rl.agents import make_policy

    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give a file path")
    memory = None
    if args.resume and args.out.exists():
        memory = ShortTermMemory.load(args.out)
        if args.capacity is not None and args.capacity != memory.capacity:
            raise InvalidValueError(
                f"--capacity {args.capacity} differs from the resumed memory's capacity "
                f"{memory.capacity}; drop --capacity when resuming"
            )
    env = MemoryWrapper(
        make_env(args.env, tile_size=args.tile_size),
        capacity=None if memory is not None else (args.capacity or 500),
        memory=memory,
    )
    policy = make_policy(args.agent, env, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    env.action_space.seed(args.seed)
    with sigterm_as_interrupt():
        result = collect(
            env,
            epsilon_greedy(policy, env.action_space, args.epsilon, rng),
            args.steps,
            seed=None if memory is not None else args.seed,
            progress=not args.quiet,
        )
    with signals_deferred():
        env.memory.save(args.out)
    env.close()
    status = "interrupted after" if result.interrupted else "ran"
    print(f"{status} {result.steps} steps, {result.episodes} episodes finished")
    for line in summarize(env.memory, known_states(env)).lines():
        print(line)
    print(f"memory saved to {args.out}")
    return 130 if result.interrupted else 0
