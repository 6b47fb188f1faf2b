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

import numpy as np
import torch
from IPython.display import Image, display

from man_rl import TypeA, TypeB
from man_rl.envs import random_walk_memory
from man_rl.evaluation import evaluate
from man_rl.ltm.networks import frames_to_tensor
from man_rl.plotting import latent_scatter, training_curves

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
STEPS = 100 if SMALL else 800


def show(fig, dpi=70):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


stm = random_walk_memory("MiniGrid-Empty-5x5-v0", steps=800 if SMALL else 3000, capacity=60)
print(stm)

# %%
results, models, histories = {}, {}, {}
for cls in (TypeA, TypeB):
    model = cls.for_memory(stm, seed=0)
    start = time.perf_counter()
    histories[model.kind] = model.fit(stm, STEPS, seed=0, progress=False)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, stm, seed=0)
    models[model.kind] = model
    results[model.kind] = {
        "train seconds": round(seconds, 1),
        "recall accuracy": round(metrics["recall_accuracy"], 3),
        "recall error": round(metrics["recall_error"], 4),
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
# ## Type B's latent space: one cluster per state around its lambda-hot mean

# %%
model_b = models["B"]
frames, labels = stm.all_frames()
with torch.no_grad():
    _, mu, _ = model_b.encode(frames_to_tensor(frames, model_b.device))
means = mu.cpu().numpy()
prior = model_b.prior_means.cpu().numpy()
keep = np.isin(labels, np.arange(8))  # eight states keep the picture readable
show(
    latent_scatter(means[keep], labels[keep], prior[:8], label_names=[str(k) for k in stm.keys[:8]])
)
