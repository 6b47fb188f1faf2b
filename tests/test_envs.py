"""Tests of man_rl.envs: registration, check_env, layouts, state spaces and reachable states."""

from __future__ import annotations

import warnings

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from man_rl.envs import (
    DIRECTION_LABELS,
    EMPTY_4X4_ID,
    ENV_IDS,
    discrete_layout,
    free_cells,
    layout_for,
    minigrid_key,
    minigrid_layout,
    reachable_states,
    register_envs,
    state_space,
)
from man_rl.errors import EnvCompatibilityError, InvalidValueError

register_envs()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_for_every_registered_id(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    assert not [str(w.message) for w in caught if "WARN" in str(w.message)]
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registered_envs_are_deterministic(env_id):
    def rollout():
        env = gym.make(env_id)
        obs, _ = env.reset(seed=3)
        images = [obs["image"]]
        for action in [2, 1, 2, 0, 2, 2]:
            obs, *_ = env.step(action)
            images.append(obs["image"])
        return np.stack(images)

    np.testing.assert_array_equal(rollout(), rollout())


def test_register_envs_is_idempotent_and_makes_the_16_state_grid():
    assert register_envs() == register_envs() == (EMPTY_4X4_ID,)
    spec = gym.spec(EMPTY_4X4_ID)
    assert spec.kwargs == {"size": 4}
    env = gym.make(EMPTY_4X4_ID)
    env.reset(seed=0)
    assert (env.unwrapped.width, env.unwrapped.height) == (4, 4)
    assert minigrid_key(env) == (1, 1, 0)
    assert len(state_space(env)) == 16


@pytest.mark.parametrize(
    ("env_id", "shape"),
    [(EMPTY_4X4_ID, (4, 4)), ("MiniGrid-Empty-5x5-v0", (4, 9)), ("MiniGrid-Empty-6x6-v0", (4, 16))],
)
def test_minigrid_layout_is_direction_by_position(env_id, shape):
    layout = minigrid_layout(env_id)
    assert layout.shape == shape
    assert layout.row_labels == DIRECTION_LABELS == ("right (0)", "down (1)", "left (2)", "up (3)")
    assert (layout.row_title, layout.col_title) == ("direction", "position")
    assert len(layout.cells) == shape[0] * shape[1]
    for (x, y, d), (row, col) in layout.cells.items():
        assert row == d
        assert layout.col_labels[col] == f"({x}, {y})"


def test_minigrid_layout_of_an_env_object_reset_or_not():
    fresh = gym.make("MiniGrid-Empty-5x5-v0")
    from_env = minigrid_layout(fresh)
    fresh.reset(seed=0)
    assert minigrid_layout(fresh) == from_env == minigrid_layout("MiniGrid-Empty-5x5-v0")
    assert free_cells(fresh)[0] == (1, 1) and len(free_cells(fresh)) == 9


def test_minigrid_layout_skips_walls_inside_the_grid():
    cells = free_cells("MiniGrid-FourRooms-v0")
    env = gym.make("MiniGrid-FourRooms-v0")
    env.reset(seed=0)
    assert all(
        env.unwrapped.grid.get(x, y) is None or env.unwrapped.grid.get(x, y).can_overlap()
        for x, y in cells
    )
    assert len(cells) < (19 - 2) ** 2


def test_minigrid_layout_keeps_the_cells_moving_objects_stood_on():
    # Dynamic-Obstacles' balls move every step: a layout read from one reset used to miss the
    # cells they started on, so states the agent later stood in had no place in the grid.
    env_id = "MiniGrid-Dynamic-Obstacles-5x5-v0"
    layout, reachable = layout_for(env_id), set(reachable_states(env_id))
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    ball_cells = {tuple(int(v) for v in ball.cur_pos) for ball in env.unwrapped.obstacles}
    visited = set()
    for episode in range(100):
        env.reset(seed=episode)
        for _ in range(30):
            visited.add(minigrid_key(env))
            _, _, terminated, truncated, _ = env.step(int(rng.integers(3)))
            if terminated or truncated:
                break
    env.close()
    assert ball_cells <= set(free_cells(env_id)) and len(free_cells(env_id)) == 9
    assert len(visited) > 20
    assert visited <= set(layout.keys) and visited <= reachable


def test_minigrid_layout_keeps_doors_and_keys():
    cells = set(free_cells("MiniGrid-DoorKey-5x5-v0"))
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    env.reset(seed=0)
    grid = env.unwrapped.grid
    kinds = {grid.get(x, y).type for x, y in cells if grid.get(x, y) is not None}
    assert {"door", "key"} <= kinds and "wall" not in kinds


def test_discrete_layout():
    layout = discrete_layout(5)
    assert layout.shape == (1, 5)
    assert layout.cells[3] == (0, 3)
    wrapped = discrete_layout(10, columns=4)
    assert wrapped.shape == (3, 4)
    assert wrapped.cells[9] == (2, 1)
    assert wrapped.keys == list(range(10))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidValueError, match="n must be"):
            discrete_layout(bad)
    with pytest.raises(InvalidValueError, match="columns must be"):
        discrete_layout(4, columns=0)


