"""One snapshot's agreement graph, computed once per session: what the graph pages draw.

Algorithm 1's result, the node positions, the drawn view and the threshold sweep of one
:class:`kingdra.ui.session.Snapshot`, each kept in the session's cache (``AppSession.cached``)
under the snapshot's ``key`` and the settings it depends on, so a rerun that moves nothing
recomputes nothing. Plain Python, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kingdra.config import Thresholds
from kingdra.pseudo import threshold_sweep
from kingdra.ui import graph_view, layout
from kingdra.ui.graph_view import GraphView

#: The Graph page's layouts of the nodes.
LAYOUTS = ("agreement", "UMAP", "force-directed")
LAYOUT_HELP = (
    "agreement: each node at the mean of its members' votes over k cluster vertices "
    "(instant); UMAP of the ensemble probabilities (computed once per iteration); "
    f"force-directed: networkx spring layout on the positive edges (samples of at most "
    f"{layout.SPRING_MAX_NODES} nodes)."
)


def spring_limit(layout_name: str, sample_size: int) -> tuple[int, str]:
    """The sample the layout can draw, and a note when it is smaller than the one asked for.

    >>> spring_limit("force-directed", 800)
    (400, 'The force-directed layout draws at most 400 nodes.')
    >>> spring_limit("agreement", 800)
    (800, '')
    """
    if layout_name == "force-directed" and sample_size > layout.SPRING_MAX_NODES:
        limit = layout.SPRING_MAX_NODES
        return limit, f"The force-directed layout draws at most {limit} nodes."
    return sample_size, ""


class SnapshotGraph:
    """The agreement graph of ``snapshot``'s member votes, cached in ``session``.

    ``n_classes``: the members' output classes (the agreement layout's vertices).
    """

    def __init__(self, session, snapshot, n_classes: int) -> None:
        self.session, self.snap, self.n_classes = session, snapshot, int(n_classes)

    def _key(self, name: str, thresholds: Thresholds) -> tuple:
        t_pos, t_neg, k, gate = thresholds
        return (name, self.snap.key, t_pos, t_neg, k, round(gate, 4))

    def result(self, thresholds: Thresholds):
        """Algorithm 1 on the snapshot's votes (:func:`kingdra.ui.graph_view.run_algorithm`)."""
        snap = self.snap
        return self.session.cached(
            self._key("result", thresholds),
            lambda: graph_view.run_algorithm(snap.member_labels, snap.confidence, *thresholds),
        )

    def has_positions(self, layout_name: str) -> bool:
        """True when :meth:`positions` of this layout is already computed."""
        name = "umap" if layout_name == "UMAP" else "agreement"
        return (name, self.snap.key) in self.session.cache

    def positions(self, layout_name: str) -> np.ndarray:
        """(n, 2) positions of every node: UMAP of the probabilities, else the agreement
        layout (the force-directed layout places only the sample: :meth:`view`)."""
        snap = self.snap
        if layout_name == "UMAP":
            return self.session.cached(("umap", snap.key), lambda: layout.umap_layout(snap.probs))
        return self.session.cached(
            ("agreement", snap.key),
            lambda: layout.agreement_layout(snap.member_labels, self.n_classes),
        )

    def view(
        self,
        thresholds: Thresholds,
        *,
        sample_size: int,
        layout_name: str = "agreement",
        color_by: str = "mini-cluster",
        y: np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
    ) -> GraphView:
        """:func:`kingdra.ui.graph_view.build_graph_view` of these thresholds and options.

        The force-directed layout draws at most :func:`spring_limit` nodes, placed from their
        positive edges; the other layouts place every node.
        """
        thresholds = Thresholds(*thresholds)
        sample_size, _ = spring_limit(layout_name, sample_size)
        spring = layout_name == "force-directed"
        place = None
        if spring:
            key = self._key("spring", thresholds)

            def place(count: int, pairs: np.ndarray) -> np.ndarray:
                return self.session.cached(
                    (*key, count), lambda: layout.spring_layout(count, pairs)
                )

        return graph_view.build_graph_view(
            self.snap.member_labels,
            self.snap.confidence,
            self.positions("agreement" if spring else layout_name),
            t_pos=thresholds.t_pos,
            t_neg=thresholds.t_neg,
            k=thresholds.k,
            min_confidence=thresholds.min_confidence,
            sample_size=sample_size,
            y=y,
            class_names=class_names,
            color_by=color_by,
            result=self.result(thresholds),
            place=place,
        )

    def _sweep_key(self, k: int, gate: float) -> tuple:
        return ("sweep", self.snap.key, k, round(gate, 4))

    def has_sweep(self, k: int, gate: float) -> bool:
        """True when :meth:`sweep` of this ``k`` and gate is already computed."""
        return self._sweep_key(k, gate) in self.session.cache

    def sweep(self, k: int, gate: float, y: np.ndarray | None = None) -> dict:
        """Algorithm 1 over every (t_pos, t_neg) in 1..m (:func:`kingdra.pseudo.threshold_sweep`)."""
        snap = self.snap
        values = list(range(1, snap.member_labels.shape[1] + 1))
        return self.session.cached(
            self._sweep_key(k, gate),
            lambda: threshold_sweep(
                snap.member_labels,
                k,
                values,
                values,
                y_true=y,
                confidence=snap.confidence,
                min_confidence=gate,
            ),
        )
