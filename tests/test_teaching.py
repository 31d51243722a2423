"""Teaching views without Streamlit: Algorithm 1's pseudocode beside the stepper."""

from __future__ import annotations

import numpy as np
import pytest

from kingdra.graph import get_clusters
from kingdra.ui.pseudocode import (
    BUILD_LINES,
    PICK_LINES,
    algorithm1_lines,
    pseudocode_html,
    pseudocode_text,
)


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
    text = pseudocode_text(code).splitlines()
    assert text[7].startswith("▶ 8") and text[0].startswith("  1")
