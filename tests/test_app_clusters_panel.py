"""The Clusters page's mini-clusters, words and downloads, without Streamlit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from kingdra.config import KingdraConfig, Thresholds
from kingdra.graph import get_clusters
from kingdra.ui import clusters_panel
from kingdra.ui.clusters_panel import MiniClusters
from kingdra.ui.overclustering import FineClusters
from kingdra.ui.session import AppSession, Snapshot

# Three groups of rows on which 4 members agree (each its own numbering), and 2 stray rows.
VOTES = np.array([[0, 1, 2, 3]] * 4 + [[1, 2, 3, 0]] * 3 + [[2, 3, 0, 1]] * 3 + [[0, 2, 1, 3]] * 2)
Y = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 1])


def _session() -> tuple[AppSession, Snapshot]:
    n, m = VOTES.shape
    snap = Snapshot(
        iteration=0,
        member_labels=VOTES,
        confidence=np.ones((n, m)),
        labels=VOTES[:, 0].copy(),
        probs=np.full((n, 4), 0.25),
    )
    session = AppSession(sync=True)
    session.config = KingdraConfig.from_preset("fast", n_clusters=2, n_models=m, overcluster=2)
    session.snapshots = [snap]
    return session, snap


def test_mini_clusters_are_algorithm_1s_then_the_pending_edits():
    session, snap = _session()
    th = Thresholds(4, 4, 3, 0.0)
    mini = MiniClusters.of(session, snap, th)
    expected = get_clusters(VOTES, 3, 4, 4).clusters
    assert [c.tolist() for c in mini.base] == [np.sort(c).tolist() for c in expected]
    assert ("result", snap.key, 4, 4, 3, 0.0) in session.cache  # shared with the Graph page
    assert mini.n_points == 10 and mini.non_empty == [0, 1, 2]
    assert (mini.membership[10:] == -1).all() and (mini.pseudo[10:] == -1).all()
    first = mini.base[0]
    session.add_edit(mini.base, {"op": "reject", "cluster": 0})
    edited = MiniClusters.of(session, snap, th)
    assert [c.tolist() for c in edited.base] == [c.tolist() for c in mini.base]
    assert edited.non_empty == [1, 2] and edited.n_points == 10 - len(first)
    assert (edited.membership[first] == -1).all() and (edited.pseudo[first] == -1).all()


def test_the_caption_says_what_is_shown_and_where_the_thresholds_come_from():
    _, snap = _session()
    th = Thresholds(4, 3, 20, 0.0)
    text = clusters_panel.caption(snap, th, FineClusters(10, 1), applied=True, n_points=1234)
    assert text == (
        "Base ensemble; mini-clusters with t_pos=4, t_neg=3, at most 20 of them "
        "(applied on the Graph page; 1,234 points)."
    )
    text = clusters_panel.caption(
        snap, th, FineClusters(10, 2), applied=False, n_points=5, n_edits=2
    )
    assert ", one per fine cluster: 2 for each of the k = 10 clusters (the run's settings;" in text
    assert text.endswith("5 points). 2 edit(s) of yours below.")


def test_group_titles_and_headings():
    rows = np.arange(4)
    wrong = clusters_panel.wrong(Y, VOTES[:, 0])
    assert clusters_panel.wrong(None, VOTES[:, 0]).tolist() == [False] * 12
    zeros = np.flatnonzero(VOTES[:, 0] == 0)  # true classes 0, 0, 0, 1, 0, 1
    title = clusters_panel.group_title(0, zeros, wrong[zeros])
    assert title == "cluster 0: 6, 67% majority class"
    named = clusters_panel.group_title(1, rows, None, names={1: "ones"})
    assert named == "ones · cluster 1: 4"
    mini = clusters_panel.group_title(1, rows, None, kind="mini-clusters", names={1: "ones"})
    assert mini == "mini-cluster 1: 4"
    assert clusters_panel.text_heading("cluster 1: 4", 1, {}) == "**cluster 1: 4**"
    assert clusters_panel.text_heading("cluster 1: 4", 1, {0: ["a"]}) == "**cluster 1: 4** — "
    assert clusters_panel.grid_rows([np.array([3, 1]), np.array([7])]).tolist() == [3, 1, 7]
    assert clusters_panel.grid_rows([]).dtype == np.int64
    merged = clusters_panel.merge_title(FineClusters(10, 2))
    assert merged == "Over-clustering: how 20 fine clusters became 10 clusters"


def test_confusion_axes_name_the_classes():
    mat, names, clusters = clusters_panel.confusion_axes(Y, VOTES[:, 0], ["zero", "one", "two"])
    assert names == ["zero", "one", "two"] and mat.sum() == len(Y)
    _, plain, _ = clusters_panel.confusion_axes(Y, VOTES[:, 0])
    assert plain == [0, 1, 2]


def test_downloads_carry_the_edited_sets_pseudo_labels_and_the_names():
    session, snap = _session()
    mini = MiniClusters.of(session, snap, Thresholds(4, 4, 3, 0.0))
    dataset = SimpleNamespace(y=Y, class_names=["zero", "one", "two"])
    names = {0: "round, closed"}
    lines = clusters_panel.selection_csv([0, 11], snap, mini, dataset, names).splitlines()
    assert lines[0] == "index,cluster,mini_cluster,pseudo_label,true_label,true_class,cluster_name"
    assert lines[2] == '11,0,-1,-1,1,one,"round, closed"'
    lines = clusters_panel.labels_csv(snap, mini, dataset, names).splitlines()
    assert lines[0] == "index,cluster,pseudo_label,true_label,cluster_name"
    assert len(lines) == 13 and lines[12] == '11,0,-1,1,"round, closed"'
