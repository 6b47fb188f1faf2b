"""Write the golden checkpoints that ``tests/test_checkpoint_golden.py`` loads.

For each model type this writes, next to this script:

* ``golden_type_a_v<N>.manrl`` / ``golden_type_b_v<N>.manrl``: a tiny trained model saved with
  ``model.save`` (weights, config, keys and training state, optimizer included), in checkpoint
  format ``N`` (``man_rl.io.bundle.FORMAT_VERSION`` when the script is run);
* ``golden_type_a_v<N>_recall.npy`` / ``golden_type_b_v<N>_recall.npy``: what
  ``model.recall(key, RECALL_N, seed=0)`` returned for each key, in key order (uint8,
  shaped ``(num_keys, RECALL_N, *frame_shape)``).

Run it from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python tests/data/make_golden_checkpoints.py

Only rerun it when ``FORMAT_VERSION`` is bumped. The files already here are the record of what
older versions of man_rl wrote, and the test checks that they still load: never overwrite or
regenerate them (the script refuses to), add the new ``..._v<N+1>`` files beside them and a test
for those. Keep :data:`RECIPES` as they are, too: the test rebuilds the training memories from
them (add a new recipe rather than edit an old one).
``--out DIR`` writes the files to another folder instead (to check that a run reproduces them:
the script is deterministic, training runs on the CPU with fixed seeds).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, when run as a script

from man_rl import ShortTermMemory  # noqa: E402

#: Frames per state each recall draws (the expected output stored beside the checkpoint).
RECALL_N = 3


def memory_type_a() -> ShortTermMemory:
    """3 grey states of 6x5 frames, 2 frames each; keys of three kinds (str, tuple, int)."""
    stm = ShortTermMemory(2, seed=0)
    for level, key in [(20, "dark"), (128, ("room", 1)), (230, 7)]:
        for variant in range(2):
            frame = np.full((6, 5), level, np.uint8)
            frame[variant * 3, variant * 2] = 255 - level  # a small mark that moves
            stm.add(key, frame)
    return stm


def memory_type_b() -> ShortTermMemory:
    """3 colour states of 8x8x3 frames, 2 frames each: a red, a green and a blue screen."""
    stm = ShortTermMemory(2, seed=0)
    for channel, key in enumerate([("room", 0), ("room", 1), "goal"]):
        for variant in range(2):
            frame = np.full((8, 8, 3), 30, np.uint8)
            frame[..., channel] = 220
            frame[variant * 4 : variant * 4 + 2, 2:6] = 128  # a small block that moves
            stm.add(key, frame)
    return stm


#: name -> (model class name, memory, model options, fit options). The test reads these.
RECIPES: dict[str, tuple[str, Callable[[], ShortTermMemory], dict[str, Any], dict[str, Any]]] = {
    "type_a": (
        "TypeA",
        memory_type_a,
        dict(
            root_dim=8,
            latent_dim=4,
            hidden_dim=16,
            channels=(4,),
            lambda_root=0.5,
            lambda_association=0.75,
            kl_weight=0.25,
            seed=3,
        ),
        dict(steps=60, batch_size=6, lr=0.02),
    ),
    "type_b": (
        "TypeB",
        memory_type_b,
        dict(
            latent_dim=5,
            root_dim=8,
            hidden_dim=16,
            channels=(4, 6),
            lambda_root=0.5,
            lambda_association=0.75,
            lambda_recognition=2.0,
            kl_weight=0.25,
            class_kl_weight=5.0,
            lam=7.0,
            state_readout=True,
            state_from_prior=False,
            seed=4,
        ),
        dict(steps=80, batch_size=6, lr=0.02),
    ),
}


def build(name: str) -> Any:
    """The trained model of recipe ``name`` (bit-identical on every run on the CPU)."""
    import torch

    from man_rl import models

    torch.set_num_threads(1)
    class_name, make_memory, options, fit_options = RECIPES[name]
    memory = make_memory()
    model = getattr(models, class_name).for_memory(memory, **options)
    model.fit(memory, **fit_options, seed=0, progress=False, device="cpu")
    return model


def write(out: Path, version: int, overwrite: bool) -> list[Path]:
    """Write every recipe's checkpoint and expected recall to ``out``; returns the paths."""
    written = []
    for name in RECIPES:
        checkpoint = out / f"golden_{name}_v{version}.manrl"
        recall = out / f"golden_{name}_v{version}_recall.npy"
        for path in (checkpoint, recall):
            if path.exists() and not overwrite:
                raise SystemExit(
                    f"{path} exists: golden files are never regenerated. Bump FORMAT_VERSION "
                    "for a new set, or pass --out to write elsewhere."
                )
        model = build(name)
        model.save(checkpoint)
        expected = np.stack([model.recall(key, RECALL_N, seed=0) for key in model.keys])
        np.save(recall, expected, allow_pickle=False)
        written += [checkpoint, recall]
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    from man_rl.io.bundle import FORMAT_VERSION

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: tests/data)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in write(args.out, FORMAT_VERSION, overwrite=args.out.resolve() != HERE):
        print(f"{path}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
