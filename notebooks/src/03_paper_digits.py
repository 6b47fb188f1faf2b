# %% [markdown]
# # The paper's section 4.1 on handwritten digits, and the class-imbalance experiment
#
# The paper trains its memory on MNIST and recalls digits by class (Figure 6). MNIST cannot be
# downloaded here, so this notebook uses the 8x8 handwritten digits that ship with
# scikit-learn (`man_rl.datasets.mnist_memory` reads real MNIST files where you have them).
# Recalled digits are judged by a classifier trained on real digits, never by the model.

# %%
import io
import os

import numpy as np
from IPython.display import Image, display
from sklearn.linear_model import LogisticRegression

from man_rl import TypeA
from man_rl.datasets import digits_arrays, memory_from_arrays
from man_rl.plotting import class_balance_from_memory, digit_grid

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
STEPS = 150 if SMALL else 3000


def show(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


frames, labels = digits_arrays()
rng = np.random.default_rng(0)
order = rng.permutation(len(frames))
train, test = order[: len(order) * 2 // 3], order[len(order) * 2 // 3 :]
judge = LogisticRegression(max_iter=2000).fit(
    frames[train].reshape(len(train), -1) / 255, labels[train]
)
print(
    "judge accuracy on held-out real digits:",
    round(judge.score(frames[test].reshape(len(test), -1) / 255, labels[test]), 3),
)


def recall_report(model, n=20):
    """Per-digit share of recalled digits the judge reads as the digit asked for."""
    recalled = np.stack([model.recall(d, n, seed=0) for d in range(10)])
    guesses = judge.predict(recalled.reshape(10 * n, -1) / 255).reshape(10, n)
    return recalled, (guesses == np.arange(10)[:, None]).mean(axis=1)


# %% [markdown]
# ## Per-digit recall (Type A, balanced batches from the short-term memory)

# %%
stm = memory_from_arrays(frames[train], labels[train], capacity=200, seed=0)
model = TypeA.for_memory(stm, seed=0)
model.fit(stm, STEPS, seed=0, progress=False)
recalled, per_digit = recall_report(model)
show(digit_grid(recalled[:, :10], cmap="gray_r", title="Type A: 10 recalled samples per digit"))
print("recalled digits read as the asked digit:", round(per_digit.mean(), 3))
print("per digit:", dict(enumerate(per_digit.round(2).tolist())))

# %% [markdown]
# ## Class imbalance: digit 3 gets 20x the data of every other digit
#
# The short-term memory keeps one queue per class and samples the class first, then a frame:
# rare classes weigh as much as the common one. Plain (frame-uniform) sampling lets the common
# class dominate the batches. We train the same model both ways and follow, every 25 steps,
# how well the judge recognises the recalled digits (its probability for the asked digit) and
# how far the recalled digits are from the nearest real one.

# %%
per_rare = 6
keep = np.concatenate(
    [
        np.flatnonzero(labels[train] == d)[: (20 * per_rare if d == 3 else per_rare)]
        for d in range(10)
    ]
)
imbalanced = memory_from_arrays(frames[train][keep], labels[train][keep], capacity=200, seed=0)
print("frames per digit:", imbalanced.counts())
show(class_balance_from_memory(imbalanced, draws=20_000, rng=0))


def quality(model, n=20):
    """Judge's probability of the asked digit and distance to the nearest real digit."""
    recalled = np.stack([model.recall(d, n, seed=0) for d in range(10)]).astype(float) / 255
    prob = judge.predict_proba(recalled.reshape(10 * n, -1)).reshape(10, n, 10)
    confidence = np.array([prob[d, :, d].mean() for d in range(10)])
    real = [imbalanced.queue(d).astype(float) / 255 for d in range(10)]
    error = np.array(
        [
            ((recalled[d][:, None] - real[d][None]) ** 2).mean((2, 3)).min(1).mean()
            for d in range(10)
        ]
    )
    return confidence, error, recalled


CHUNK, TOTAL = 25, 50 if SMALL else 300
rare = np.arange(10) != 3
curves, snapshots = {}, {}
for balanced in (True, False):
    name = "balanced" if balanced else "plain"
    model = TypeA.for_memory(imbalanced, seed=0)
    curves[name] = []
    for step in range(CHUNK, TOTAL + 1, CHUNK):
        model.fit(
            imbalanced, CHUNK, seed=0 if step == CHUNK else None, progress=False, balanced=balanced
        )
        confidence, error, recalled = quality(model)
        curves[name].append((step, confidence[rare].mean(), confidence[3], error[rare].mean()))
        if step == 2 * CHUNK:
            snapshots[name] = recalled

from matplotlib.figure import Figure  # noqa: E402

fig = Figure(figsize=(10, 3.5))
left, right = fig.subplots(1, 2)
for name, rows in curves.items():
    rows = np.array(rows)
    left.plot(rows[:, 0], rows[:, 1], label=f"{name}: rare digits")
    left.plot(rows[:, 0], rows[:, 2], "--", label=f"{name}: digit 3 (common)")
    right.plot(rows[:, 0], rows[:, 3], label=f"{name}: rare digits")
left.set(xlabel="training step", ylabel="judge's probability of the asked digit", ylim=(0, 1))
right.set(xlabel="training step", ylabel="distance to nearest real digit (MSE)")
left.legend(fontsize=7)
right.legend(fontsize=7)
show(fig)
for name, recalled in snapshots.items():
    show(
        digit_grid(
            (recalled[:, :8] * 255).round().astype(np.uint8),
            cmap="gray_r",
            title=f"{name} sampling, after {2 * CHUNK} steps",
        )
    )
print(f"{'step':>5} {'balanced rare':>14} {'plain rare':>11}")
for (step, b, _, _), (_, p, _, _) in zip(curves["balanced"], curves["plain"], strict=True):
    print(f"{step:>5} {b:>14.3f} {p:>11.3f}")