def test_layout_for_and_state_space():
    assert layout_for("FrozenLake-v1").shape == (1, 16)
    assert state_space("FrozenLake-v1") == list(range(16))
    keys = state_space("MiniGrid-Empty-5x5-v0")
    assert len(keys) == 36 and len(set(keys)) == 36
    assert set(keys) == {(x, y, d) for x in (1, 2, 3) for y in (1, 2, 3) for d in range(4)}
    with pytest.raises(EnvCompatibilityError, match="no env adapter"):
        layout_for("CartPole-v1")
    with pytest.raises(InvalidValueError, match="unknown environment id"):
        layout_for("NoSuchEnv-v0")


@pytest.mark.parametrize(
    ("env_id", "count"),
    [
        ("MiniGrid-Empty-5x5-v0", 34),
        (EMPTY_4X4_ID, 14),
        ("MiniGrid-Empty-6x6-v0", 62),
        ("MiniGrid-LavaGapS5-v0", None),
    ],
)
def test_reachable_states_match_a_search_of_the_real_dynamics(env_id, count):
    states = reachable_states(env_id)
    assert states == sorted(set(states))
    assert set(states) == simulated_reachable_with_objects(env_id)
    if count is not None:
        assert len(states) == count


def simulated_reachable_with_objects(env_id: str) -> set[tuple[int, int, int]]:
    """Exhaustive search over the env's own ``step`` with every action but "done".

    A search node is the whole env (agent, grid contents, what it carries), so picking up,
    dropping and toggling are followed; keys of steps that end the episode count, their
    successors do not.
    """
    import copy

    env = gym.make(env_id)
    env.reset(seed=0)
    start = copy.deepcopy(env.unwrapped)

    def node(e):
        carried = None if e.carrying is None else (e.carrying.type, e.carrying.color)
        return (tuple(map(int, e.agent_pos)), int(e.agent_dir), e.grid.encode().tobytes(), carried)

    seen, frontier, keys = {node(start)}, [start], set()
    while frontier:
        e = frontier.pop()
        keys.add((*map(int, e.agent_pos), int(e.agent_dir)))
        for action in range(6):
            f = copy.deepcopy(e)
            f.step_count = 0
            terminated = f.step(action)[2]
            if terminated:
                keys.add((*map(int, f.agent_pos), int(f.agent_dir)))
            elif node(f) not in seen:
                seen.add(node(f))
                frontier.append(f)
    env.close()
    return keys


@pytest.mark.parametrize(
    "env_id",
    [
        "MiniGrid-DoorKey-5x5-v0",  # a key to pick up, a locked door to open
        "MiniGrid-KeyCorridorS3R1-v0",  # picking up the ball it asks for ends the episode
        "MiniGrid-Fetch-5x5-N2-v0",  # any pick-up ends the episode
        "MiniGrid-GoToDoor-5x5-v0",  # doors in the outer wall
        "MiniGrid-Unlock-v0",  # opening the door it asks for ends the episode
    ],
)
def test_reachable_states_with_objects_match_the_envs_own_dynamics(env_id):
    assert set(reachable_states(env_id)) == simulated_reachable_with_objects(env_id)


def test_reachable_states_on_the_goal_only_in_entry_directions():
    states = set(reachable_states("MiniGrid-Empty-5x5-v0"))
    assert {d for x, y, d in states if (x, y) == (3, 3)} == {0, 1}
    assert all(
        len({d for x, y, d in states if (x, y) == cell}) == 4
        for cell in free_cells("MiniGrid-Empty-5x5-v0")
        if cell != (3, 3)
    )


def test_reachable_states_of_other_envs():
    assert reachable_states("FrozenLake-v1") == list(range(16))
    with pytest.raises(EnvCompatibilityError, match="no env adapter"):
        reachable_states(gym.make("CartPole-v1"))


def test_reachable_states_leaves_the_env_alone():
    env = gym.make("MiniGrid-Empty-5x5-v0")
    env.reset(seed=0)
    env.step(2)
    before = minigrid_key(env)
    reachable_states(env)
    minigrid_layout(env)
    assert minigrid_key(env) == before


def test_reachable_states_stop_at_cells_that_end_the_episode():
    # LavaGapS5 (seed 0): the only way to the cells right of the lava leads through the goal.
    states = set(reachable_states("MiniGrid-LavaGapS5-v0"))
    assert (3, 1, 0) not in states and (3, 3, 0) in states
    assert {d for x, y, d in states if (x, y) == (2, 1)} == {0}  # lava, entered facing right


def test_reachable_states_from_an_agent_standing_on_the_goal():
    env = gym.make(EMPTY_4X4_ID)
    env.reset(seed=0)
    for action in (2, 1, 2):
        *_, terminated, _, _ = env.step(action)
    assert terminated and minigrid_key(env) == (2, 2, 1)
    assert len(reachable_states(env)) == 14
