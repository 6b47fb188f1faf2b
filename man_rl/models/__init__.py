"""The long-term memories: :class:`TypeA` (conditional VAE) and :class:`TypeB` (recognition).

Importing this package imports torch; ``man_rl`` itself loads it only when ``TypeA`` or
``TypeB`` is first used.

Example:
    >>> from man_rl.models import TypeA, TypeB, load_model
    >>> TypeB.kind
    'B'
"""

from man_rl.models.checkpoint import load_model, save_model
from man_rl.models.type_a import TypeA, TypeAConfig
from man_rl.models.type_b import TypeB, TypeBConfig

__all__ = ["TypeA", "TypeAConfig", "TypeB", "TypeBConfig", "load_model", "save_model"]
