# %% [markdown]
# # When one state has many screens: recall samples, not one average
#
# MiniGrid-Empty draws the same screen for a state every time, so recall there is
# memorisation. Here each state has a real distribution of screens: in
# `MiniGrid-Dynamic-Obstacles-5x5-v0` the blue balls move every step, so the screens of one
# agent state `(x, y, direction)` differ. A good long-term memory recalls *different plausible*
# screens of the state, not one averaged blur.

# %%
import io
import os

from IPython.display import Image, display

from man_rl import TypeA
from man_rl.envs import random_walk_memory
from man_rl.evaluation import evaluate, spread
from man_rl.plotting import side_by_side

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
ENV_ID = "MiniGrid-Dynamic-Obstacles-5x5-v0"


def show(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


stm = random_walk_memory(ENV_ID, steps=1000 if SMALL else 6000, capacity=100, seed=0)
key = max(stm.keys, key=lambda k: stm.counts()[k])
print(stm, "\nmost visited state:", key, "with", stm.counts()[key], "screens")

# %%
model = TypeA.for_memory(stm, seed=0)
model.fit(stm, 100 if SMALL else 1500, seed=0, progress=False)
real = stm.queue(key)[-6:]
recalled = model.recall(key, 6, seed=0)
show(
    side_by_side(
        real,
        recalled,
        [f"#{i}" for i in range(6)],
        title=f"state {key}: real screens (top) and recalled samples (bottom)",
    )
)

# %%
metrics = evaluate(model, stm, seed=0)
print("spread of real screens of one state    :", round(spread(real), 2))
print("spread of recalled samples of that state:", round(spread(recalled), 2))
print("diversity over all states (recalled / real):", metrics["diversity"])
print("recall accuracy:", round(metrics["recall_accuracy"], 3))
