"""Plot builders: pure functions of arrays, checked on what they draw."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from kingdra import plots


def _graph(**kw):
    xy = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    pos = np.array([[0, 1], [2, 3]])
    neg = np.array([[0, 2], [0, 3], [1, 2], [1, 3]])
    groups = np.array([0, 0, 1, -1])
    return plots.graph_figure(xy, pos, neg, groups, node_ids=np.array([10, 11, 12, 13]), **kw)


def test_graph_figure_colours_edges_and_nodes():
    fig = _graph()
    names = [t.name for t in fig.data]
    assert names[:2] == ["negative edges (4)", "positive edges (2)"]
    assert fig.data[0].line.color == plots.NEGATIVE_COLOR
    assert fig.data[1].line.color == plots.POSITIVE_COLOR
    # Each edge is a segment (2 points + a gap).
    assert len(fig.data[1].x) == 2 * 3
    nodes = {t.name: t for t in fig.data[2:]}
    assert set(nodes) == {"mini-cluster 0", "mini-cluster 1", "unassigned"}
    assert nodes["unassigned"].marker.color == plots.UNASSIGNED_COLOR
    assert list(nodes["mini-cluster 0"].customdata) == [10, 11]


def test_graph_figure_samples_edges_and_says_so():
    fig = _graph(max_neg_edges=2)
    assert len(fig.data[0].x) == 2 * 3
    assert "2 of 4 negative edges drawn" in fig.layout.title.text


def test_graph_figure_stepper_marks_anchor_faded_and_removed():
    fig = _graph(
        anchor=1, faded=np.array([False, False, False, True]), removing=np.array([0, 0, 1, 0], bool)
    )
    names = [t.name for t in fig.data]
    assert "anchor" in names and "removed at this step" in names and "removed" in names
    anchor = fig.data[names.index("anchor")]
    assert list(anchor.customdata) == [11] and anchor.marker.size > 15
    assert any(n.startswith("anchor's positive edges") for n in names)


def test_graph_figure_rejects_wrong_group_length():
    with pytest.raises(ValueError, match="node_groups"):
        plots.graph_figure(np.zeros((3, 2)), [], [], np.zeros(2))


def test_limit_pairs_is_seeded_and_bounded():
    pairs = np.arange(200).reshape(100, 2)
    a, total = plots.limit_pairs(pairs, 10, seed=3)
    b, _ = plots.limit_pairs(pairs, 10, seed=3)
    assert total == 100 and len(a) == 10 and np.array_equal(a, b)
    with pytest.raises(ValueError):
        plots.limit_pairs(pairs, -1)


def test_sweep_heatmaps_with_and_without_precision():
    sweep = {
        "t_pos": np.array([1, 2]),
        "t_neg": np.array([1, 2, 3]),
        "coverage": np.full((2, 3), 0.5),
        "precision": np.full((2, 3), 0.9),
    }
    fig = plots.sweep_heatmaps(sweep)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert np.asarray(fig.data[0].z).shape == (2, 3)
    sweep.pop("precision")
    assert len(plots.sweep_heatmaps(sweep).data) == 1


def test_history_and_member_figures():
    rows = [
        {"iteration": 0, "acc": 0.8, "precision": 0.95, "n_labelled": 100},
        {"iteration": 1, "acc": 0.9, "precision": None, "n_labelled": 300},
    ]
    fig = plots.history_figure(rows)
    assert list(fig.data[0].y) == [0.8, 0.9]
    assert np.isnan(fig.data[1].y[1]) and list(fig.data[2].y) == [100, 300]
    bar = plots.member_accuracy_figure([0.5, 0.75])
    assert list(bar.data[0].y) == [0.5, 0.75]


def test_agreement_confusion_embedding_loss_and_sizes():
    assert isinstance(plots.agreement_heatmap(np.eye(3)), go.Figure)
    with pytest.raises(ValueError, match="square"):
        plots.agreement_heatmap(np.zeros((2, 3)))
    conf = plots.confusion_figure(np.array([[3, 1], [0, 4]]), ["a", "b"], [1, 0])
    assert np.asarray(conf.data[0].z).sum() == 8
    emb = plots.embedding_figure(
        np.random.default_rng(0).normal(size=(6, 2)),
        np.array([0, 0, 1, 1, -1, 1]),
        wrong=np.array([0, 1, 0, 0, 0, 0], bool),
    )
    assert sorted(t.name for t in emb.data) == ["cluster 0", "cluster 1", "unassigned"]
    assert list(emb.data[1].customdata) == [0, 1]
    loss = plots.loss_curves_figure([{"total": 2.0, "im": 1.0}, {"total": 1.5, "im": 0.5}])
    assert [t.visible for t in loss.data] == [True, "legendonly"]
    assert list(plots.sizes_figure([5, 3]).data[0].y) == [5, 3]


def _lab(hex_color: str) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_mini_cluster_colours_are_distinct_and_shapes_take_over_after_the_palette():
    from kingdra.plots import (
        NEGATIVE_COLOR,
        PALETTE,
        POSITIVE_COLOR,
        UNASSIGNED_COLOR,
        category_color,
        category_symbol,
    )

    colors = [category_color(g) for g in range(len(PALETTE))]
    assert len(PALETTE) >= 20 and len(set(colors)) == len(colors)
    labs = [_lab(c) for c in colors]
    others = [_lab(c) for c in (POSITIVE_COLOR, NEGATIVE_COLOR, UNASSIGNED_COLOR)]
    for i, a in enumerate(labs):  # 0 and 12 were both blue: now far apart (CIE76 > 20)
        assert all(np.linalg.norm(a - b) > 20 for b in labs[i + 1 :] + others)
    # From len(PALETTE) on, a colour comes back with another marker shape.
    n = len(PALETTE)
    assert (category_color(n), category_symbol(n)) != (category_color(0), category_symbol(0))
    assert len({(category_color(g), category_symbol(g)) for g in range(5 * n)}) == 5 * n


def test_graph_of_a_sample_labels_its_edge_counts_as_among_the_drawn_nodes():
    xy = np.random.default_rng(0).normal(size=(5, 2))
    pos, neg = np.array([[0, 1], [1, 2]]), np.array([[0, 4]])
    fig = plots.graph_figure(xy, pos, neg, np.array([0, 0, 0, -1, 1]), n_total=1797)
    names = [t.name for t in fig.data]
    assert "positive edges among drawn nodes (2)" in names
    assert "negative edges among drawn nodes (1)" in names
    assert "5 of 1,797 nodes drawn" in fig.layout.title.text
    whole = plots.graph_figure(xy, pos, neg, np.zeros(5, int), n_total=5)
    assert "positive edges (2)" in [t.name for t in whole.data]
    assert "5 nodes drawn" in whole.layout.title.text


def _timeline():
    from kingdra.ui.history_view import timeline_rows

    history = [
        {"iteration": 0, "phase": "base", "acc": 0.6},
        {"iteration": 1, "acc": 0.7, "mini_cluster_sizes": [30, 20, 0], "n_pseudo_labelled": 50,
         "coverage": 0.05, "pseudo_precision": 0.9},
        {"iteration": 2, "acc": 0.8, "mini_cluster_sizes": [60, 40, 10], "n_pseudo_labelled": 110,
         "coverage": 0.11, "pseudo_precision": 0.95},
    ]  # fmt: skip
    return timeline_rows(history)


def test_timeline_marks_the_scrubbed_iteration_and_fades_the_rest():
    rows = _timeline()
    fig = plots.timeline_figure(rows, 1)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 1 and list(bars[0].y) == [30, 20, 0]
    assert "iteration 1 of 2" in fig.layout.title.text
    assert fig.layout.annotations[0].text == "mini-clusters trained on at iteration 1"
    lines = [t for t in fig.data if t.type == "scatter"]
    assert len(lines) == 9  # precision, count, ACC: all (faded), up to now, now
    faded, past, now = lines[6:9]  # ACC
    assert list(faded.y) == [0.6, 0.7, 0.8]
    assert past.y[1] == 0.7 and np.isnan(past.y[2]) and list(now.x) == [1]
    assert np.isnan(lines[0].y[0])  # the base ensemble has no pseudo-label precision
    assert len(fig.layout.shapes) == 3  # a line at the scrubbed iteration in each curve


def test_timeline_base_ensemble_says_no_pseudo_labels_yet():
    fig = plots.timeline_figure(_timeline(), 0)
    assert any("no pseudo-labels yet" in a.text for a in fig.layout.annotations)
    assert fig.data[0].type == "bar" and len(fig.data[0].y) == 0
    with pytest.raises(ValueError, match="iteration 5"):
        plots.timeline_figure(_timeline(), 5)


def test_graph_figure_draws_every_point_under_the_sample_in_webgl():
    rng = np.random.default_rng(0)
    every_xy = rng.normal(size=(50, 2))
    groups = rng.integers(-1, 3, 50)
    nodes = np.array([3, 10, 20])
    fig = plots.graph_figure(
        every_xy[nodes], [], [], groups[nodes], node_ids=nodes, n_total=50,
        every_xy=every_xy, every_group=groups,
    )  # fmt: skip
    under = [t for t in fig.data if t.showlegend is False]
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    rows = np.sort(np.concatenate([t.customdata for t in under]))
    assert np.array_equal(rows, np.arange(50))  # every row once, selectable by its index
    for t in under:  # coloured and legend-grouped like the sample's trace of the same group
        g = groups[t.customdata[0]]
        assert (groups[t.customdata] == g).all()
        assert t.marker.color == plots.category_color(g) and t.legendgroup == t.name
    assert fig.data[0].showlegend is False  # underneath the edges and the sample
    assert "all 50 points drawn; edges among 3 sampled nodes" in fig.layout.title.text
    with pytest.raises(ValueError, match="every_group"):
        plots.graph_figure(every_xy[:3], [], [], groups[:3], every_xy=every_xy, every_group=[0])
