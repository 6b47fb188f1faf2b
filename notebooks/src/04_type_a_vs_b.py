# %% [markdown]
# # Type A vs Type B on the same short-term memory
#
# **Type A** is the paper's conditional VAE: the state's one-hot vector conditions both the
# long-term encoder and decoder, and the latent prior is N(0, I). **Type B** has no condition
# at the encoder; each state has its own prior N(lambda * c_i, I), so the encoder doubles as a
# **recogniser** (nearest prior mean, "unknown" outside every prior's 3-sigma ball).

# %%
import io
import os
import time

import torch
from IPython.display import Image, display

from man_rl import TypeA, TypeB
from man_rl.envs import layout_for, random_walk_memory
from man_rl.evaluation import evaluate, train_judge
from man_rl.ltm.networks import frames_to_tensor
from man_rl.plotting import latent_by_state, latent_scatter, training_curves

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
STEPS = 100 if SMALL else 800


def show(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


stm = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=800 if SMALL else 3000, capacity=60)
print(stm)

# %%
results, models, histories = {}, {}, {}
judge = train_judge(stm, seed=0)  # one judge of the real frames scores both models
for cls in (TypeA, TypeB):
    model = cls.for_memory(stm, seed=0)
    start = time.perf_counter()
    histories[model.kind] = model.fit(stm, STEPS, seed=0, progress=False)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, stm, judge=judge, seed=0)
    models[model.kind] = model
    results[model.kind] = {
        "train seconds": round(seconds, 1),
        "recall accuracy": round(metrics["recall_accuracy"], 3),
        "fidelity": round(metrics["fidelity"], 2),
        "recognition": None
        if metrics["recognition"] is None
        else round(metrics["recognition"]["accuracy"], 3),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
for kind, row in results.items():
    print(f"Type {kind}: {row}")

# %% [markdown]
# ## Training curves

# %%
for kind, history in histories.items():
    show(training_curves(history, title=f"Type {kind}"))

# %% [markdown]
# ## Type B's latent space: every state's encodings beside its own lambda-hot prior
#
# One panel per state, placed as in the recall grid (position x direction). In each, a red
# dot is the encoder's mean for one real screen of that state: x is its coordinate on the
# state's own axis, y its distance off that axis. The state's prior mean sits at
# `(lambda, 0)` (blue ring) and every other state's at `(0, lambda)` (grey ring); the dashed
# blue circle is the 3-sigma ball inside which `recognize` answers this state (the distance to
# the blue ring in this plane *is* the distance recognition measures). The title counts the
# encodings inside it.

# %%
model_b = models["B"]
frames, labels = stm.all_frames()
labels = model_b.key_index.map_memory(stm.keys)[labels]  # memory labels -> model classes
with torch.no_grad():
    _, mu, _ = model_b.encode(frames_to_tensor(frames, model_b.device))
means = mu.cpu().numpy()
show(
    latent_by_state(
        means,
        labels,
        lam=model_b.config.lam,
        num_states=len(model_b.keys),
        keys=model_b.keys,
        layout=layout_for("MiniGrid-Empty-5x5-v0"),
    )
)

# %% [markdown]
# All states in one 2-D view (the ring projection): with 34 equally distant priors no linear
# view keeps them apart, so clusters overlap here; the panels above are the per-state view.
# Prior means are hollow rings with the encodings drawn on top.

# %%
prior = model_b.prior_means(torch.arange(len(model_b.keys))).cpu().numpy()
show(latent_scatter(means, labels, prior, label_names=[str(k) for k in model_b.keys]))
