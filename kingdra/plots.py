"""Plotly figure builders for the app: pure functions of arrays, no Streamlit.

Every builder takes plain numpy arrays (or lists / dicts) and returns a
:class:`plotly.graph_objects.Figure`, so the figures can be tested, exported
(``fig.to_html``) and reused outside the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

POSITIVE_COLOR = "#2ca02c"  # strong positive edges: green, as in the blog post
NEGATIVE_COLOR = "#d62728"  # strong negative edges: red
UNASSIGNED_COLOR = "#b0b0b0"
# 21 colours at least 22 CIE76 units apart from each other and from the edge colours and the
# unassigned grey (tests/test_plots.py checks it): mini-clusters 0..20 never share a colour.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#f3c300",
    "#a1caf1",
    "#7b4173",
    "#00a087",
    "#f99379",
    "#882d17",
    "#c2b280",
    "#b3446c",
    "#a6761d",
    "#01665e",
    "#c51b7d",
    "#542788",
    "#fdb863",
)
# Past len(PALETTE) categories the colours come round again with another marker shape.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star", "hexagon")


def category_color(value: int) -> str:
    """Colour of a category; ``-1`` (unassigned) is grey."""
    if value < 0:
        return UNASSIGNED_COLOR
    return PALETTE[int(value) % len(PALETTE)]


def category_symbol(value: int) -> str:
    """Marker shape of a category: a new shape each time the palette comes round again."""
    if value < 0:
        return SYMBOLS[0]
    return SYMBOLS[(int(value) // len(PALETTE)) % len(SYMBOLS)]


def limit_pairs(pairs: np.ndarray, max_pairs: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Keep at most ``max_pairs`` rows of ``pairs`` (uniform sample, seeded).

    Returns
    -------
    kept : ndarray (e', 2)
    total : int
        The number of pairs before sampling.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    total = len(pairs)
    if max_pairs < 0:
        raise ValueError(f"max_pairs must be >= 0, got {max_pairs}")
    if total <= max_pairs:
        return pairs, total
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(total, size=max_pairs, replace=False))
    return pairs[keep], total


def _edge_trace(
    xy: np.ndarray, pairs: np.ndarray, color: str, name: str, width: float, opacity: float
) -> go.Scattergl:
    # One trace for all edges: segments separated by NaN, far cheaper than one trace each.
    seg = np.full((len(pairs), 3, 2), np.nan)
    if len(pairs):
        seg[:, 0] = xy[pairs[:, 0]]
        seg[:, 1] = xy[pairs[:, 1]]
    seg = seg.reshape(-1, 2)
    return go.Scattergl(
        x=seg[:, 0],
        y=seg[:, 1],
        mode="lines",
        line={"color": color, "width": width},
        opacity=opacity,
        hoverinfo="skip",
        name=name,
    )


def every_point_traces(
    xy: np.ndarray, groups: np.ndarray, group_name: str = "mini-cluster"
) -> list[go.Scattergl]:
    """Every point as small WebGL markers, one trace per group, legend-grouped by its name.

    Numbers only (float32 positions, the row as ``customdata``, a hover template instead of
    n hover strings), so 70,000 points cost a few milliseconds to build and send.
    """
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != len(xy):
        raise ValueError(f"every_group has {len(groups)} entries for {len(xy)} points")
    order = np.argsort(groups, kind="stable")
    values, starts = np.unique(groups[order], return_index=True)
    traces = []
    for g, idx in zip(values, np.split(order, starts[1:]), strict=True):
        name = "unassigned" if g < 0 else f"{group_name} {g}"
        traces.append(
            go.Scattergl(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers",
                name=name,
                legendgroup=name,
                showlegend=False,
                customdata=idx.astype(np.int32),
                hovertemplate=f"sample %{{customdata}}<br>{name}<extra></extra>",
                marker={
                    "color": category_color(g),
                    "symbol": category_symbol(g),
                    "size": 3,
                    "opacity": 0.35,
                    "line": {"width": 0},
                },
            )
        )
    return traces


def graph_figure(
    xy: np.ndarray,
    pos_pairs: np.ndarray,
    neg_pairs: np.ndarray,
    node_groups: np.ndarray,
    *,
    node_ids: np.ndarray | None = None,
    hover_text: Sequence[str] | None = None,
    group_name: str = "mini-cluster",
    max_pos_edges: int = 2_000,
    max_neg_edges: int = 1_000,
    faded: np.ndarray | None = None,
    anchor: int | None = None,
    removing: np.ndarray | None = None,
    title: str | None = None,
    seed: int = 0,
    height: int = 620,
    n_total: int | None = None,
    every_xy: np.ndarray | None = None,
    every_group: np.ndarray | None = None,
) -> go.Figure:
    """Strong-edge graph of a node sample, optionally over every point of the data.

    Parameters
    ----------
    xy : ndarray (s, 2)
        Node positions.
    pos_pairs, neg_pairs : ndarray (e, 2)
        Strong positive / negative edges as indices into ``xy`` (local indices).
    node_groups : ndarray (s,)
        Category per node (mini-cluster or true class); ``-1`` is drawn grey.
    node_ids : ndarray (s,), optional
        Global sample index of each node, stored as ``customdata`` for selection.
    hover_text : list of str, optional
        Hover text per node (votes of the members, true label...).
    max_pos_edges, max_neg_edges : int
        Edges drawn at most; the title says how many were sampled out of how many.
    faded : bool ndarray (s,), optional
        Nodes drawn faded (already removed from the graph by Algorithm 1).
    anchor : int, optional
        Local index of the anchor node, drawn large and circled.
    removing : bool ndarray (s,), optional
        Nodes removed at the current step, drawn as crosses.
    n_total : int, optional
        Nodes in the whole graph, when the figure shows a sample: the title then says
        "s of n nodes drawn", and edge counts are labelled as counted among the drawn nodes.
    every_xy, every_group : ndarray (n, 2) and (n,), optional
        Every point of the data (global index = row), drawn small underneath the sample in
        WebGL, one trace per group that the legend shows and hides with the sample's; their
        ``customdata`` is the row, so a box or lasso selects among all n points.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    s = len(xy)
    node_groups = np.asarray(node_groups).reshape(-1)
    if len(node_groups) != s:
        raise ValueError(f"node_groups has {len(node_groups)} entries for {s} nodes")
    ids = np.arange(s) if node_ids is None else np.asarray(node_ids).reshape(-1)
    text = list(hover_text) if hover_text is not None else [f"node {i}" for i in ids]
    faded = np.zeros(s, bool) if faded is None else np.asarray(faded, bool)
    removing = np.zeros(s, bool) if removing is None else np.asarray(removing, bool)

    pos_kept, pos_total = limit_pairs(pos_pairs, max_pos_edges, seed)
    neg_kept, neg_total = limit_pairs(neg_pairs, max_neg_edges, seed + 1)
    fig = go.Figure()
    sampled = n_total is not None and n_total > s
    among = " among drawn nodes" if sampled else ""
    if every_xy is not None:
        for trace in every_point_traces(every_xy, every_group, group_name):
            fig.add_trace(trace)
    fig.add_trace(
        _edge_trace(
            xy, neg_kept, NEGATIVE_COLOR, f"negative edges{among} ({neg_total:,})", 0.5, 0.25
        )
    )
    fig.add_trace(
        _edge_trace(
            xy, pos_kept, POSITIVE_COLOR, f"positive edges{among} ({pos_total:,})", 0.6, 0.35
        )
    )
    if anchor is not None and len(pos_pairs):
        pos_all = np.asarray(pos_pairs, dtype=np.int64).reshape(-1, 2)
        mine = pos_all[(pos_all[:, 0] == anchor) | (pos_all[:, 1] == anchor)]
        mine, _ = limit_pairs(mine, max_pos_edges, seed)
        fig.add_trace(
            _edge_trace(xy, mine, "#146b14", f"anchor's positive edges ({len(mine):,})", 1.2, 0.8)
        )

    def add_nodes(mask: np.ndarray, name: str, color: str, **marker) -> None:
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return
        fig.add_trace(
            go.Scattergl(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers",
                name=name,
                legendgroup=name,
                customdata=ids[idx],
                text=[text[i] for i in idx],
                hovertemplate="%{text}<extra></extra>",
                marker={"color": color, "size": 7, "line": {"width": 0}, **marker},
            )
        )

    # Nodes Algorithm 1 already took out: picked ones keep their mini-cluster colour, faded.
    gone = faded & ~removing
    add_nodes(gone & (node_groups < 0), "removed", UNASSIGNED_COLOR, opacity=0.15, size=5)
    for group in np.unique(node_groups[gone & (node_groups >= 0)]):
        mask = gone & (node_groups == group)
        add_nodes(
            mask,
            f"{group_name} {group} (picked)",
            category_color(group),
            opacity=0.35,
            symbol=category_symbol(group),
        )
    live = ~faded & ~removing
    for group in np.unique(node_groups[live]):
        label = "unassigned" if group < 0 else f"{group_name} {group}"
        add_nodes(
            live & (node_groups == group),
            label,
            category_color(group),
            symbol=category_symbol(group),
        )
    add_nodes(
        removing,
        "removed at this step",
        "#555555",
        symbol="x",
        size=6,
        opacity=0.6,
    )
    if anchor is not None:
        a = int(anchor)
        fig.add_trace(
            go.Scatter(
                x=[xy[a, 0]],
                y=[xy[a, 1]],
                mode="markers",
                name="anchor",
                customdata=[ids[a]],
                text=[text[a]],
                hovertemplate="anchor<br>%{text}<extra></extra>",
                marker={
                    "size": 22,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": "black"},
                },
            )
        )

    caption = [f"{s:,} of {n_total:,} nodes drawn" if sampled else f"{s:,} nodes drawn"]
    if every_xy is not None and sampled:
        caption = [f"all {n_total:,} points drawn; edges among {s:,} sampled nodes"]
    if pos_total > len(pos_kept):
        caption.append(f"{len(pos_kept):,} of {pos_total:,} positive edges drawn")
    if neg_total > len(neg_kept):
        caption.append(f"{len(neg_kept):,} of {neg_total:,} negative edges drawn")
    fig.update_layout(
        title=(f"{title}<br><sup>" if title else "<sup>") + " · ".join(caption) + "</sup>",
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        legend={"itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        dragmode="lasso",
        plot_bgcolor="white",
    )
    return fig


def sweep_heatmaps(sweep: Mapping[str, np.ndarray]) -> go.Figure:
    """Heatmaps of precision and coverage over the (t_pos, t_neg) grid.

    ``sweep`` needs ``t_pos``, ``t_neg`` (1-D) and ``coverage`` (grid, rows t_pos);
    ``precision`` is drawn when present (labels known).
    """
    t_pos = np.asarray(sweep["t_pos"])
    t_neg = np.asarray(sweep["t_neg"])
    panels = [k for k in ("precision", "coverage") if sweep.get(k) is not None]
    if not panels:
        raise ValueError("sweep has neither 'precision' nor 'coverage'")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels, horizontal_spacing=0.12)
    for col, key in enumerate(panels, start=1):
        z = np.asarray(sweep[key], dtype=float)
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=[str(v) for v in t_neg],
                y=[str(v) for v in t_pos],
                colorscale="Viridis",
                zmin=0.0,
                zmax=1.0,
                text=np.round(z, 2),
                texttemplate="%{text}",
                hovertemplate=f"t_pos %{{y}}, t_neg %{{x}}: {key} %{{z:.3f}}<extra></extra>",
                showscale=col == len(panels),
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="t_neg", row=1, col=col, type="category")
        fig.update_yaxes(title_text="t_pos", row=1, col=col, type="category")
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def loss_curves_figure(points: Sequence[Mapping[str, float]]) -> go.Figure:
    """Live loss curves: one line per loss part against the step count.

    ``points`` is a list of dicts of loss parts (e.g. ``{"total": 1.2, "im": 0.3}``).
    """
    fig = go.Figure()
    keys: list[str] = []
    for p in points:
        keys.extend(k for k in p if k not in keys)
    main = "total" if "total" in keys else (keys[0] if keys else None)
    for key in keys:
        ys = [p.get(key, np.nan) for p in points]
        # Parts have very different scales: show the total, the rest one legend click away.
        visible = True if key == main else "legendonly"
        fig.add_trace(go.Scatter(y=ys, mode="lines", name=key, visible=visible))
    fig.update_layout(
        height=300,
        xaxis_title="batch (thinned)",
        yaxis_title="loss",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


def history_figure(history: Sequence[Mapping[str, object]]) -> go.Figure:
    """ACC, pseudo-label precision and number of pseudo-labels per iteration (paper Fig. 2)."""
    it = [h.get("iteration", i) for i, h in enumerate(history)]

    def col(*names: str) -> list[float]:
        out = []
        for h in history:
            val = next((h[n] for n in names if h.get(n) is not None), None)
            out.append(np.nan if val is None else float(val))
        return out

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("clustering ACC", "pseudo-label precision", "pseudo-labels"),
    )
    fig.add_trace(go.Scatter(x=it, y=col("acc"), mode="lines+markers", name="ACC"), 1, 1)
    fig.add_trace(
        go.Scatter(
            x=it, y=col("precision", "pseudo_precision"), mode="lines+markers", name="precision"
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            x=it, y=col("n_labelled", "n_pseudo"), mode="lines+markers", name="pseudo-labels"
        ),
        1,
        3,
    )
    for c in (1, 2, 3):
        fig.update_xaxes(title_text="iteration", row=1, col=c, dtick=1)
    for c in (1, 2):
        fig.update_yaxes(range=[0, 1.02], row=1, col=c)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)
    fig.update_layout(height=330, showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def member_accuracy_figure(accuracies: Sequence[float]) -> go.Figure:
    """Bar chart of each member's clustering accuracy."""
    acc = np.asarray(accuracies, dtype=float)
    fig = go.Figure(
        go.Bar(
            x=[f"member {i}" for i in range(len(acc))],
            y=acc,
            text=[f"{a:.3f}" for a in acc],
            textposition="outside",
        )
    )
    fig.update_layout(
        height=300, yaxis={"range": [0, 1.08], "title": "ACC"}, margin={"t": 30, "b": 10}
    )
    return fig


def agreement_heatmap(matrix: np.ndarray, title: str = "agreement between members") -> go.Figure:
    """Square heatmap of a member-by-member agreement matrix (e.g. ARI)."""
    z = np.asarray(matrix, dtype=float)
    if z.ndim != 2 or z.shape[0] != z.shape[1]:
        raise ValueError(f"agreement matrix must be square, got shape {z.shape}")
    names = [str(i) for i in range(len(z))]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            colorscale="Blues",
            zmin=min(0.0, float(np.nanmin(z))) if z.size else 0.0,
            zmax=1.0,
            text=np.round(z, 2),
            texttemplate="%{text}",
        )
    )
    fig.update_layout(
        title=title,
        height=380,
        xaxis_title="member",
        yaxis_title="member",
        yaxis_autorange="reversed",
        margin={"t": 40, "b": 10},
    )
    return fig


