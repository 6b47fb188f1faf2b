"""``man-rl agent``: train and evaluate the Q-learning agents (tabular and DQN)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from man_rl.cli.common import (
    add_threads_option,
    make_env,
    non_negative_int,
    positive_int,
    probability,
)
from man_rl.errors import InvalidValueError

if TYPE_CHECKING:
    from man_rl.agents import EvalResult

_SUFFIX = {"tabular": ".npz", "dqn": ".zip"}
_DEFAULT_BUDGET = {"tabular": ("episodes", 1000), "dqn": ("steps", 20_000)}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "agent",
        help="train or evaluate a Q-learning agent (tabular or DQN)",
        description="Train a tabular Q-learning or stable-baselines3 DQN agent, or measure "
        "an agent's greedy success rate.",
    )
    parser.set_defaults(run=lambda args: _usage(parser))
    commands = parser.add_subparsers(dest="agent_command", metavar="{train,eval}")

    train = commands.add_parser(
        "train",
        help="train an agent and save it",
        description="Train an agent on --env and save it: tabular Q-learning to an .npz, "
        "DQN (MiniGrid envs) to SB3's .zip. Then print its greedy success rate.",
    )
    train.add_argument("--kind", choices=("tabular", "dqn"), required=True, help="agent kind")
    train.add_argument("--env", default="MiniGrid-Empty-5x5-v0", help="gymnasium env id")
    train.add_argument(
        "--episodes", type=positive_int, help="episodes to train (tabular; default 1000)"
    )
    train.add_argument("--steps", type=positive_int, help="env steps to train (default: dqn 20000)")
    train.add_argument("--seed", type=int, default=0, help="seed of env and exploration")
    train.add_argument("--alpha", type=probability, default=0.5, help="tabular learning rate")
    train.add_argument("--gamma", type=probability, default=0.9, help="tabular discount")
    train.add_argument(
        "--eval-episodes",
        type=non_negative_int,
        default=20,
        help="greedy episodes to measure after training (0: skip)",
    )
    train.add_argument(
        "--out", type=Path, required=True, help="agent file to write (.npz tabular, .zip dqn)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads_option(train)
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser(
        "eval",
        help="measure an agent's greedy success rate",
        description="Run an agent greedily for --episodes episodes and print its success rate "
        "and mean episode length.",
    )
    evaluate.add_argument(
        "--agent",
        default="pretrained",
        help="'pretrained' (or 'pretrained:dqn'), 'random', or a saved agent file",
    )
    evaluate.add_argument("--env", default="MiniGrid-Empty-5x5-v0", help="gymnasium env id")
    evaluate.add_argument("--episodes", type=positive_int, default=100, help="episodes to run")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    evaluate.set_defaults(run=run_eval)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run(args: argparse.Namespace) -> int:
    """Dispatch to ``train`` or ``eval``."""
    return int(args.run(args) or 0)


def run_train(args: argparse.Namespace) -> int:
    from man_rl.agents import evaluate

    suffix = _SUFFIX[args.kind]
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give a file path")
    if args.out.suffix.lower() != suffix:
        raise InvalidValueError(
            f"--out {args.out}: a {args.kind} agent is saved as {suffix}; e.g. "
            f"--out {args.out.with_suffix(suffix)}"
        )
    if args.kind == "dqn" and args.episodes is not None:
        raise InvalidValueError("--episodes is for tabular agents; give DQN a --steps budget")
    budget = {"episodes": args.episodes, "steps": args.steps}
    if args.episodes is None and args.steps is None:
        name, value = _DEFAULT_BUDGET[args.kind]
        budget[name] = value
    env = make_env(args.env)
    if args.kind == "tabular":
        from man_rl.agents import QTableAgent

        agent = QTableAgent.for_env(env)
        result = agent.train(env, alpha=args.alpha, gamma=args.gamma, seed=args.seed, **budget)
        done = f"{result.episodes} episodes, {result.steps} steps"
    else:
        from man_rl.agents import DQNAgent

        agent = DQNAgent.train(env, steps=budget["steps"], seed=args.seed, progress=not args.quiet)
        done = f"{budget['steps']} steps"
    agent.save(args.out)
    print(f"trained a {args.kind} agent on {args.env}: {done}")
    if args.eval_episodes:
        measured = evaluate(agent.policy(env), env, episodes=args.eval_episodes, seed=args.seed)
        _print_eval(measured)
    env.close()
    print(f"agent saved to {args.out}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from man_rl.agents import evaluate, make_policy

    env = make_env(args.env)
    policy = make_policy(args.agent, env, seed=args.seed)
    print(f"{policy.description} on {args.env}")
    _print_eval(evaluate(policy, env, episodes=args.episodes, seed=args.seed))
    env.close()
    return 0


def _print_eval(result: EvalResult) -> None:
    print(
        f"success rate: {result.success_rate:.2f} over {result.episodes} episodes, "
        f"mean episode length: {result.mean_length:.1f}, mean return: {result.mean_return:.3f}"
    )
