"""Environment adapters: what man_rl needs to know of an env family, behind one small protocol.

An :class:`EnvAdapter` names the state an env is in (``key``), and, where it can, says how
many states there are, which of them an agent can reach, and where each sits in a picture
(``layout``). The core asks adapters and never looks inside an env itself; the adapters live
in ``man_rl.envs`` (MiniGrid, ``Discrete`` observations, Atari, pixel cells) or in any package
that declares one under the ``man_rl.adapters`` entry-point group::

    [project.entry-points."man_rl.adapters"]
    my_env = "my_pkg.adapters:MyAdapter"

or registers one at run time with :func:`register_adapter`. :func:`adapter_for` picks the
first adapter (registered ones first, then by ``priority``) whose ``matches(env)`` is true.

Example:
    >>> import gymnasium as gym
    >>> class Parity:
    ...     name, priority = "parity", 0
    ...     def matches(self, env): return env.spec is not None and env.spec.id == "FrozenLake-v1"
    ...     def key(self, env, obs, info): return int(obs) % 2
    ...     def state_count(self, env): return 2
    ...     def layout(self, env): return None
    ...     def reachable_states(self, env): return [0, 1]
    >>> register_adapter(Parity())
    >>> env = gym.make("FrozenLake-v1")
    >>> adapter_for(env).name, default_key_fn(env)(env, 5, {})
    ('parity', 1)
    >>> unregister_adapter("parity")
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Protocol, runtime_checkable

from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.keys import KeyFn
from man_rl.layout import Layout
from man_rl.registry import Registry

ENTRY_POINT_GROUP = "man_rl.adapters"


@runtime_checkable
class EnvAdapter(Protocol):
    """What man_rl asks of an environment family.

    Attributes:
        name: a short name (``"minigrid"``), unique among adapters.
        priority: lower is asked first (a specific family before a generic fallback).
    """

    name: str
    priority: int

    def matches(self, env: Any) -> bool:
        """Whether this adapter understands ``env`` (possibly wrapped)."""
        ...

    def key(self, env: Any, obs: Any, info: dict[str, Any]) -> Hashable:
        """The state key of the state ``env`` is in (a :data:`~man_rl.keys.KeyFn`)."""
        ...

    def state_count(self, env: Any) -> int | None:
        """How many keys :meth:`key` can produce, or ``None`` where unknown."""
        ...

    def layout(self, env: Any) -> Layout | None:
        """Where each key sits in a picture grid, or ``None`` for a plain grid."""
        ...

    def reachable_states(self, env: Any) -> list[Hashable] | None:
        """Every key an agent can reach, or ``None`` where unknown."""
        ...


#: Every env adapter: registered in code (newest first), then those of installed packages
#: (entry-point group ``man_rl.adapters``, by priority).
ADAPTERS: Registry[EnvAdapter] = Registry(
    "env adapter",
    group=ENTRY_POINT_GROUP,
    how="man_rl.env.register_adapter(adapter)",
    load=lambda cls: cls(),
    name_of=lambda adapter: adapter.name,
    order=lambda name, adapter: (adapter.priority, name),
)


def register_adapter(adapter: EnvAdapter) -> None:
    """Ask ``adapter`` before every other (replacing one of the same name)."""
    if not isinstance(adapter, EnvAdapter):
        raise InvalidValueError(
            f"{adapter!r} is not an EnvAdapter: it needs name, priority, matches, key, "
            "state_count, layout and reachable_states"
        )
    ADAPTERS.register(adapter.name, adapter)


def unregister_adapter(name: str) -> None:
    """Forget the adapter registered under ``name`` (no-op when there is none)."""
    ADAPTERS.unregister(name)


def adapters() -> list[EnvAdapter]:
    """Every adapter, in the order they are asked: registered, then by priority."""
    return list(ADAPTERS)


def adapter_for(env: Any) -> EnvAdapter:
    """The first adapter that matches ``env``; :class:`EnvCompatibilityError` if none does."""
    for adapter in adapters():
        if adapter.matches(env):
            return adapter
    name = env.spec.id if getattr(env, "spec", None) is not None else type(env.unwrapped).__name__
    raise EnvCompatibilityError(
        f"man_rl has no env adapter for {name}, so no default state key, layout or state "
        f"space (observation space {env.observation_space}); pass key_fn=lambda env, obs, "
        "info: <hashable key> to MemoryWrapper, or register an EnvAdapter for it "
        "(man_rl.env.register_adapter)"
    )


def default_key_fn(env: Any) -> KeyFn:
    """The key function of ``env``'s adapter (what the wrapper uses when given none)."""
    return adapter_for(env).key


def find_adapter(env: Any) -> EnvAdapter | None:
    """:func:`adapter_for`, or ``None`` when no adapter matches."""
    try:
        return adapter_for(env)
    except EnvCompatibilityError:
        return None


__all__ = [
    "ENTRY_POINT_GROUP",
    "EnvAdapter",
    "adapter_for",
    "adapters",
    "default_key_fn",
    "find_adapter",
    "register_adapter",
    "unregister_adapter",
]
