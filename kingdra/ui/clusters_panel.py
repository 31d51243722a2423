"""What the Clusters page draws from one snapshot: the mini-clusters, its words, its downloads.

The next iteration's mini-clusters (Algorithm 1 at the applied thresholds, then a person's
edits), the caption over the grids, each group's title, the confusion matrix's axes and the
CSV downloads: plain Python, no Streamlit, so the page only lays them out. The grids and
CSV writers themselves are :mod:`kingdra.ui.clusters_view`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kingdra.config import Thresholds
from kingdra.metrics import confusion
from kingdra.pseudo import pseudo_labels
from kingdra.ui import clusters_view
from kingdra.ui.graph_view import cluster_membership
from kingdra.ui.overclustering import FineClusters
from kingdra.ui.snapshot_graph import SnapshotGraph

KINDS = ("final clusters", "mini-clusters")  # what the grids show
MERGE_CAPTION = (
    "Each member learns overcluster·k fine clusters; after the base phase the fine clusters "
    "whose rows share the most input-space nearest neighbours are grouped into one cluster, "
    "usually two per cluster (kingdra.merge). Labels read fine → final."
)


@dataclass(frozen=True)
class MiniClusters:
    """The mini-clusters Algorithm 1 gives on a snapshot, and the set after pending edits.

    ``base``: Algorithm 1's (the numbers edits refer to); ``edited``: what the next iteration
    trains on; ``membership``: each row's mini-cluster in ``edited`` (-1 none; the first of
    several, as drawn).
    """

    base: list[np.ndarray]
    edited: list[np.ndarray]
    membership: np.ndarray

    @classmethod
    def of(cls, session, snapshot, thresholds: Thresholds) -> MiniClusters:
        """Algorithm 1 on ``snapshot`` (cached in ``session``, shared with the Graph page),
        then ``session``'s pending edits."""
        n_fine = FineClusters.of(session.config).n_fine
        result = SnapshotGraph(session, snapshot, n_fine).result(thresholds)
        base = [np.asarray(c, dtype=np.int64) for c in result.clusters]
        edited = session.edited_clusters(base)
        return cls(base, edited, cluster_membership(edited, len(snapshot.labels)))

    @property
    def pseudo(self) -> np.ndarray:
        """(n,) pseudo-labels of the edited set (-1 none or ambiguous)."""
        return pseudo_labels(self.edited, len(self.membership))

    @property
    def n_points(self) -> int:
        """Rows in some mini-cluster of the edited set."""
        return int((self.membership >= 0).sum())

    @property
    def non_empty(self) -> list[int]:
        """Numbers of the edited set's non-empty mini-clusters (what curation can pick)."""
        return [i for i, c in enumerate(self.edited) if len(c)]


def caption(
    snapshot,
    thresholds: Thresholds,
    fine: FineClusters,
    *,
    applied: bool,
    n_points: int,
    n_edits: int | None = None,
) -> str:
    """What the page shows: the snapshot and the mini-clusters' thresholds.

    ``applied``: the thresholds were applied on the Graph page (else they are the run's);
    ``n_points``: rows in some mini-cluster; ``n_edits``: pending edits to mention, or None.
    """
    title = snapshot.title
    source = (
        "applied on the Graph page"
        if applied
        else "the run's settings; Graph's sliders apply here after **Use these thresholds for "
        "training**"
    )
    return (
        f"{title[0].upper()}{title[1:]}; "
        f"mini-clusters with t_pos={thresholds.t_pos}, t_neg={thresholds.t_neg}, at most "
        f"{thresholds.k} of them{f', {fine.note}' if fine else ''} "
        f"({source}; {n_points:,} points)."
        + ("" if n_edits is None else f" {n_edits} edit(s) of yours below.")
    )


def wrong(y: np.ndarray | None, groups: np.ndarray) -> np.ndarray:
    """Rows whose true class is not their group's majority (all False without labels)."""
    if y is None:
        return np.zeros(len(groups), bool)
    return clusters_view.wrong_mask(y, groups)


def group_title(
    group: int,
    rows: np.ndarray,
    wrong_rows: np.ndarray | None,
    *,
    kind: str = KINDS[0],
    names: Mapping[int, str] | None = None,
) -> str:
    """'cluster 3: 180, 94% majority class', after the cluster's name when it has one.

    ``wrong_rows``: :func:`wrong` at ``rows`` (None without labels: no purity).

    >>> group_title(3, np.arange(180), None, names={3: "threes"})
    'threes · cluster 3: 180'
    """
    purity = "" if wrong_rows is None else f", {1 - np.mean(wrong_rows):.0%} majority class"
    noun = "cluster" if kind == KINDS[0] else "mini-cluster"
    title = f"{noun} {group}: {len(rows):,}{purity}"
    if kind == KINDS[0] and names and int(group) in names:
        title = f"{names[int(group)]} · {title}"
    return title


def text_heading(title: str, group: int, words: Mapping[int, Sequence[str]]) -> str:
    """A text group's heading: its title in bold, then its top words (``words``:
    :func:`kingdra.ui.clusters_view.top_words`, empty when not computed).

    >>> text_heading("cluster 0: 12", 0, {0: ["goal", "match"]})
    '**cluster 0: 12** — goal, match'
    """
    if not words:
        return f"**{title}**"
    return f"**{title}** — {', '.join(words.get(int(group), []))}"


def grid_rows(shown: Sequence[np.ndarray]) -> np.ndarray:
    """The rows of every group's grid, in order (the sample-grid PNG's images)."""
    return np.concatenate(shown) if len(shown) else np.zeros(0, np.int64)


def merge_title(fine: FineClusters) -> str:
    """The over-clustering expander's title."""
    return f"Over-clustering: how {fine.n_fine} fine clusters became {fine.n_clusters} clusters"


def confusion_axes(y, labels, class_names=None) -> tuple[np.ndarray, list, list]:
    """:func:`kingdra.metrics.confusion` with the classes' names when the data has them."""
    mat, classes, clusters = confusion(y, labels)
    names = [class_names[c] for c in classes] if class_names else classes
    return mat, names, clusters


def selection_csv(
    ids: Sequence[int], snapshot, mini: MiniClusters, dataset, names: Mapping[int, str]
) -> str:
    """The selected rows' cluster (and name), mini-cluster, pseudo-label and true class."""
    return clusters_view.selection_csv(  # looked up at each call: tests spy on it
        ids,
        cluster=snapshot.labels,
        mini_cluster=mini.membership,
        pseudo=mini.pseudo,
        y=dataset.y,
        class_names=dataset.class_names,
        cluster_names=names,
    )


def labels_csv(snapshot, mini: MiniClusters, dataset, names: Mapping[int, str]) -> str:
    """Every row's cluster, pseudo-label, true label and cluster name."""
    return clusters_view.labels_csv(  # looked up at each call: tests spy on it
        snapshot.labels, pseudo=mini.pseudo, y=dataset.y, cluster_names=names
    )
