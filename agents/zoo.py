"""The shipped pretrained agents: how each was made, and its SHA-256 checked on every load.

``pretrained/MANIFEST.json`` records, per file: the env, the kind of agent, the seed and
settings, the command that made it and its measured greedy success rate.
``pretrained/train_pretrained.py`` (or :func:`man_rl.agents.build.build_pretrained`)
regenerates the files and the manifest.

Example:
    >>> sorted(pretrained_envs())
    ['ManRL/Empty-4x4-v0', 'MiniGrid-Empty-5x5-v0']
    >>> pretrained_path("MiniGrid-Empty-5x5-v0").name
    'tabular_minigrid_empty_5x5.npz'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from man_rl.errors import CorruptFileError, InvalidValueError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST_NAME = "MANIFEST.json"
KINDS = ("tabular", "dqn")
EVAL_EPISODES = 100
COMMAND = "python agents/pretrained/train_pretrained.py"


@dataclass(frozen=True)
class Recipe:
    """How one pretrained file is made.

    Example:
        >>> RECIPES[0].filename, RECIPES[0].kind
        ('tabular_minigrid_empty_5x5.npz', 'tabular')
    """

    kind: str
    env_id: str
    filename: str
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)


#: Every shipped pretrained agent; for an env, the first recipe is its default.
RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "tabular",
        "MiniGrid-Empty-5x5-v0",
        "tabular_minigrid_empty_5x5.npz",
        seed=0,
        settings={"episodes": 1000, "alpha": 0.5, "gamma": 0.9, "epsilon": [1.0, 0.05]},
    ),
    Recipe(
        "tabular",
        "ManRL/Empty-4x4-v0",
        "tabular_manrl_empty_4x4.npz",
        seed=0,
        settings={"episodes": 1000, "alpha": 0.5, "gamma": 0.9, "epsilon": [1.0, 0.05]},
    ),
    Recipe(
        "dqn",
        "MiniGrid-Empty-5x5-v0",
        "dqn_minigrid_empty_5x5.zip",
        seed=0,
        settings={"steps": 20_000},
    ),
)


def pretrained_envs(kind: str | None = None) -> list[str]:
    """Env ids that have a shipped pretrained agent (of ``kind``, if given)."""
    return list(dict.fromkeys(r.env_id for r in RECIPES if kind in (None, r.kind)))


def find_recipe(env_id: str | None, kind: str | None = None) -> Recipe:
    """The recipe of the pretrained agent for ``env_id`` (the default kind when ``kind`` is None).

    Raises :class:`InvalidValueError` listing the envs that have one.
    """
    if kind is not None and kind not in KINDS:
        raise InvalidValueError(f"unknown agent kind {kind!r}; choose one of {KINDS}")
    for recipe in RECIPES:
        if recipe.env_id == env_id and kind in (None, recipe.kind):
            return recipe
    what = f"{kind} agent" if kind else "agent"
    raise InvalidValueError(
        f"no pretrained {what} for env {env_id!r}; pretrained {what}s exist for: "
        f"{', '.join(pretrained_envs(kind))}. Train one with 'man-rl agent train' and pass "
        "its file, or use --agent random"
    )


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The parsed ``MANIFEST.json`` of ``folder`` (default :data:`PRETRAINED_DIR`)."""
    path = Path(folder if folder is not None else PRETRAINED_DIR) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing; regenerate the pretrained agents with {COMMAND}"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFileError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CorruptFileError(f"{path} has no 'files' table")
    return manifest


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_file(filename: str, folder: Path | None = None) -> Path:
    """Path of a shipped file after checking its SHA-256 against the manifest.

    ``folder`` defaults to :data:`PRETRAINED_DIR`. Raises :class:`CorruptFileError` when the
    file differs from what the manifest records.
    """
    folder = Path(folder if folder is not None else PRETRAINED_DIR)
    entry = read_manifest(folder)["files"].get(filename)
    path = folder / filename
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise CorruptFileError(f"{folder / MANIFEST_NAME} records no SHA-256 for {filename}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; regenerate it with {COMMAND}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise CorruptFileError(
            f"{path} has SHA-256 {actual}, but {MANIFEST_NAME} records {entry['sha256']}: the "
            f"file was changed or damaged; restore it or regenerate it with {COMMAND}"
        )
    return path


def pretrained_path(env_id: str | None, kind: str | None = None) -> Path:
    """Verified path of the pretrained agent file for ``env_id`` (see :func:`find_recipe`)."""
    return verified_file(find_recipe(env_id, kind).filename)


__all__ = [
    "KINDS",
    "PRETRAINED_DIR",
    "RECIPES",
    "Recipe",
    "find_recipe",
    "pretrained_envs",
    "pretrained_path",
    "read_manifest",
    "sha256_of",
    "verified_file",
]
