"""Kingdra: unsupervised clustering with pseudo-semi-supervised learning (ICLR 2020).

``import kingdra`` stays light (no torch): the names below are imported on first use.

>>> import kingdra
>>> model = kingdra.KingdraCluster(n_clusters=10)  # doctest: +SKIP
>>> ds = kingdra.load("digits")                     # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "KingdraCluster": "kingdra.estimator",
    "KingdraConfig": "kingdra.config",
    "KingdraEngine": "kingdra.engine",
    "load": "kingdra.data",
    "available": "kingdra.data",
    "mini_clusters": "kingdra.graph",
    "run_baselines": "kingdra.baselines",
}

__all__ = [
    "KingdraCluster",
    "KingdraConfig",
    "KingdraEngine",
    "__version__",
    "available",
    "load",
    "mini_clusters",
    "run_baselines",
]

if TYPE_CHECKING:  # for type checkers and IDEs only
    from kingdra.baselines import run_baselines
    from kingdra.config import KingdraConfig
    from kingdra.data import available, load
    from kingdra.engine import KingdraEngine
    from kingdra.estimator import KingdraCluster
    from kingdra.graph import mini_clusters


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kingdra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
