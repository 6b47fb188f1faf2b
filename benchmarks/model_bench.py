"""Long-term memories: time to recall accuracy >= 0.99, against a plain conv CVAE baseline.

The baseline is what one would write first from the CVAE paper: 32-64 channel convolutions,
the one-hot state as extra input channels and as a decoder input, batch 128, Adam 1e-3, no
root-vector term, trained on the same class-balanced batches. Accuracy is judged the same way
for every model: recalled screens classified by one judge per memory (a small CNN trained on
the memory's real frames, ``man_rl.evaluation.train_judge``, passed to
``man_rl.evaluation.metrics.recall_accuracy``), never by a model's own recogniser. The judge's
training is not counted in any model's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.harness import Row
from man_rl import ShortTermMemory, TypeA, TypeB
from man_rl.envs import random_walk_memory
from man_rl.evaluation import Judge, train_judge
from man_rl.evaluation.metrics import recall_accuracy
from man_rl.ltm.common import KeyIndex


class BaselineCVAE(nn.Module):
    """A plain conditional VAE on screens (the benchmark's baseline, not part of man_rl)."""

    def __init__(self, memory: ShortTermMemory, latent: int = 16, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.key_index = KeyIndex(memory.keys)
        self.frame_shape = memory.frame_shape
        h, w = self.frame_shape[:2]
        c = 1 if len(self.frame_shape) == 2 else self.frame_shape[2]
        k = len(self.key_index)
        self.pad = ((-h) % 4, (-w) % 4)
        self.bottom = ((h + self.pad[0]) // 4, (w + self.pad[1]) // 4)
        flat = 64 * self.bottom[0] * self.bottom[1]
        self.encoder = nn.Sequential(
            nn.Conv2d(c + k, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU()
        )
        self.to_stats = nn.Linear(flat, 2 * latent)
        self.from_latent = nn.Linear(latent + k, flat)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, c, 4, 2, 1)
        )
        self.latent, self.classes, self.channels = latent, k, c

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _images(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float().div(255.0)
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        return F.pad(x, (0, self.pad[1], 0, self.pad[0]))

    def _decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.classes).float()
        x = self.from_latent(torch.cat([z, one_hot], 1)).relu()
        x = self.decoder(x.view(-1, 64, *self.bottom))
        h, w = self.frame_shape[:2]
        return x[:, :, :h, :w]

    def loss(self, frames: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self._images(frames)
        one_hot = F.one_hot(labels, self.classes).float()
        planes = one_hot[:, :, None, None].expand(-1, -1, *x.shape[2:])
        stats = self.to_stats(self.encoder(torch.cat([x, planes], 1)).flatten(1))
        mu, log_var = stats.chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        logits = self._decode(z, labels)
        h, w = self.frame_shape[:2]
        target = x[:, :, :h, :w]
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(x)
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum() / len(x)
        return recon + kl

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn(len(labels), self.latent, generator=generator, device=labels.device)
        return torch.sigmoid(self._decode(z, labels))


def baseline_trainer(
    memory: ShortTermMemory, seed: int = 0, device: str = "cpu"
) -> tuple[BaselineCVAE, Callable]:
    """The baseline and a ``train(steps)`` function (batch 128, Adam 1e-3, balanced)."""
    model = BaselineCVAE(memory, seed=seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    to_model = torch.from_numpy(model.key_index.map_memory(memory.keys))

    def train(steps: int) -> None:
        model.train()
        for _ in range(steps):
            frames, labels = memory.sample(128, rng=rng)
            x = torch.from_numpy(frames).to(device)
            loss = model.loss(x, to_model[torch.from_numpy(labels)].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()

    return model, train


@dataclass
class Run:
    """One time-to-accuracy run."""

    seconds: float  # training time only (evaluation excluded)
    steps: int
    accuracy: float
    reached: bool
    samples: int  # training samples seen (steps x batch size)

    @property
    def throughput(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


def time_to_accuracy(
    model: object,
    train: Callable[[int], None],
    memory: ShortTermMemory,
    *,
    judge: Judge,
    batch: int,
    check_every: int,
    budget_s: float,
    target: float = 0.99,
) -> Run:
    """Train in chunks of ``check_every`` steps until recall accuracy >= ``target``.

    ``judge`` (trained once on ``memory``) scores every check, so no check trains one.
    """
    seconds, steps, accuracy = 0.0, 0, 0.0
    while seconds < budget_s:
        start = time.perf_counter()
        train(check_every)
        seconds += time.perf_counter() - start
        steps += check_every
        accuracy = recall_accuracy(model, memory, judge=judge, n=5, seed=0)
        if accuracy >= target:
            return Run(seconds, steps, accuracy, True, steps * batch)
    return Run(seconds, steps, accuracy, False, steps * batch)


def ours_trainer(
    cls: type,
    memory: ShortTermMemory,
    seed: int = 0,
    device: str = "cpu",
    mixed_precision: str | None = None,
) -> tuple[object, Callable]:
    """A man_rl model and a ``train(steps)`` continuing its ``fit``."""
    model = cls.for_memory(memory, seed=seed)
    first = [True]

    def train(steps: int) -> None:
        model.fit(
            memory,
            steps,
            seed=seed if first[0] else None,
            device=device,
            progress=False,
            mixed_precision=mixed_precision,
        )
        first[0] = False

    return model, train


def _describe(run: Run) -> str:
    mark = "" if run.reached else f" (not reached: {run.accuracy:.2f})"
    return f"{run.seconds:.1f} s, {run.steps} steps{mark}"


def env_rows(
    env_id: str,
    *,
    collect_steps: int,
    target_s: float,
    check_every: int,
    budget_s: float,
    baseline_budget_s: float,
    speedup_target: float | None,
) -> list[Row]:
    """Type A, Type B and the baseline on one env's random-walk memory."""
    memory = random_walk_memory(env_id, steps=collect_steps, capacity=50, seed=0)
    torch.set_num_threads(torch.get_num_threads())
    judge = train_judge(memory, seed=0)
    runs = {}
    for name, (model, train, batch) in {
        "A": (*ours_trainer(TypeA, memory), _batch_of(TypeA)),
        "B": (*ours_trainer(TypeB, memory), _batch_of(TypeB)),
        "baseline": (*baseline_trainer(memory), 128),
    }.items():
        budget = baseline_budget_s if name == "baseline" else budget_s
        runs[name] = time_to_accuracy(
            model,
            train,
            memory,
            judge=judge,
            batch=batch,
            check_every=check_every,
            budget_s=budget,
        )
    base = runs["baseline"]
    rows = []
    for name in ("A", "B"):
        run = runs[name]
        # An unreached baseline gives a lower bound on the speed-up.
        speedup = base.seconds / run.seconds if run.reached else None
        met = run.reached and run.seconds <= target_s
        target = f"<= {target_s:g} s"
        if speedup_target is not None:
            target += f", >= {speedup_target:g}x faster"
            met = met and speedup is not None and speedup >= speedup_target
        rows.append(
            Row(
                f"Type {name} time to recall acc >= 0.99, {env_id} ({memory.num_keys} states)",
                _describe(run),
                f"baseline CVAE {_describe(base)}" + ("" if base.reached else " (lower bound)"),
                speedup,
                target,
                met,
            )
        )
    rows.append(
        Row(
            f"training throughput, {env_id}",
            f"A {runs['A'].throughput:,.0f} / B {runs['B'].throughput:,.0f} samples/s",
            f"baseline {base.throughput:,.0f} samples/s",
            None,
            "report (CPU)",
            None,
        )
    )
    return rows


def device_throughput(env_id: str, device: str, steps: int, collect_steps: int) -> list[Row]:
    """Training samples/s of Type A, Type B (float32 and bf16) and the baseline on ``device``.

    Steps only, after a warm-up, with the device synchronised around the timing.
    """
    memory = random_walk_memory(env_id, steps=collect_steps, capacity=50, seed=0)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    batch = _batch_of(TypeA)
    measured = {
        (cls.kind, precision): _samples_per_s(
            ours_trainer(cls, memory, device=device, mixed_precision=precision)[1],
            steps,
            batch,
            sync,
        )
        for cls in (TypeA, TypeB)
        for precision in (None, "bf16")
    }
    base = _samples_per_s(baseline_trainer(memory, device=device)[1], steps, 128, sync)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    shown = ", ".join(
        f"{kind} {'bf16' if precision else 'fp32'} {rate:,.0f}"
        for (kind, precision), rate in measured.items()
    )
    return [
        Row(
            f"training throughput, {env_id}, {name}",
            f"{shown} samples/s",
            f"baseline fp32 {base:,.0f} samples/s",
            None,
            f"report ({device})",
            None,
        )
    ]


def _samples_per_s(
    train: Callable[[int], None], steps: int, batch: int, sync: Callable[[], None]
) -> float:
    """Training samples/s of ``steps`` steps after 5 warm-up steps (kernels, allocator, Adam)."""
    train(5)
    sync()
    start = time.perf_counter()
    train(steps)
    sync()
    return steps * batch / (time.perf_counter() - start)


def _batch_of(cls: type) -> int:
    from man_rl.ltm.training import DEFAULT_BATCH_SIZE

    return DEFAULT_BATCH_SIZE


def run(quick: bool = False) -> list[Row]:
    """Both envs at full size, or a tiny smoke run; CUDA throughput where a GPU is at hand."""
    cuda = (
        device_throughput("MiniGrid-Empty-8x8-v0", "cuda", steps=200, collect_steps=30000)
        if torch.cuda.is_available() and not quick
        else []
    )
    if quick:
        return device_throughput("MiniGrid-Empty-5x5-v0", "cpu", 2, 300) + env_rows(
            "MiniGrid-Empty-5x5-v0",
            collect_steps=300,
            target_s=5,
            check_every=5,
            budget_s=0.5,
            baseline_budget_s=0.5,
            speedup_target=10,
        )
    return (
        env_rows(
            "MiniGrid-Empty-5x5-v0",
            collect_steps=3000,
            target_s=5,
            check_every=25,
            budget_s=30,
            baseline_budget_s=120,
            speedup_target=10,
        )
        + env_rows(
            "MiniGrid-Empty-8x8-v0",
            collect_steps=30000,
            target_s=60,
            check_every=100,
            budget_s=90,
            baseline_budget_s=120,
            speedup_target=None,
        )
        + cuda
    )
