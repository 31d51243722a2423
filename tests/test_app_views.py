"""The app's computations without Streamlit: views, layouts, graph view, session state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kingdra.config import Thresholds
from kingdra.graph import get_clusters
from kingdra.metrics import confusion
from kingdra.ui import clusters_view, graph_view, history_view
from kingdra.ui.graph_view import build_graph_view, step_figure, summarize
from kingdra.ui.layout import agreement_layout, aligned_votes, spring_layout


def _labels(n=300, m=6, k=4, noise=0.1, seed=0):
    """Members that agree on k classes up to a permutation each, with some noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    cols = []
    for _ in range(m):
        perm = rng.permutation(k)
        col = perm[y]
        flip = rng.random(n) < noise
        col[flip] = rng.integers(0, k, flip.sum())
        cols.append(col)
    return np.stack(cols, 1), y


def test_sample_nodes_always_contains_anchors():
    nodes = graph_view.sample_nodes(1000, 50, include=[999, 3, 500], seed=1)
    assert len(nodes) == 50 and np.all(np.diff(nodes) > 0)
    assert {3, 500, 999} <= set(nodes.tolist())
    assert np.array_equal(graph_view.sample_nodes(10, 50), np.arange(10))
    with pytest.raises(ValueError, match="include"):
        graph_view.sample_nodes(10, 5, include=[10])


def test_cluster_membership_and_local_edges():
    member = graph_view.cluster_membership([np.array([0, 1]), np.array([1, 4])], 6)
    assert member.tolist() == [0, 0, -1, -1, 1, -1]
    nodes = np.array([2, 5, 9])
    assert graph_view.to_local(np.array([[5, 9], [2, 9]]), nodes).tolist() == [[1, 2], [0, 2]]


def test_step_view_replays_the_trace():
    labels, _ = _labels()
    result = get_clusters(labels, 4, 6, 6)
    nodes = graph_view.sample_nodes(len(labels), 120, include=[s.anchor for s in result.steps])
    start = graph_view.step_view(result, nodes, 0)
    assert start.anchor is None and (start.groups == -1).all() and not start.faded.any()
    one = graph_view.step_view(result, nodes, 1)
    first = result.steps[0]
    assert nodes[one.anchor] == first.anchor
    assert set(nodes[one.groups == 0]) == set(first.members) & set(nodes)
    two = graph_view.step_view(result, nodes, 2)
    assert set(nodes[two.faded]) == set(first.removed) & set(nodes)
    assert "Step 2" in two.text
    with pytest.raises(ValueError, match="step"):
        graph_view.step_view(result, nodes, len(result.steps) + 1)


def test_image_grid_boxes_wrong_members_in_red():
    images = np.full((3, 8, 8), 255, np.uint8)
    grid = clusters_view.image_grid(
        images, n_cols=3, wrong=np.array([False, True, False]), cell=10, pad=4
    )
    assert grid.shape == (4 + 10 + 4, 3 * 14 + 4, 3)
    red = (grid[..., 0] > 200) & (grid[..., 1] < 60)
    assert red[:, 14:32].any() and not red[:, :14].any()
    png = clusters_view.png_bytes(grid)
    assert png[:4] == b"\x89PNG"


def test_confusion_orders_clusters_by_best_class():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([2, 2, 0, 0, 1, 1])
    mat, classes, clusters = confusion(y, pred)
    assert classes == [0, 1, 2] and clusters == [2, 0, 1]
    assert np.array_equal(mat, 2 * np.eye(3, dtype=int))
    assert clusters_view.wrong_mask(np.array([0, 0, 1, 1]), np.array([5, 5, 5, -1])).tolist() == [
        False, False, True, False,
    ]  # fmt: skip


def test_exports_round_trip():
    csv = clusters_view.labels_csv(np.array([1, 0]), pseudo=np.array([-1, 3]), y=np.array([1, 1]))
    assert csv.splitlines() == ["index,cluster,pseudo_label,true_label", "0,1,-1,1", "1,0,3,1"]
    doc = json.loads(graph_view.mini_clusters_json([np.array([3, 1])], t_pos=5, min_confidence=0.5))
    assert doc == {"params": {"t_pos": 5, "min_confidence": 0.5}, "mini_clusters": [[3, 1]]}


def test_top_words_per_group():
    texts = ["rocket launch orbit", "orbit rocket", "goal match striker", "match goal"]
    words = clusters_view.top_words(texts, np.array([0, 0, 1, 1]), n_words=2)
    assert set(words[0]) == {"rocket", "orbit"} and set(words[1]) == {"goal", "match"}


def test_agreement_matrix_is_ari():
    labels = np.array([[0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]])
    mat = history_view.agreement_matrix(labels)
    assert mat[0, 1] == pytest.approx(1.0) and mat[0, 2] < 0.1 and np.allclose(mat, mat.T)


