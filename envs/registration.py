"""Environments of our own, registered explicitly by :func:`register_envs`.

``ManRL/Empty-4x4-v0``: the paper's 16-state grid
---------------------------------------------------

MiniGrid's ``EmptyEnv`` with ``size=4``: walls around a 2 x 2 room, so 4 positions x 4
directions = 16 states, the grid of the paper's Figures 7-8.

- **Start**: the agent at ``(1, 1)`` facing right (direction 0), every episode.
- **Goal**: the green square at ``(2, 2)``; stepping onto it ends the episode. Only the
  directions it can be entered with (right from ``(1, 2)``, down from ``(2, 1)``) are ever
  seen there, so 14 of the 16 states are reachable.
- **Reward**: ``1 - 0.9 * (step_count / max_steps)`` on reaching the goal, else 0.
- **Truncation**: after ``max_steps = 4 * size**2 = 64`` steps.
- **Observation**: MiniGrid's dict (``image`` 7 x 7 x 3 partial view, ``direction``,
  ``mission``); ``render_mode="rgb_array"`` gives the screen.

=====  ==========  =====================================
 Num    Name        Action
=====  ==========  =====================================
 0      left        turn left
 1      right       turn right
 2      forward     move forward
 3      pickup      unused
 4      drop        unused
 5      toggle      unused
 6      done        unused
=====  ==========  =====================================

Directions: 0 right, 1 down, 2 left, 3 up (MiniGrid's ``DIR_TO_VEC``).

Registered ids: ``ManRL/Empty-4x4-v0``.

Example:
    >>> import gymnasium as gym
    >>> register_envs()
    ('ManRL/Empty-4x4-v0',)
    >>> env = gym.make(EMPTY_4X4_ID, render_mode="rgb_array")
    >>> obs, info = env.reset(seed=0)
    >>> env.unwrapped.agent_pos, env.unwrapped.agent_dir, env.unwrapped.grid.width
    ((1, 1), 0, 4)
"""

from __future__ import annotations

EMPTY_4X4_ID = "ManRL/Empty-4x4-v0"

_SPECS: dict[str, dict] = {
    EMPTY_4X4_ID: {"entry_point": "minigrid.envs:EmptyEnv", "kwargs": {"size": 4}},
}

#: Every env id :func:`register_envs` registers.
ENV_IDS: tuple[str, ...] = tuple(_SPECS)


def register_envs() -> tuple[str, ...]:
    """Register man_rl's envs (and MiniGrid's) with gymnasium; safe to call any number of times.

    Returns:
        The ids man_rl registers, :data:`ENV_IDS`.
    """
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers MiniGrid's own ids)

    for env_id, spec in _SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=spec["entry_point"], kwargs=dict(spec["kwargs"]))
    return ENV_IDS


__all__ = ["EMPTY_4X4_ID", "ENV_IDS", "register_envs"]
