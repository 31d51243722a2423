"""Teaching views without Streamlit: Algorithm 1's pseudocode, why a node is where it is."""

from __future__ import annotations

import numpy as np
import pytest

from kingdra.graph import get_clusters
from kingdra.ui.graph_view import cluster_membership
from kingdra.ui.pseudocode import (
    BUILD_LINES,
    PICK_LINES,
    algorithm1_lines,
    pseudocode_html,
)
from kingdra.ui.why_view import explain_node, neighbours


def _result(k=6, t_pos=3, t_neg=3, seed=0):
    rng = np.random.default_rng(seed)
    return get_clusters(rng.integers(0, 3, (60, 4)), k, t_pos, t_neg)


def test_pseudocode_lights_the_build_then_each_pick():
    with pytest.warns(UserWarning, match="mini-clusters"):
        r = _result()
    start = algorithm1_lines(r, 0)
    assert start.active == BUILD_LINES
    assert "k=6, t_pos=3, t_neg=3" in start.lines[0]
    assert start.notes[1] == "60 nodes"
    for s, step in enumerate(r.steps, start=1):
        code = algorithm1_lines(r, s)
        assert set(PICK_LINES) <= set(code.active) and not set(BUILD_LINES) & set(code.active)
        assert f"i = {s}" in code.notes[5]
        assert f"x_{s} = sample {step.anchor}, {step.degree} strong" in code.notes[7]
        assert f"|C_{s}| = {len(step.members)}" in code.notes[8]
        assert f"{step.remaining} left" in code.notes[10]
    last = algorithm1_lines(r, len(r.steps))
    assert len(r.steps) < 6 and "break (no nodes left)" in last.notes[6]
    assert "next:" not in "".join(algorithm1_lines(r, 1).notes)
    with pytest.raises(ValueError, match="step"):
        algorithm1_lines(r, len(r.steps) + 1)


def test_pseudocode_names_the_confidence_gate_only_when_on():
    r = _result(k=1)
    assert "confidence" not in algorithm1_lines(r, 1).lines[7]
    assert "confidence ≥ 0.90 in every member" in algorithm1_lines(r, 1, 0.9).lines[7]


def test_pseudocode_html_escapes_and_marks_active_lines():
    r = _result(k=1)
    code = algorithm1_lines(r, 1)
    page = pseudocode_html(code)
    assert page.count('class="active"') == len(code.active)
    assert 'data-line="8"' in page and "x_1 = sample" in page
    assert "&lt;" not in page and "≥ t_pos" in page  # unicode kept, nothing to escape here
    assert "<script" not in pseudocode_html(code.__class__(("<script>",), ("",), (1,)))


# ---- why points group


def _votes(n=200, m=5, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    flips = [(rng.random(n) < noise) * rng.integers(1, 3, n) for _ in range(m)]
    return np.stack([(y + f) % 3 for f in flips], 1), y


def test_why_the_anchor_a_member_and_a_removed_node():
    labels, y = _votes()
    r = get_clusters(labels, 3, 4, 3)
    membership = cluster_membership(r.clusters, len(labels))
    first = r.steps[0]
    anchor = explain_node(r, labels, first.anchor, membership=membership, y=y)
    assert anchor.sentences[0].startswith(
        f"Step 1 picked it as the anchor: {first.degree} strong positive edges"
    )
    assert anchor.sentences[-1] == "Pseudo-label: mini-cluster 0."
    assert anchor.n_positive == r.initial_degree[first.anchor]  # the whole graph
    member = int(first.members[1])
    story = explain_node(r, labels, member).sentences
    agree = int((labels[member] == labels[first.anchor]).sum())
    assert f"anchor sample {first.anchor} took it into mini-cluster 0" in story[0]
    assert f"({agree} of 5 members agree" in story[0] and "left the graph" in story[0]
    step, gone = next(
        (j, int(i))
        for j, s in enumerate(r.steps)
        for i in s.removed
        if membership[i] < 0 and i not in s.members
    )
    disagree = 5 - int((labels[gone] == labels[r.steps[step].anchor]).sum())
    story = explain_node(r, labels, gone).sentences
    assert story[0].startswith(f"Step {step + 1}: removed with anchor sample")
    assert f"{disagree} member" in story[0] and "fewer than t_neg = 3" in story[0]
    assert story[-1] == "No pseudo-label: it is in no mini-cluster."


def test_why_a_node_that_stays_and_one_in_two_mini_clusters():
    # t_pos + t_neg <= m: a node with both edges to the anchor joins and stays in the graph.
    labels = np.array([[0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2]])
    r = get_clusters(labels, 2, 2, 2)
    assert [(s.anchor, s.members.tolist()) for s in r.steps] == [(1, [1, 0, 2]), (0, [0])]
    twice = explain_node(r, labels, 0).sentences
    assert "a strong negative edge too, so it stayed in the graph" in twice[0]
    assert twice[1].startswith("Step 2 picked it as the anchor")
    assert twice[2].startswith("In mini-clusters 0, 1 at once") and "ambiguous" in twice[2]
    stays = explain_node(r, labels, 2).sentences
    assert stays[1].startswith("It stayed in the graph through all 2 steps")
    assert stays[2] == "Pseudo-label: mini-cluster 0."
    lonely = explain_node(r, labels, 3)
    assert lonely.sentences[-1] == "No pseudo-label: it is in no mini-cluster."
    assert (lonely.n_positive, lonely.n_negative) == (0, 3)


def test_neighbours_rank_by_agreement_ties_by_index():
    labels = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1], [1, 0, 1]])
    most, least, agreement = neighbours(labels, 0, top=2)
    assert [r["sample"] for r in most] == [2, 1] and most[0]["members agreeing"] == "3 of 3"
    assert [r["sample"] for r in least] == [3, 4]
    assert agreement.tolist() == [-1, 2, 3, 0, 1]
    with pytest.raises(ValueError, match="node"):
        explain_node(get_clusters(labels, 1, 3, 3), labels, 5)