def confusion_figure(
    matrix: np.ndarray, true_names: Sequence[str], pred_names: Sequence[str]
) -> go.Figure:
    """Confusion matrix heatmap (rows: true class, columns: cluster)."""
    z = np.asarray(matrix)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(p) for p in pred_names],
            y=[str(t) for t in true_names],
            colorscale="Blues",
            text=z,
            texttemplate="%{text}",
            hovertemplate="true %{y}, cluster %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        height=420,
        xaxis={"title": "cluster", "type": "category"},
        yaxis={"title": "true class", "type": "category", "autorange": "reversed"},
        margin={"t": 30, "b": 10},
    )
    return fig


def embedding_figure(
    xy: np.ndarray,
    groups: np.ndarray,
    *,
    hover_text: Sequence[str] | None = None,
    group_name: str = "cluster",
    wrong: np.ndarray | None = None,
    height: int = 560,
) -> go.Figure:
    """2-D scatter of an embedding coloured by group; ``customdata`` holds the sample index.

    Points in ``wrong`` (labels known) get a red outline.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != len(xy):
        raise ValueError(f"groups has {len(groups)} entries for {len(xy)} points")
    text = list(hover_text) if hover_text is not None else [f"sample {i}" for i in range(len(xy))]
    wrong = np.zeros(len(xy), bool) if wrong is None else np.asarray(wrong, bool)
    fig = go.Figure()
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        fig.add_trace(
            go.Scattergl(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers",
                name="unassigned" if g < 0 else f"{group_name} {g}",
                customdata=idx,
                text=[text[i] for i in idx],
                hovertemplate="%{text}<extra></extra>",
                marker={
                    "color": category_color(g),
                    "size": 5,
                    "line": {
                        "width": np.where(wrong[idx], 1.5, 0).tolist(),
                        "color": NEGATIVE_COLOR,
                    },
                },
            )
        )
    fig.update_layout(
        height=height,
        dragmode="lasso",
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def sizes_figure(sizes: Sequence[int], name: str = "mini-cluster") -> go.Figure:
    """Bar chart of cluster sizes."""
    sizes = list(sizes)
    fig = go.Figure(
        go.Bar(
            x=[f"{name} {i}" for i in range(len(sizes))],
            y=sizes,
            marker_color=[category_color(i) for i in range(len(sizes))],
        )
    )
    fig.update_layout(height=260, yaxis_title="size", margin={"t": 20, "b": 10})
    return fig


def merge_figure(affinity: np.ndarray, used: Sequence[int], groups: Sequence[int]) -> go.Figure:
    """Heatmap of the k-NN affinity between fine clusters, ordered by the cluster they joined.

    Fine clusters merged into one final cluster sit next to each other, so a bright block
    along the diagonal is a final cluster whose pieces share many neighbours.
    """
    used, groups = np.asarray(used), np.asarray(groups)
    order = np.lexsort((used, groups))
    names = [f"{used[i]}→{groups[i]}" for i in order]
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(affinity)[np.ix_(order, order)],
            x=names,
            y=names,
            colorscale="Viridis",
            colorbar={"title": "k-NN edges / sqrt(sizes)"},
            hovertemplate="fine %{y} · fine %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="fine cluster → final cluster: k-NN affinity",
        xaxis={"type": "category", "tickangle": -90},
        yaxis={"type": "category", "autorange": "reversed"},
        height=520,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
    )
    return fig


def timeline_figure(rows: Sequence[Mapping[str, object]], current: int) -> go.Figure:
    """Algorithm 2 at iteration ``current``, side by side (the paper's Fig. 2).

    Four panels: the mini-clusters the iteration trained on (their sizes), pseudo-label
    precision, pseudo-label count and ACC over all iterations, with ``current`` marked and
    the iterations after it faded. ``rows``: one dict per iteration as
    :func:`kingdra.ui.history_view.timeline_rows` gives them.
    """
    its = [int(r["iteration"]) for r in rows]
    if current not in its:
        raise ValueError(f"iteration {current} is not in the timeline {its}")
    row = rows[its.index(current)]
    fig = make_subplots(
        rows=1,
        cols=4,
        column_widths=[0.34, 0.22, 0.22, 0.22],
        subplot_titles=(
            f"mini-clusters trained on at iteration {current}",
            "pseudo-label precision",
            "pseudo-labels",
            "clustering ACC",
        ),
    )
    sizes = list(row.get("mini_cluster_sizes") or [])
    fig.add_trace(
        go.Bar(
            x=[f"{i}" for i in range(len(sizes))],
            y=sizes,
            marker_color=[category_color(i) for i in range(len(sizes))],
            name="mini-cluster size",
            showlegend=False,
            hovertemplate="mini-cluster %{x}: %{y:,} points<extra></extra>",
        ),
        1,
        1,
    )
    if not sizes:
        text = "base ensemble: no pseudo-labels yet" if current == 0 else "no mini-clusters"
        fig.add_annotation(
            text=text, showarrow=False, xref="x domain", yref="y domain", x=0.5, y=0.5
        )
    fig.update_xaxes(title_text="mini-cluster", row=1, col=1)
    fig.update_yaxes(title_text="points", rangemode="tozero", row=1, col=1)
    series = (
        ("pseudo_precision", 2, POSITIVE_COLOR),
        ("n_pseudo_labelled", 3, PALETTE[0]),
        ("acc", 4, PALETTE[1]),
    )
    for name, col, color in series:
        ys = [np.nan if r.get(name) is None else float(r[name]) for r in rows]
        past = [y if it <= current else np.nan for it, y in zip(its, ys, strict=True)]
        fig.add_trace(  # the whole run, faded: where the scrubber is going
            go.Scatter(
                x=its, y=ys, mode="lines+markers", line={"color": "#cccccc"}, showlegend=False
            ),
            1,
            col,
        )
        fig.add_trace(
            go.Scatter(
                x=its,
                y=past,
                mode="lines+markers",
                line={"color": color},
                name=name,
                showlegend=False,
            ),
            1,
            col,
        )
        now = ys[its.index(current)]
        fig.add_trace(
            go.Scatter(
                x=[current],
                y=[now],
                mode="markers",
                marker={"size": 14, "symbol": "circle-open", "color": color, "line": {"width": 3}},
                name=f"{name} now",
                showlegend=False,
            ),
            1,
            col,
        )
        fig.update_xaxes(title_text="iteration", dtick=1, row=1, col=col)
        fig.add_vline(x=current, line_dash="dot", line_color="#888888", row=1, col=col)
    for col in (2, 4):
        fig.update_yaxes(range=[0, 1.02], row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        title={"text": f"Algorithm 2, iteration {current} of {max(its)}", "x": 0},
    )
    return fig