def test_agreement_matrix_is_sklearns_ari_exactly():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    labels = np.c_[
        rng.integers(0, 7, 500), rng.integers(0, 3, 500) * 5 - 4, np.zeros(500, int), np.arange(500)
    ]
    labels = np.c_[labels, labels[:, 0], (labels[:, 0] + rng.integers(0, 2, 500)) % 7]
    mat = history_view.agreement_matrix(labels)
    for a in range(labels.shape[1]):
        for b in range(labels.shape[1]):
            assert mat[a, b] == pytest.approx(adjusted_rand_score(labels[:, a], labels[:, b]))


def test_build_graph_view_draws_every_point_unless_the_layout_is_the_samples():
    labels, y = _labels(n=400, noise=0.05)
    xy = agreement_layout(labels, 4)
    view = build_graph_view(labels, None, xy, t_pos=6, t_neg=6, k=4, sample_size=100, y=y)
    under = [t for t in view.figure.data if t.showlegend is False]
    assert np.array_equal(np.sort(np.concatenate([t.customdata for t in under])), np.arange(400))
    by_class = build_graph_view(
        labels, None, xy, t_pos=6, t_neg=6, k=4, sample_size=100, y=y, color_by="true class"
    )
    for t in (t for t in by_class.figure.data if t.showlegend is False):
        assert (
            t.name == f"class {y[t.customdata[0]]}"
            and (y[t.customdata] == y[t.customdata[0]]).all()
        )
    spring = build_graph_view(
        labels, None, xy, t_pos=6, t_neg=6, k=4, sample_size=100, place=lambda c, p: xy[:c]
    )
    assert not [t for t in spring.figure.data if t.showlegend is False]
    whole = build_graph_view(labels, None, xy, t_pos=6, t_neg=6, k=4, sample_size=400)
    assert not [t for t in whole.figure.data if t.showlegend is False]


def test_agreement_layout_undoes_member_permutations():
    labels, y = _labels(noise=0.0)
    votes = aligned_votes(labels, 4)
    assert (votes == votes[:, :1]).all()  # perfect agreement once aligned
    xy = agreement_layout(labels, 4, jitter=0.0)
    for c in range(4):
        assert np.ptp(xy[y == c], axis=0).max() < 1e-9
    assert np.linalg.norm(xy[y == 0][0] - xy[y == 1][0]) > 0.5


def test_spring_layout_limits_size():
    assert spring_layout(3, np.array([[0, 1]])).shape == (3, 2)
    with pytest.raises(ValueError, match="force-directed"):
        spring_layout(10_000, np.zeros((0, 2)))


def test_spring_layout_stays_on_networkxs_dense_solver(monkeypatch):
    """From 500 nodes networkx switches to its sparse solver, twice as slow (a move > 1 s)."""
    from networkx.drawing import layout as nx_layout

    from kingdra.ui.layout import SPRING_MAX_NODES

    def sparse(*args, **kwargs):
        raise AssertionError("the sparse solver ran")

    monkeypatch.setattr(nx_layout, "_sparse_fruchterman_reingold", sparse)
    pairs = np.stack([np.arange(SPRING_MAX_NODES - 1), np.arange(1, SPRING_MAX_NODES)], 1)
    assert spring_layout(SPRING_MAX_NODES, pairs, max_edges=100).shape == (SPRING_MAX_NODES, 2)


def test_build_graph_view_summary_and_figure():
    labels, y = _labels(n=400, noise=0.05)
    xy = agreement_layout(labels, 4)
    view = build_graph_view(labels, None, xy, t_pos=6, t_neg=6, k=4, sample_size=100, y=y)
    anchors = {s.anchor for s in view.result.steps}
    assert anchors <= set(view.nodes.tolist()) and len(view.nodes) == 100
    assert view.summary.precision == pytest.approx(1.0)
    assert view.summary.n_labelled == sum(view.summary.sizes)
    assert "t_pos=6" in view.figure.layout.title.text
    fig, text = step_figure(view, xy, 1)
    assert "anchor" in [t.name for t in fig.data] and text.startswith("Step 1")
    loose = build_graph_view(labels, None, xy, t_pos=3, t_neg=6, k=4, sample_size=100, y=y)
    assert len(loose.pos_pairs) > len(view.pos_pairs)


def test_summarize_without_labels():
    labels, _ = _labels()
    s = summarize([np.array([0, 1, 2]), np.array([2, 3])], len(labels))
    assert s.precision is None and s.n_labelled == 3  # node 2 is ambiguous


