"""Where the app's heavy imports happen: on first use, or warmed in the background.

``import kingdra`` and the app's first page import neither torch nor the engine nor umap
(``kingdra/__init__.py`` resolves its names on first use). After the first page is drawn,
`warm_in_background` imports the modules the other pages need in a daemon thread, once per
process, so the first visit to the Graph or Clusters page does not wait for them either.
"""

from __future__ import annotations

import importlib
import logging
import threading

logger = logging.getLogger(__name__)

__all__ = ["HEAVY", "umap", "warm_in_background"]

# In the order the pages need them: the engine (torch), the figures, the graph view, the UMAP
# layout. (Streamlit itself imports plotly.)
HEAVY = ("torch", "kingdra.engine", "kingdra.plots", "kingdra.ui.graph_view", "umap")

_started = threading.Event()


def umap():
    """The ``umap`` module, imported on first use: numba compiles it on import (seconds).

    The one lazy import of the library outside ``kingdra/__init__.py``: the UMAP layout and
    baseline call this, so importing their modules (the Clusters and History pages) stays fast.
    """
    return importlib.import_module("umap")


def warm_in_background(modules: tuple[str, ...] = HEAVY) -> threading.Thread | None:
    """Import ``modules`` in a daemon thread, the first time only (later calls return None).

    Also loads the compiled kernels of Algorithm 1 (`kingdra.graph`), so the first threshold
    slider move does not pay for numba's import and cache load. Import errors are logged, never raised: the page that
    needs the module raises them itself.
    """
    if _started.is_set():
        return None
    _started.set()

    def warm() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as err:  # reported by the page that uses the module
                logger.debug("warming %s failed: %s", name, err)
        try:
            from kingdra.graph import load_kernels

            load_kernels()
        except Exception as err:
            logger.debug("warming the graph kernels failed: %s", err)

    thread = threading.Thread(target=warm, name="kingdra-warm", daemon=True)
    thread.start()
    return thread
