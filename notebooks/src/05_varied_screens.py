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

from man_rl import TypeA, TypeB
from man_rl.envs import random_walk_memory
from man_rl.evaluation import evaluate, train_judge
from man_rl.evaluation.metrics import summary
from man_rl.keys import encode_key
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

# %% [markdown]
# Both types, trained alike, are judged strictly: a CNN trained on 80% of the real screens
# (never on a model) says which state each recalled sample shows; **fidelity** is each
# sample's distance to the nearest real screen of its state over the same for held-out real
# screens (1 = as close as real screens are to each other; the per-state mean frame's figure,
# the blur baseline, is beside it); **diversity** is the mean pairwise distance among a
# state's samples over that among its real screens (1 = as varied as the real ones; near 0 is
# one picture per state).

# %% [markdown]
# A VAE recalls by decoding draws of its prior. Here a state's screens are a few discrete
# configurations of the balls, and the prior's mass *between* two configurations' codes
# decodes to a blend of them: a third ball, or two half-bright ones, a screen the env never
# draws. `code_bank=64` (both types' default) keeps the posterior means of each state's last
# 64 training screens (its aggregate posterior) and recall decodes one of them instead. The bank changes recall
# only: its writes take no gradient and draw no random numbers, so the model below is
# trained exactly as one without it, and `prior` is that model with the same weights,
# drawing from the prior as the paper does.

# %%
judge = train_judge(stm, seed=0)
print(judge)
steps = 100 if SMALL else 2500
for cls in (TypeA, TypeB):
    model = cls.for_memory(stm, seed=0, code_bank=64)
    model.fit(stm, steps, seed=0, progress=False)
    prior = cls.for_memory(stm, seed=0, code_bank=0)
    prior.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("bank.")}
    )
    real = stm.queue(key)[-6:]
    for name, recaller in (("the prior", prior), ("the code bank", model)):
        show(
            side_by_side(
                real,
                recaller.recall(key, 6, seed=0),
                [f"#{i}" for i in range(6)],
                title=f"Type {cls.kind}, {steps} steps, state {key}: real screens (top), "
                f"recalled from {name} (bottom)",
            )
        )
        metrics = evaluate(recaller, stm, judge=judge, seed=0)
        state = next(s for s in metrics["per_state"] if s["key"] == encode_key(key))
        print(f"Type {cls.kind}, recalled from {name}:", summary(metrics))
        print(
            f"  state {key}: diversity {state['diversity']:.2f}, fidelity {state['fidelity']:.2f}"
        )