def test_history_table_reads_the_records_and_recomputes_nothing(monkeypatch):
    """Each row is its iteration's record: ACC after it, the pseudo-labels it trained on."""
    history = [
        {"iteration": 0, "phase": "base", "acc": 0.5},
        {
            "iteration": 1,
            "acc": 0.6,
            "t_pos": 4,
            "t_neg": 3,
            "mini_clusters_wanted": 20,
            "min_confidence": 0.5,
            "mini_cluster_sizes": [3, 0, 2],
            "n_pseudo_labelled": 5,
            "coverage": 0.05,
            "pseudo_precision": 0.9,
            "edits": [{"op": "reject", "cluster": 1}],
        },
    ]
    monkeypatch.setattr(graph_view, "run_algorithm", None)  # a call would fail
    base, one = history_view.table_rows(history_view.timeline_rows(history))
    assert base == {
        "iteration": 0,
        "acc": 0.5,
        "precision": None,
        "n_labelled": None,
        "coverage": None,
        "n_mini_clusters": None,
        "t_pos": None,
        "t_neg": None,
        "mini-clusters wanted": None,
        "min_confidence": None,
        "your edits before it": "",
    }
    assert one == {
        "iteration": 1,
        "acc": 0.6,
        "precision": 0.9,
        "n_labelled": 5,
        "coverage": 0.05,
        "n_mini_clusters": 2,
        "t_pos": 4,
        "t_neg": 3,
        "mini-clusters wanted": 20,
        "min_confidence": 0.5,
        "your edits before it": "reject mini-cluster 1",
    }
    assert "your edits before it" not in history_view.table_rows([{"iteration": 0, "edits": []}])[0]


def test_validated_thresholds():
    assert Thresholds(3, 2, 4, 0.5).validated(n_models=5, n_outputs=100).t_pos == 3
    for bad in [(0, 2, 4, 0.5), (3, 6, 4, 0.5), (3, 2, 0, 0.5), (3, 2, 4, 1.0), (3.5, 2, 4, 0)]:
        with pytest.raises(ValueError):
            Thresholds(*bad).validated(n_models=5, n_outputs=100)


def test_timeline_rows_from_engine_history():
    history = [
        {"iteration": 0, "phase": "base", "acc": 0.5, "losses": {}},
        {"iteration": 1, "acc": 0.6, "mini_cluster_sizes": [3, 0, 2], "n_pseudo_labelled": 5,
         "coverage": 0.5, "pseudo_precision": float("nan")},
        {"iteration": 1, "acc": 0.65, "mini_cluster_sizes": [4, 1, 2], "n_pseudo_labelled": 7,
         "coverage": 0.7, "pseudo_precision": 1.0},
        {"iteration": 2, "acc": 0.7, "mini_cluster_sizes": [4, 2, 2], "n_pseudo_labelled": 8},
    ]  # fmt: skip
    rows = history_view.timeline_rows(history, upto=1)
    assert [r["iteration"] for r in rows] == [0, 1]
    base, one = rows
    assert base["acc"] == 0.5 and base["mini_cluster_sizes"] == []
    assert base["n_pseudo_labelled"] is None and base["pseudo_precision"] is None
    assert one["acc"] == 0.65 and one["n_mini_clusters"] == 3  # the last record wins
    assert history_view.timeline_rows(history[:2])[1]["pseudo_precision"] is None  # NaN
    assert history_view.timeline_rows(history)[2]["pseudo_precision"] is None  # no labels
    assert history_view.timeline_rows([]) == []


def test_timeline_rows_say_the_edits_each_iteration_trained_on():
    history = [
        {"iteration": 0, "phase": "base", "acc": 0.5},
        {"iteration": 1, "acc": 0.6, "edits": [{"op": "reject", "cluster": 2},
                                               {"op": "add", "rows": [4, 5]}]},
    ]  # fmt: skip
    rows = history_view.timeline_rows(history)
    assert rows[0]["edits"] == []
    assert rows[1]["edits"] == ["reject mini-cluster 2", "add 2 row(s) as a new mini-cluster"]


def test_selection_holders_and_what_a_drop_takes():
    from kingdra.ui.curation_view import selection_holders

    clusters = [np.array([0, 1, 2]), np.array([], np.int64), np.array([5, 6, 7, 8])]
    holders = selection_holders([8, 7, 1, 9, 7], clusters)
    assert [(i, r.tolist()) for i, r in holders] == [(2, [7, 8]), (0, [1])]
    assert selection_holders([3, 4], clusters) == []


def test_selection_csv_quotes_names_and_keeps_the_given_columns():
    csv_text = clusters_view.selection_csv(
        [2, 0],
        cluster=np.array([1, 2, 3]),
        pseudo=np.array([-1, 0, 1]),
        y=np.array([0, 1, 0]),
        class_names=["cat, small", "dog"],
        names=["a.png", "b.png", 'c "x".png'],
    )
    lines = csv_text.splitlines()
    assert lines[0] == "index,cluster,pseudo_label,true_label,true_class,name"
    assert lines[1] == '2,3,1,0,"cat, small","c ""x"".png"'
    assert lines[2] == '0,1,-1,0,"cat, small",a.png'
    assert clusters_view.selection_csv([], cluster=np.array([1])) == "index,cluster\n"
