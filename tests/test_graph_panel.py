"""The Graph page's words and downloads (kingdra.ui.graph_panel), without Streamlit."""

from __future__ import annotations

import json

import numpy as np

from kingdra.config import Thresholds
from kingdra.ui import graph_panel
from kingdra.ui.graph_view import Summary
from kingdra.ui.overclustering import FineClusters

OVER, PLAIN = FineClusters(10, 2), FineClusters(10, 1)


def test_the_k_slider_and_caption_name_the_users_k():
    assert graph_panel.k_slider(PLAIN) == ("k (mini-clusters)", None)
    label, help_text = graph_panel.k_slider(OVER)
    assert label == "mini-clusters" and "2 for each of the k = 10 clusters" in help_text
    assert graph_panel.fine_caption(PLAIN) == ""
    caption = graph_panel.fine_caption(OVER)
    assert caption.startswith("k = 10 clusters. Each member has 20 fine clusters")
    assert "merged back to 10 clusters" in caption


def test_summary_metrics_and_the_shortfall_warning():
    summary = Summary(sizes=[5, 0, 3], n_labelled=8, coverage=0.08, precision=0.875)
    metrics = graph_panel.summary_metrics(summary, 3)
    assert [(m.label, m.value) for m in metrics] == [
        ("mini-clusters", "2 of 3"),
        ("pseudo-labelled", "8"),
        ("coverage", "8.0%"),
        ("precision", "87.5%"),
    ]
    assert graph_panel.summary_metrics(Summary([1], 1, 0.5), 1)[3].value == "–"
    assert graph_panel.shortfall_warning(summary, 3, PLAIN).startswith(
        "Only 2 non-empty mini-clusters of 3 wanted: lower"
    )
    over = graph_panel.shortfall_warning(summary, 3, OVER)
    assert "of 3 mini-clusters wanted (one per fine cluster" in over and "k=" not in over
    assert graph_panel.shortfall_warning(Summary([1, 2], 3, 0.3), 2, PLAIN) == ""


def test_same_thresholds_rounds_the_gate_as_the_slider():
    applied = Thresholds(4, 3, 10, 0.3)
    assert graph_panel.same_thresholds(applied, (4, 3, 10, 0.30000001))
    assert not graph_panel.same_thresholds(applied, (4, 3, 9, 0.3))


def test_pending_caption_and_applied_message():
    assert graph_panel.pending_caption([]) == ""
    text = graph_panel.pending_caption([{"op": "reject", "cluster": 2}])
    assert text.startswith("1 edit(s) for the next iteration: reject mini-cluster 2.")
    message = graph_panel.applied_message(Thresholds(4, 3, 20, 0.5))
    assert message == "Next iterations use t_pos=4, t_neg=3, 20 mini-clusters, gate 0.50."


def test_mini_clusters_download_keeps_the_setting():
    class View:
        class result:  # noqa: N801 (stands in for a GetClustersResult)
            clusters = [np.array([0, 2]), np.array([5])]
            t_pos, t_neg = 4, 3

    data = json.loads(graph_panel.mini_clusters_download(View, (4, 3, 2, 0.25), 10, 1))
    assert data["mini_clusters"] == [[0, 2], [5]]
    assert data["params"] == {
        "t_pos": 4,
        "t_neg": 3,
        "n_mini_clusters": 2,
        "n_clusters": 10,
        "min_confidence": 0.25,
        "iteration": 1,
    }
    assert graph_panel.frames_name(View, 1) == "algorithm1-it1-tpos4-tneg3"
