# %% [markdown]
# # man_rl quickstart: wrap an env, collect, train, recall
#
# `MemoryWrapper` stores the screen of every state the agent visits in a **short-term memory**
# (one bounded queue per state). A **long-term memory** (here Type B) learns to recall each
# state's screen. The grid below is the paper's Figures 7-8: position along the columns,
# direction down the rows, each cell the real screen beside the recalled one.

# %%
import io
import os

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid envs)
import numpy as np
from IPython.display import Image, display

from man_rl import MemoryWrapper, TypeB
from man_rl.envs import layout_for, reachable_states
from man_rl.evaluation import evaluate
from man_rl.evaluation.metrics import summary
from man_rl.plotting import recall_grid_figure

SMALL = os.environ.get("MAN_RL_SMALL") == "1"  # tiny settings when the test suite runs this


def show(fig, dpi=100):
    """Display a matplotlib Figure as a PNG (small dpi keeps the notebook light)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


# %% [markdown]
# ## 1. Wrap the env and act in it
# Any policy works; here a random one. Each step's state key is in `info["state_key"]`.

# %%
env = MemoryWrapper(
    gym.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array", tile_size=8), capacity=100
)
obs, info = env.reset(seed=0)
env.action_space.seed(0)
rng = np.random.default_rng(0)
for _ in range(600 if SMALL else 3000):
    obs, reward, terminated, truncated, info = env.step(int(rng.integers(3)))
    if terminated or truncated:
        obs, info = env.reset()
stm = env.memory
print(stm)
print("frames per state:", sorted(stm.counts().values()))

# %% [markdown]
# ## 2. Train the long-term memory on class-balanced batches

# %%
ltm = TypeB.for_memory(stm, seed=0)
history = ltm.fit(stm, steps=100 if SMALL else 800, seed=0, progress=False)
print(f"final loss {history['loss'][-1]:.4f}")

# %% [markdown]
# ## 3. Recall every state, and recognise screens

# %%
show(
    recall_grid_figure(
        ltm,
        memory=stm,
        layout=layout_for("MiniGrid-Empty-5x5-v0"),
        reachable=set(reachable_states("MiniGrid-Empty-5x5-v0")),
        title="MiniGrid-Empty-5x5: real | recalled (Type B)",
    )
)

# %%
frames = ltm.recall((1, 1, 0), n=4, seed=0)
print("recalled", frames.shape, frames.dtype, "-> recognised as", ltm.recognize(frames))
# judged strictly: a CNN trained on 80% of the real frames (never on the model) reads the
# recalled samples; fidelity compares them with the real screens, the mean frame beside it
metrics = evaluate(ltm, stm, seed=0)
print(summary(metrics))
print(f"recognition of real frames {metrics['recognition']['accuracy']:.3f}")
