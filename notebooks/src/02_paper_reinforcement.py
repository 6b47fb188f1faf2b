# %% [markdown]
# # The paper's section 4.2: state screens recalled on a 16-state grid
#
# The paper collects screens with a **pretrained Q-learning agent**, trains the memory network
# and draws each state's recalled screen (Figures 7-8: position horizontally, direction
# vertically). It observes that the states of the shortest path are learned well and the others
# not, since the agent never visits them. Our 16-state grid is MiniGrid's Empty env with
# `size=4`, registered as `ManRL/Empty-4x4-v0`: 2 x 2 positions x 4 directions.

# %%
import io
import os
from functools import partial

from IPython.display import Image, display

from man_rl import TypeA
from man_rl.agents import make_policy
from man_rl.cli.common import make_env
from man_rl.collection import collect, summarize
from man_rl.envs import layout_for, reachable_states, state_space
from man_rl.evaluation import evaluate
from man_rl.plotting import recall_grid_figure

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
ENV_ID = "ManRL/Empty-4x4-v0"
TRAIN_STEPS = 100 if SMALL else 800


def show(fig, dpi=80):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    display(Image(buffer.getvalue()))


def gather(epsilon, steps, seed=0):
    pretrained = partial(make_policy, "pretrained")
    env = make_env(ENV_ID, tile_size=8)
    result = collect(
        env, None, steps, make_policy=pretrained, capacity=100, seed=seed, epsilon=epsilon
    )
    return result.memory


LAYOUT, REACHABLE = layout_for(ENV_ID), set(reachable_states(ENV_ID))


print(
    f"{len(state_space(ENV_ID))} states, {len(reachable_states(ENV_ID))} reachable "
    "(the goal ends the episode on entry: only two of its directions can be seen)"
)

# %% [markdown]
# ## The pretrained agent alone (epsilon 0): only the shortest path is seen

# %%
greedy = gather(epsilon=0.0, steps=300 if SMALL else 2000)
print(summarize(greedy, reachable_states(ENV_ID)).lines())
model = TypeA.for_memory(greedy, seed=0)
model.fit(greedy, TRAIN_STEPS, seed=0, progress=False)
show(
    recall_grid_figure(
        model,
        memory=greedy,
        layout=LAYOUT,
        reachable=REACHABLE,
        title="pretrained agent, epsilon 0: real | recalled (Type A)",
    )
)

# %% [markdown]
# The grid marks the states the memory never saw instead of inventing screens for them: this
# is the paper's observation ("screens in other states did not obtain data and did not learn
# well"), made explicit.
#
# ## Epsilon-greedy collection: every reachable state is seen and recalled

# %%
explored = gather(epsilon=0.5, steps=1000 if SMALL else 4000)
print(summarize(explored, reachable_states(ENV_ID)).lines())
model = TypeA.for_memory(explored, seed=0)
model.fit(explored, TRAIN_STEPS, seed=0, progress=False)
show(
    recall_grid_figure(
        model,
        memory=explored,
        layout=LAYOUT,
        reachable=REACHABLE,
        title="epsilon-greedy (0.5): real | recalled (Type A)",
    )
)
metrics = evaluate(model, explored, seed=0)
print(
    f"recall accuracy over {metrics['states_evaluated']} states: {metrics['recall_accuracy']:.3f}"
)
