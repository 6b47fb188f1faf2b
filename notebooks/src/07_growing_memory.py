# %% [markdown]
# # A memory that grows while the agent learns
#
# An agent meets its env's states one at a time: the start cell first, the far corners much
# later. Here a Stable-Baselines3 PPO agent learns `MiniGrid-Empty-8x8-v0` while
# `MemoryCallback` trains a long-term memory beside it, every few thousand env steps, on the
# short-term memory its `MemoryWrapper` fills. Each time the memory holds states the model has
# not seen, `fit` **grows** the model by them: the learnt weights and Adam's moments stay, the
# old states' recall does not change, and a new state starts from the known state that looks
# most like it. With `tensorboard_log=...` the same figures and the recall grid go to
# TensorBoard; here we keep each update and draw it.

# %%
import io
import os

import gymnasium as gym
import matplotlib.image
import minigrid  # noqa: F401  (registers the MiniGrid envs)
import numpy as np
from IPython.display import Image, display
from matplotlib.figure import Figure
from minigrid.wrappers import ImgObsWrapper
from stable_baselines3 import PPO

from man_rl import MemoryWrapper
from man_rl.envs import layout_for, reachable_states
from man_rl.evaluation import judge_samples, recall_all, train_judge
from man_rl.integrations.sb3 import MemoryCallback
from man_rl.plotting import side_by_side

SMALL = os.environ.get("MAN_RL_SMALL") == "1"  # tiny settings when the test suite runs this
ENV_ID = "MiniGrid-Empty-5x5-v0" if SMALL else "MiniGrid-Empty-8x8-v0"
TOTAL = 768 if SMALL else 20_000  # the agent's env steps
EVERY = 256 if SMALL else 1000  # env steps between memory updates
JUDGE_EVERY = 1 if SMALL else 8  # updates between judge calls (and recall grids)


def show(fig, dpi=70):
    """Display a matplotlib Figure as a PNG (small dpi keeps the notebook light)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


def show_pixels(pixels):
    """Display an RGB array (a recall grid drawn by the callback) as a PNG."""
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, pixels, format="png")
    display(Image(buffer.getvalue()))


# %% [markdown]
# ## 1. The agent, its memory and the callback
# `ImgObsWrapper` gives PPO MiniGrid's 7x7 view; the wrapper below it stores the rendered
# screen of every state under its key `(x, y, direction)`. The callback finds that memory in
# the agent's env, trains Type B for 60 steps every `EVERY` env steps, and every
# `JUDGE_EVERY` updates runs the strict judge (a classifier trained on the real screens) and
# draws the recall grid, with the env's whole layout, so states not met yet show as
# "never seen".

# %%
base = gym.make(ENV_ID, render_mode="rgb_array", tile_size=8)
env = ImgObsWrapper(MemoryWrapper(base, capacity=50))
updates = []
callback = MemoryCallback(
    every=EVERY,
    on_update=updates.append,
    model="B",
    steps=20 if SMALL else 60,
    judge_every=JUDGE_EVERY,
    judge_steps=60 if SMALL else None,
    layout=layout_for(base),
    reachable=reachable_states(base),
    grid_dpi=40,
    seed=0,
    device="cpu",
)
agent = PPO("MlpPolicy", env, n_steps=256 if SMALL else 1024, batch_size=64, seed=0, device="cpu")
agent.learn(TOTAL, callback=callback)
memory, model = callback.trainer.memory, callback.trainer.model
print(memory)
print(f"{len(model.keys)} states known, {len(reachable_states(base))} reachable")

# %% [markdown]
# ## 2. The states known over the agent's steps
# Each dot is one update; the judge's accuracy (recalled screens it gives to the state
# asked for) is measured over every state known at that moment, new ones included.

# %%
steps = [u.env_steps for u in updates]
fig = Figure(figsize=(9, 3))
left, right = fig.subplots(1, 2)
left.plot(steps, [u.scalars["memory/states_known"] for u in updates], "o-")
left.set(xlabel="agent env steps", ylabel="states known", title="the memory grows")
judged = [u for u in updates if "memory/judge_accuracy" in u.scalars]
right.plot(
    [u.env_steps for u in judged], [u.scalars["memory/judge_accuracy"] for u in judged], "o-"
)
right.set(xlabel="agent env steps", ylabel="judge accuracy", ylim=(0, 1.05), title="recall")
show(fig)

# %% [markdown]
# ## 3. The recall grid at a few points in time
# Real screen beside the recalled one, position along the columns, direction down the rows;
# grey cells are states the agent had not met yet.

# %%
for update in judged[:3]:
    print(
        f"after {update.env_steps} env steps: {update.scalars['memory/states_known']:.0f} "
        f"states known, judge accuracy {update.scalars['memory/judge_accuracy']:.2f}"
    )
    show_pixels(update.grid)

# %% [markdown]
# ## 4. The states met last
# The model's keys keep the order they were added (`model.growth_log` says when). The
# states added last had the fewest training steps; the judge scores them on their own.

# %%
log = model.growth_log
late = model.keys[-6:]
if log is not None:
    print(
        f"built with {log.initial_keys} states, {log.added} added; the last at training steps",
        log.added_at_step[-6:],
    )
judge = train_judge(memory, seed=0, steps=60 if SMALL else None)
report = judge_samples(judge, recall_all(model, late, 5, seed=0), memory)
print("judge accuracy of the states met last:", round(report.accuracy, 3))
real = np.stack([memory.queue(key)[-1] for key in late])
recalled = np.stack([model.recall(key, 1, seed=0)[0] for key in late])
show(
    side_by_side(
        real,
        recalled,
        [str(k) for k in late],
        title="states met last: real (top), recalled (bottom)",
    )
)
