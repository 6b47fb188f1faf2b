# %% [markdown]
# # The paper's section 4.2: state screens recalled on a 16-state grid
#
# The paper collects screens with a **pretrained Q-learning agent**, trains the memory network
# and draws each state's recalled screen (Figures 7-8: position horizontally, direction
# vertically). It observes that "the state information of the shortest path was well learned.
# On the other hand, screens in other states did not obtain data and did not learn well":
# its network is built over **every** state, and the states the greedy agent never visits are
# drawn all the same, poorly. Our 16-state grid is MiniGrid's Empty env with `size=4`,
# registered as `ManRL/Empty-4x4-v0`: 2 x 2 positions x 4 directions.
#
# Below, side by side:
#
# - **the paper's run** (`man_rl.evaluation.coverage_study`): `TypeA.paper` (eq. 9 and nothing
#   else) over every reachable state, trained on what the greedy agent (epsilon 0) collected;
#   every state recalled, the unvisited ones as the model draws them;
# - **man_rl's answer**: epsilon-greedy collection so that every reachable state has screens,
#   the recommended Type A built from the states seen, and a "never seen" mark instead of a
#   guess for any state without data.
#
# One judge, a CNN trained on the epsilon-greedy memory's real screens (which show every
# reachable state), scores both; its accuracy is given over the visited and the unvisited
# states separately.

# %%
import io
import os
from functools import partial

from IPython.display import Image, display
from PIL import Image as PILImage

from man_rl import TypeA
from man_rl.agents import make_policy
from man_rl.cli.common import make_env
from man_rl.envs import layout_for, reachable_states, state_space
from man_rl.evaluation import coverage_study
from man_rl.plotting import recall_grid, recall_grid_figure

SMALL = os.environ.get("MAN_RL_SMALL") == "1"
ENV_ID = "ManRL/Empty-4x4-v0"
TRAIN_STEPS = 100 if SMALL else 800
DPI = 100


def png(fig, dpi=DPI):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def show(fig, dpi=DPI):
    display(Image(png(fig, dpi)))


def show_side_by_side(figs, dpi=DPI, gap=24):
    """Two figures in one picture, left and right, each at its own 100% size."""
    parts = [PILImage.open(io.BytesIO(png(fig, dpi))).convert("RGB") for fig in figs]
    width = sum(p.width for p in parts) + gap * (len(parts) - 1)
    canvas = PILImage.new("RGB", (width, max(p.height for p in parts)), "white")
    x = 0
    for part in parts:
        canvas.paste(part, (x, 0))
        x += part.width + gap
    buffer = io.BytesIO()
    canvas.save(buffer, format="png")
    display(Image(buffer.getvalue()))


LAYOUT, REACHABLE = layout_for(ENV_ID), reachable_states(ENV_ID)
UNREACHABLE = {key: "unreachable" for key in LAYOUT.keys if key not in set(REACHABLE)}
print(
    f"{len(state_space(ENV_ID))} states, {len(REACHABLE)} reachable "
    "(the goal ends the episode on entry: only two of its directions can be seen)"
)

# %%
study = coverage_study(
    partial(make_env, ENV_ID, tile_size=8),
    partial(make_policy, "pretrained"),
    TypeA,
    greedy_steps=300 if SMALL else 2000,
    explored_steps=1000 if SMALL else 4000,
    epsilon=0.5,
    capacity=100,
    steps=TRAIN_STEPS,
)
print(f"each model: {study.steps} training steps; judge: {study.judge}")
print(f"greedy agent's states: {study.greedy.keys}")
for row in study.rows():
    shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
    print(shown)

# %% [markdown]
# ## The paper's Figure 7-8 run (left) and man_rl's answer (right)
#
# Left: the greedy agent's memory beside the recall of every state; a cell without a real
# screen is a state the agent never visited, and the recalled screen beside it is what the
# paper's network draws there. Right: the epsilon-greedy memory beside man_rl's recall; a
# state without data would be hatched "never seen".

# %%
paper, man_rl = study.paper, study.man_rl


def accuracy(value):
    return "n/a" if value is None else f"{value:.2f}"


paper_fig = recall_grid(
    {key: frames[:1] for key, frames in paper.recalled.items()},
    LAYOUT,
    real={key: study.greedy.queue(key)[-1] for key in study.greedy.keys},
    unseen=UNREACHABLE,
    title=(
        f"paper: greedy agent, model over all {len(study.states)} states\n"
        f"judge accuracy: visited {accuracy(paper.accuracy_visited)} "
        f"({len(paper.visited)} states), unvisited {accuracy(paper.accuracy_unvisited)} "
        f"({len(paper.unvisited)} states)"
    ),
)
man_rl_fig = recall_grid_figure(
    study.man_rl_model,
    memory=study.explored,
    layout=LAYOUT,
    reachable=set(REACHABLE),
    title=(
        f"man_rl: epsilon 0.5, model of the {len(man_rl.recalled)} states seen\n"
        f"judge accuracy {accuracy(man_rl.accuracy_visited)}; "
        f"{len(man_rl.not_recalled)} marked never seen"
    ),
)
show_side_by_side([paper_fig, man_rl_fig])

# %% [markdown]
# ## What the paper's network draws for the states it never saw
#
# Three samples per state from the paper's run. The judge's share of each state's samples
# that show that state, unvisited states first:

# %%
for key in paper.unvisited + paper.visited:
    tag = "unvisited" if key in paper.unvisited else "visited  "
    print(f"{tag} {key}: judge gives {paper.judged[key]:.2f} of its samples to it")
show(
    recall_grid(
        paper.recalled,
        LAYOUT,
        unseen=UNREACHABLE,
        samples=3,
        title="paper's run: 3 recalled samples per state (unvisited states included)",
    )
)
