"""Named parts a user can add: env adapters, model types, eviction policies, one mechanism.

A :class:`Registry` holds the parts of one kind under their names. A part is added in code
(``registry.register(name, part)``, the newest asked first) or by another package through
an entry point of the registry's group (loaded on first use, after those registered in code;
a part that fails to load is skipped with a warning). Asking for a name nobody registered
is a clear error naming the ones there are and how to add one.

=================  ==========================  ===========================================
registry           add one with                entry-point group
=================  ==========================  ===========================================
env adapters       ``register_adapter``        ``man_rl.adapters`` (an adapter class)
model types        ``register_model_type``     ``man_rl.model_types`` (a model class)
eviction policies  ``register_eviction``       ``man_rl.evictions`` (a policy class)
=================  ==========================  ===========================================

Example:
    >>> colours = Registry("colour", how="register")
    >>> colours.register("red", (255, 0, 0))
    >>> colours.get("red"), "blue" in colours
    ((255, 0, 0), False)
    >>> colours.get("blue")
    Traceback (most recent call last):
    ...
    man_rl.errors.InvalidValueError: no colour named 'blue'; known: ['red']; add one with register
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from man_rl.errors import InvalidValueError

T = TypeVar("T")


class Registry(Generic[T]):
    """Parts of one kind by name: registered in code first (newest first), then entry points.

    Args:
        what: what a part is, for messages (``"eviction policy"``).
        group: the entry-point group other packages add parts through (``None``: none).
        how: how a user adds one, for the error of an unknown name.
        load: turns what an entry point names into the part (default: the object itself).
        name_of: the name a loaded part goes by (default: its entry point's name).
        order: sorts the entry points' parts (default: by name).
    """

    def __init__(
        self,
        what: str,
        *,
        group: str | None = None,
        how: str = "",
        load: Callable[[Any], T] | None = None,
        name_of: Callable[[T], str] | None = None,
        order: Callable[[str, T], Any] | None = None,
    ) -> None:
        self.what, self.group, self.how = what, group, how
        self._load = load or (lambda obj: obj)
        self._name_of = name_of
        self._order = order or (lambda name, part: name)
        self._registered: dict[str, T] = {}
        self._found: dict[str, T] | None = None

    def register(self, name: str, part: T) -> None:
        """Add ``part`` as ``name``, asked before every other (replacing one of that name)."""
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"a {self.what}'s name must be a non-empty str, got {name!r}")
        self._registered.pop(name, None)
        self._registered[name] = part

    def unregister(self, name: str) -> None:
        """Forget the part registered in code as ``name`` (no-op when there is none)."""
        self._registered.pop(name, None)

    def items(self) -> list[tuple[str, T]]:
        """``(name, part)`` of every part, in the order they are asked."""
        mine = list(reversed(self._registered.items()))
        found = [(n, p) for n, p in self._entry_points().items() if n not in self._registered]
        return [*mine, *found]

    def names(self) -> list[str]:
        """Every name, in the order the parts are asked."""
        return [name for name, _ in self.items()]

    def get(self, name: str) -> T:
        """The part named ``name``; :class:`InvalidValueError` naming the known ones if none."""
        for known, part in self.items():
            if known == name:
                return part
        hint = f"; add one with {self.how}" if self.how else ""
        raise InvalidValueError(f"no {self.what} named {name!r}; known: {self.names()}{hint}")

    def __contains__(self, name: object) -> bool:
        return any(known == name for known, _ in self.items())

    def __iter__(self) -> Iterator[T]:
        return (part for _, part in self.items())

    def _entry_points(self) -> dict[str, T]:
        if self._found is None:
            found: dict[str, T] = {}
            for point in entry_points(group=self.group) if self.group else ():
                try:
                    part = self._load(point.load())
                    found[self._name_of(part) if self._name_of else point.name] = part
                except Exception as error:  # one broken plugin must not break the rest
                    warnings.warn(
                        f"the {self.what} {point.name!r} ({point.value}) could not be loaded "
                        f"and is skipped: {type(error).__name__}: {error}",
                        RuntimeWarning,
                        stacklevel=3,
                    )
            ordered = sorted(found.items(), key=lambda item: self._order(*item))
            self._found = dict(ordered)
        return self._found

    def forget_entry_points(self) -> None:
        """Read the entry points again on next use (after installing a plugin, in tests)."""
        self._found = None


__all__ = ["Registry"]
