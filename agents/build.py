"""Regenerate the shipped pretrained agents and their manifest from the recipes in :mod:`.zoo`.

``python agents/pretrained/train_pretrained.py`` calls :func:`build_pretrained`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from man_rl.errors import CorruptFileError, InvalidValueError
from man_rl.io.atomic import write_json_atomically

from .policies import evaluate
from .tabular import QTableAgent
from .zoo import (
    COMMAND,
    EVAL_EPISODES,
    MANIFEST_NAME,
    PRETRAINED_DIR,
    RECIPES,
    read_manifest,
    sha256_of,
)


def build_pretrained(
    folder: Path | None = None,
    *,
    only: Iterable[str] | None = None,
    eval_episodes: int = EVAL_EPISODES,
    progress: bool = False,
) -> dict[str, Any]:
    """Train every recipe (or the filenames in ``only``), save, evaluate and write the manifest.

    Entries of files not rebuilt are kept. Returns the manifest written.
    """
    import gymnasium as gym

    from man_rl.envs import register_envs

    from .dqn import DQNAgent

    register_envs()
    folder = Path(folder if folder is not None else PRETRAINED_DIR)
    wanted = set(only) if only is not None else {r.filename for r in RECIPES}
    unknown = wanted - {r.filename for r in RECIPES}
    if unknown:
        raise InvalidValueError(f"no recipe for {sorted(unknown)}")
    try:
        manifest = read_manifest(folder)
    except (FileNotFoundError, CorruptFileError):
        manifest = {"files": {}}
    for recipe in RECIPES:
        if recipe.filename not in wanted:
            continue
        env = gym.make(recipe.env_id)
        settings = dict(recipe.settings)
        if recipe.kind == "tabular":
            agent: Any = QTableAgent.for_env(env)
            if "epsilon" in settings:
                settings["epsilon"] = tuple(settings["epsilon"])
            agent.train(env, seed=recipe.seed, **settings)
            policy = agent.policy(env)
        else:
            agent = DQNAgent.train(env, seed=recipe.seed, progress=progress, **settings)
            policy = agent.policy(env)
        path = agent.save(folder / recipe.filename)
        result = evaluate(policy, env, episodes=eval_episodes, seed=0)
        env.close()
        manifest["files"][recipe.filename] = {
            "sha256": sha256_of(path),
            "kind": recipe.kind,
            "env_id": recipe.env_id,
            "seed": recipe.seed,
            "settings": recipe.settings,
            "command": f"{COMMAND} --only {recipe.filename}",
            "success_rate": result.success_rate,
            "mean_episode_length": result.mean_length,
            "eval": f"greedy, {eval_episodes} episodes, env seeds 0..{eval_episodes - 1}",
        }
    manifest["note"] = (
        "SHA-256 of each shipped agent file, checked on every load; regenerate with "
        f"{COMMAND} (same seeds)."
    )
    write_json_atomically(folder / MANIFEST_NAME, manifest, sort_keys=True)
    return manifest


__all__ = ["build_pretrained"]
