"""The long-term memories: :class:`TypeA` (conditional VAE) and :class:`TypeB` (recognition).

Both are :class:`LongTermMemory` subclasses: the shared surface (``for_memory``, ``keys``,
``recall``, ``fit``, ``save``, ``load``) is written once in :mod:`.base`; each type adds its
networks, its loss (terms in :mod:`.losses`) and how it draws a screen. Importing this
package imports torch; ``man_rl`` itself loads it only when ``TypeA`` or ``TypeB`` is first
used.

Example:
    >>> from man_rl.ltm import TypeA, TypeB, load_model
    >>> TypeB.kind
    'B'
"""

from man_rl.ltm.base import LongTermMemory
from man_rl.ltm.checkpoint import load_model, register_model_type, save_model
from man_rl.ltm.config import ModelConfig
from man_rl.ltm.stopping import Stopped, StoppingRule, Verdict, fit_until
from man_rl.ltm.type_a import TypeA, TypeAConfig
from man_rl.ltm.type_b import TypeB, TypeBConfig

__all__ = [
    "LongTermMemory",
    "ModelConfig",
    "Stopped",
    "StoppingRule",
    "TypeA",
    "TypeAConfig",
    "TypeB",
    "TypeBConfig",
    "Verdict",
    "fit_until",
    "load_model",
    "register_model_type",
    "save_model",
]
