"""Algorithm 1 (GetClusters) as pseudocode beside the stepper, the current step's lines lit.

:func:`algorithm1_lines` says which lines a stepper position executes and fills the comments
with that step's values (anchor, degree, sizes); :func:`pseudocode_html` draws them as a code
block. Plain Python, no Streamlit. The lines follow the paper's Algorithm 1 and
``kingdra.graph.get_clusters`` (which runs it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

# Line numbers (1-based, as drawn) that each kind of stepper position executes.
BUILD_LINES = (2, 3, 4, 5)  # step 0: the graph before any pick
PICK_LINES = (8, 9, 10, 11)  # step s >= 1: the s-th pass of the loop body
LOOP_LINE = 6
STOP_LINE = 7
RETURN_LINE = 12


@dataclass(frozen=True)
class Pseudocode:
    """The lines of Algorithm 1 for one stepper position.

    ``lines``: the code, one string per line; ``notes``: a comment per line with this
    step's values ("" for none); ``active``: 1-based numbers of the lines this position runs.
    """

    lines: tuple[str, ...]
    notes: tuple[str, ...]
    active: tuple[int, ...]


def algorithm1_lines(result, step: int, min_confidence: float = 0.0, fine: str = "") -> Pseudocode:
    """Pseudocode of Algorithm 1 with the lines of stepper position ``step`` active.

    Parameters
    ----------
    result : kingdra.graph.GetClustersResult
        The trace the stepper replays (``steps``, ``t_pos``, ``t_neg``, ``k``).
    step : int
        0 (the graph, nothing picked) to ``len(result.steps)`` (after the last pick), as the
        stepper's slider.
    min_confidence : float
        The confidence gate; above 0 the anchor line says only confident nodes may anchor.
    fine : str
        With over-clustering, why Algorithm 1 wants more mini-clusters than the user's k
        (:func:`kingdra.merge.fine_note`): the count is then named ``n_fine``, not
        ``k``, and line 1 says so.

    Examples
    --------
    >>> import numpy as np
    >>> from kingdra.graph import get_clusters
    >>> r = get_clusters(np.array([[0, 1], [0, 1], [1, 0]]), k=2, t_pos=2, t_neg=2)
    >>> algorithm1_lines(r, 1).active
    (6, 8, 9, 10, 11)
    """
    steps = list(result.steps)
    if not 0 <= step <= len(steps):
        raise ValueError(f"step must be in 0..{len(steps)}, got {step}")
    gate = f", confidence ≥ {min_confidence:.2f} in every member," if min_confidence else ""
    count = "n_fine" if fine else "k"
    lines = (
        f"procedure GetClusters(L, {count}={result.k}, t_pos={result.t_pos}, t_neg={result.t_neg})",
        "  G ← a node per point x",
        "  for x ≠ x' with agreement(x, x') ≥ t_pos: strong positive edge",
        "  for x ≠ x' with m − agreement(x, x') ≥ t_neg: strong negative edge",
        "  mini_clusters ← {}",
        f"  for i = 1 … {count} do",
        "    if no node of G can anchor then break",
        f"    x_i ← the node of G{gate} with the most strong positive edges",
        "    C_i ← {x_i} ∪ {strong positive neighbours of x_i in G}",
        "    mini_clusters ← mini_clusters ∪ {C_i}",
        "    remove from G x_i and every node with no strong negative edge to x_i",
        "  return mini_clusters",
    )
    notes = [""] * len(lines)
    if fine:
        notes[0] = f"{count} = {result.k} mini-clusters at most: {fine}"
    if step == 0:
        active = BUILD_LINES
        notes[1] = f"{len(result.initial_degree):,} nodes"
        notes[2] = f"most edges at one node: {int(result.initial_degree.max(initial=0)):,}"
    else:
        s = steps[step - 1]
        active = (LOOP_LINE, *PICK_LINES)
        notes[LOOP_LINE - 1] = f"i = {step}"
        notes[7] = f"x_{step} = sample {int(s.anchor)}, {int(s.degree):,} strong positive edges"
        notes[8] = f"|C_{step}| = {len(s.members):,}"
        notes[9] = f"{step} mini-cluster{'s' if step > 1 else ''}"
        notes[10] = f"{len(s.removed):,} removed, {int(s.remaining):,} left"
        if step == len(steps):  # the last pick: say why the loop ends
            if step < result.k:
                left = int(s.remaining)
                why = f"none of {left:,} left passes the gate" if left else "no nodes left"
                notes[STOP_LINE - 1] = f"next: break ({why})"
            notes[RETURN_LINE - 1] = f"next: {step} mini-cluster{'s' if step > 1 else ''}"
    return Pseudocode(lines, tuple(notes), tuple(active))


def pseudocode_html(code: Pseudocode) -> str:
    """A code block with line numbers, the active lines highlighted and the notes as comments.

    Escaped HTML for ``st.html`` (Markdown would drop the classes); each active line carries
    ``class="active"`` so tests (and the browser) can find it.
    """
    rows = []
    for number, (line, note) in enumerate(zip(code.lines, code.notes, strict=True), start=1):
        on = number in code.active
        style = "background:#fff3b0;font-weight:600;" if on else ""
        comment = f'<span style="color:#6a737d">  ▷ {html.escape(note)}</span>' if note else ""
        rows.append(
            f'<span class="{"active" if on else "line"}" data-line="{number}" '
            f'style="display:block;{style}">'
            f'<span style="color:#999;user-select:none">{number:>2}  </span>'
            f"{html.escape(line)}{comment}</span>"
        )
    return (
        '<pre class="kingdra-pseudocode" style="font-size:0.8rem;line-height:1.45;'
        'padding:0.6rem;border-radius:0.4rem;background:#f6f8fa;white-space:pre-wrap">'
        + "".join(rows)
        + "</pre>"
    )
