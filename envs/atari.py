"""Atari (ALE) envs: state keys from documented RAM addresses, binned.

The Atari 2600 keeps a game's whole state in 128 bytes of RAM. The AtariARI benchmark
(Anand et al. 2019, "Unsupervised State Representation Learning in Atari"; the annotations
are ``atariari/benchmark/ram_annotations.py`` in ``mila-iqia/atari-representation-learning``)
says which byte holds what. A :class:`RamKey` reads one or two of those bytes and bins them:

=============  ==========================================  ==============  ======
 game           key (RAM address: AtariARI name)             key values      states
=============  ==========================================  ==============  ======
 Breakout       paddle x (72: ``player_x``) // 24             2 .. 7          6
 Pong           paddle y (51: ``player_y``) // 24             1 .. 8          8
 SpaceInvaders  cannon x (28: ``player_x``) // 16             2 .. 7          6
 MsPacman       (x (10: ``player_x``) // 20,                  0 .. 8,         63
                y (16: ``player_y``) // 20)                   1 .. 7
 Seaquest       (x (70: ``player_x``) // 16,                  1 .. 8,         56
                y (97: ``player_y``) // 16)                   0 .. 6
=============  ==========================================  ==============  ======

A byte is clipped to the range seen in play (e.g. Breakout's paddle: 55 .. 191) before it is
binned, so every key is one of the adapter's :meth:`~AtariAdapter.state_count` keys. One-byte
keys are ints (one row of positions in the layout); two-byte keys are ``(x, y)`` tuples (a
2-D grid, rows y, columns x). ALE games without an entry here fall through to the pixel-cell
fallback (:mod:`man_rl.envs.cells`).

:func:`register_atari` registers ale-py's ids (``ALE/Breakout-v5``, ...); ale-py ships the
ROMs and comes with ``pip install 'man_rl[atari]'``.

Example:
    >>> import gymnasium as gym
    >>> _ = register_atari()
    >>> env = gym.make("ALE/Breakout-v5")
    >>> _ = env.reset(seed=0)
    >>> adapter = AtariAdapter()
    >>> adapter.matches(env), adapter.key(env, None, {}), adapter.state_count(env)
    (True, 6, 6)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from man_rl.errors import EnvCompatibilityError, InvalidValueError
from man_rl.layout import Layout

INSTALL_HINT = "pip install 'man_rl[atari]'"


@dataclass(frozen=True)
class RamAxis:
    """One RAM byte, binned: ``min(max(ram[address], low), high) // width``.

    Args:
        name: what the byte is (``"paddle x"``), for layout titles.
        address: the RAM address, 0 .. 127.
        width: RAM values per bin.
        low: the smallest value the byte takes in play (smaller ones are clipped to it).
        high: the largest value it takes in play (larger ones are clipped to it).

    Example:
        >>> axis = RamAxis("paddle x", 72, width=24, low=55, high=191)
        >>> axis.first, axis.last, axis.count, axis.value([0] * 72 + [100])
        (2, 7, 6, 4)
    """

    name: str
    address: int
    width: int
    low: int = 0
    high: int = 255

    def __post_init__(self) -> None:
        if not 0 <= self.address < 128:
            raise InvalidValueError(f"RAM address must be in 0 .. 127, got {self.address}")
        if self.width < 1:
            raise InvalidValueError(f"bin width must be >= 1, got {self.width}")
        if not 0 <= self.low <= self.high <= 255:
            raise InvalidValueError(
                f"need 0 <= low <= high <= 255 (RAM bytes), got low={self.low}, high={self.high}"
            )

    @property
    def first(self) -> int:
        """The smallest key value."""
        return self.low // self.width

    @property
    def last(self) -> int:
        """The largest key value."""
        return self.high // self.width

    @property
    def count(self) -> int:
        """How many key values there are."""
        return self.last - self.first + 1

    def value(self, ram: Any) -> int:
        """The binned value of this byte in ``ram``."""
        return min(max(int(ram[self.address]), self.low), self.high) // self.width

    def labels(self) -> tuple[str, ...]:
        """One label per key value, ``first .. last``."""
        return tuple(str(v) for v in range(self.first, self.last + 1))

    def title(self) -> str:
        """``"paddle x (RAM[72] // 24)"``."""
        return f"{self.name} (RAM[{self.address}] // {self.width})"

    def describe(self, value: int) -> str:
        """``"paddle x 4/7"``: the value and the largest one, for people reading a key."""
        return f"{self.name} {value}/{self.last}"


@dataclass(frozen=True)
class RamKey:
    """A state key from binned RAM bytes of an ALE env (a picklable key function).

    One axis: the key is an int; two axes ``(x, y)``: the key is a tuple ``(x, y)``.

    Args:
        axes: one or two :class:`RamAxis` (x first).

    Example:
        >>> key = RamKey((RamAxis("x", 10, 20, 14, 171), RamAxis("y", 16, 20, 26, 158)))
        >>> key.state_count, key.layout().shape, key.layout().name((3, 2))
        (63, (7, 9), 'x 3/8, y 2/7')
    """

    axes: tuple[RamAxis, ...]

    def __post_init__(self) -> None:
        if len(self.axes) not in (1, 2) or not all(isinstance(a, RamAxis) for a in self.axes):
            raise InvalidValueError(f"RamKey needs one or two RamAxis, got {self.axes!r}")

    def __call__(self, env: Any, obs: Any = None, info: dict[str, Any] | None = None) -> Hashable:
        """The key of the state ``env`` (an ALE env, possibly wrapped) is in."""
        ram = env.unwrapped.ale.getRAM()
        if len(self.axes) == 1:
            return self.axes[0].value(ram)
        return (self.axes[0].value(ram), self.axes[1].value(ram))

    @property
    def state_count(self) -> int:
        """How many keys there are (the product of the axes' counts)."""
        count = 1
        for axis in self.axes:
            count *= axis.count
        return count

    def keys(self) -> list[Hashable]:
        """Every key, in layout order (row by row)."""
        return list(self.layout().keys)

    def layout(self) -> Layout:
        """One row of positions (one axis), or rows y x columns x (two axes)."""
        x = self.axes[0]
        if len(self.axes) == 1:
            return Layout(
                cells={v: (0, v - x.first) for v in range(x.first, x.last + 1)},
                row_labels=("",),
                col_labels=x.labels(),
                row_title="",
                col_title=x.title(),
                names={v: x.describe(v) for v in range(x.first, x.last + 1)},
            )
        y = self.axes[1]
        return Layout(
            cells={
                (vx, vy): (vy - y.first, vx - x.first)
                for vy in range(y.first, y.last + 1)
                for vx in range(x.first, x.last + 1)
            },
            row_labels=y.labels(),
            col_labels=x.labels(),
            row_title=y.title(),
            col_title=x.title(),
            names={
                (vx, vy): f"{x.describe(vx)}, {y.describe(vy)}"
                for vy in range(y.first, y.last + 1)
                for vx in range(x.first, x.last + 1)
            },
        )


#: Key functions by game (ALE's ROM name without underscores), from the AtariARI annotations.
ATARI_KEYS: dict[str, RamKey] = {
    "breakout": RamKey((RamAxis("paddle x", 72, width=24, low=55, high=191),)),
    "pong": RamKey((RamAxis("paddle y", 51, width=24, low=38, high=203),)),
    "spaceinvaders": RamKey((RamAxis("cannon x", 28, width=16, low=35, high=117),)),
    "mspacman": RamKey(
        (
            RamAxis("x", 10, width=20, low=14, high=171),
            RamAxis("y", 16, width=20, low=26, high=158),
        )
    ),
    "seaquest": RamKey(
        (
            RamAxis("x", 70, width=16, low=21, high=134),
            RamAxis("y", 97, width=16, low=13, high=108),
        )
    ),
}

BREAKOUT_KEY = ATARI_KEYS["breakout"]
PONG_KEY = ATARI_KEYS["pong"]
SPACE_INVADERS_KEY = ATARI_KEYS["spaceinvaders"]
MS_PACMAN_KEY = ATARI_KEYS["mspacman"]
SEAQUEST_KEY = ATARI_KEYS["seaquest"]


def is_ale(env: Any) -> bool:
    """Whether ``env`` (possibly wrapped) is an ALE env: the unwrapped env has an ``ale``."""
    return hasattr(getattr(env, "unwrapped", env), "ale")


def atari_game(env: Any) -> str | None:
    """The game of an ALE env, lower case without underscores (``"spaceinvaders"``).

    Read from the ROM name ale-py gives the env, else from the env id
    (``ALE/SpaceInvaders-v5``, ``SpaceInvadersNoFrameskip-v4``); ``None`` for other envs.

    Example:
        >>> import gymnasium as gym
        >>> _ = register_atari()
        >>> atari_game(gym.make("ALE/MsPacman-v5"))
        'mspacman'
    """
    base = getattr(env, "unwrapped", env)
    if not hasattr(base, "ale"):
        return None
    rom = getattr(base, "_game", None)
    if isinstance(rom, str):
        return rom.replace("_", "").lower()
    spec = getattr(base, "spec", None)
    if spec is None:
        return None
    name = spec.id.rpartition("/")[2].partition("-")[0]
    for suffix in ("NoFrameskip", "Deterministic"):
        name = name.removesuffix(suffix)
    return name.lower()


def atari_key(env: Any) -> RamKey:
    """The :class:`RamKey` of an ALE env's game; :class:`EnvCompatibilityError` if none."""
    game = atari_game(env)
    if game not in ATARI_KEYS:
        raise EnvCompatibilityError(
            f"man_rl has no RAM key for the Atari game {game!r} (it has {sorted(ATARI_KEYS)}); "
            "use the pixel-cell key (man_rl.envs.CellKey) or a RamKey of your own"
        )
    return ATARI_KEYS[game]


class AtariAdapter:
    """ALE envs of the games in :data:`ATARI_KEYS`: binned RAM keys, their layout.

    Reachable states are not known (``None``): which bins an agent can reach is the game's
    business. Other ALE games are left to the pixel-cell fallback.

    Example:
        >>> import gymnasium as gym
        >>> _ = register_atari()
        >>> env = gym.make("ALE/MsPacman-v5")
        >>> adapter = AtariAdapter()
        >>> adapter.matches(env), adapter.state_count(env), adapter.layout(env).shape
        (True, 63, (7, 9))
    """

    name = "atari"
    priority = 20

    def matches(self, env: Any) -> bool:
        """An ALE env of a game with a RAM key."""
        return is_ale(env) and atari_game(env) in ATARI_KEYS

    def key(self, env: Any, obs: Any, info: dict[str, Any]) -> Hashable:
        """The game's :class:`RamKey` of the state ``env`` is in."""
        return atari_key(env)(env, obs, info)

    def state_count(self, env: Any) -> int:
        """The number of keys of the game's :class:`RamKey`."""
        return atari_key(env).state_count

    def layout(self, env: Any) -> Layout:
        """The game's :meth:`RamKey.layout`."""
        return atari_key(env).layout()

    def reachable_states(self, env: Any) -> None:
        """Not known."""
        return None


def register_atari() -> tuple[str, ...]:
    """Register ale-py's Atari ids with gymnasium; safe to call any number of times.

    Returns:
        The ``ALE/...`` ids registered.

    Raises:
        EnvCompatibilityError: ale-py is not installed (the message says how to install it).
    """
    try:
        import ale_py
    except ImportError:
        raise EnvCompatibilityError(
            f"Atari envs need ale-py, which is not installed: {INSTALL_HINT}"
        ) from None
    import gymnasium as gym

    gym.register_envs(ale_py)
    return tuple(sorted(env_id for env_id in gym.registry if env_id.startswith("ALE/")))


def is_atari_id(env_id: str) -> bool:
    """Whether ``env_id`` names an ale-py env once registered (``ALE/...`` or its entry point).

    Example:
        >>> is_atari_id("ALE/Pong-v5"), is_atari_id("MiniGrid-Empty-5x5-v0")
        (True, False)
    """
    if env_id.startswith("ALE/"):
        return True
    import gymnasium as gym

    spec = gym.registry.get(env_id)
    return spec is not None and str(spec.entry_point).startswith("ale_py")


def preprocessed_atari(env_id: str, **make_kwargs: Any) -> Any:
    """``AtariPreprocessing(gym.make(env_id, frameskip=1))``: 84 x 84 grey observations.

    gymnasium's standard Atari preprocessing (Machado et al. 2018): up to 30 no-ops at reset,
    4 frames skipped per step with max-pooling over the last two, 84 x 84 grey screens.

    Raises:
        EnvCompatibilityError: ale-py or opencv is not installed, or ``env_id`` is not an
            ALE env.

    Example:
        >>> env = preprocessed_atari("ALE/Breakout-v5")
        >>> env.observation_space.shape, str(env.observation_space.dtype)
        ((84, 84), 'uint8')
    """
    import gymnasium as gym

    register_atari()
    if not is_atari_id(env_id):
        raise EnvCompatibilityError(
            f"Atari preprocessing needs an ALE env (e.g. ALE/Breakout-v5), got {env_id!r}"
        )
    try:
        import cv2  # noqa: F401  (AtariPreprocessing resizes with it)
    except ImportError:
        raise EnvCompatibilityError(
            f"Atari preprocessing needs opencv, which is not installed: {INSTALL_HINT}"
        ) from None
    return gym.wrappers.AtariPreprocessing(gym.make(env_id, frameskip=1, **make_kwargs))


__all__ = [
    "ATARI_KEYS",
    "BREAKOUT_KEY",
    "INSTALL_HINT",
    "MS_PACMAN_KEY",
    "PONG_KEY",
    "SEAQUEST_KEY",
    "SPACE_INVADERS_KEY",
    "AtariAdapter",
    "RamAxis",
    "RamKey",
    "atari_game",
    "atari_key",
    "is_ale",
    "is_atari_id",
    "preprocessed_atari",
    "register_atari",
]
