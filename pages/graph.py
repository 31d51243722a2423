"""Graph: thresholds -> mini-clusters at once, the strong-edge graph, Algorithm 1 step by step."""

import numpy as np
import pandas as pd
import streamlit as st

from kingdra.plots import sizes_figure, sweep_heatmaps
from kingdra.ui.graph_view import build_graph_view, run_algorithm, step_figure
from kingdra.ui.layout import SPRING_MAX_NODES, agreement_layout, spring_layout, umap_layout
from kingdra.ui.views import image_grid, mini_clusters_json
from kingdra.ui.widgets import get_session, need_training

LAYOUTS = ("agreement", "UMAP", "force-directed")
LAYOUT_HELP = (
    "agreement: each node at the mean of its members' votes over k cluster vertices "
    "(instant); UMAP of the ensemble probabilities (computed once per iteration); "
    f"force-directed: networkx spring layout on the positive edges (samples of at most "
    f"{SPRING_MAX_NODES} nodes)."
)

session = get_session()
st.title("Agreement graph and mini-clusters")
if need_training(session, "the graph"):
    st.stop()

ds = session.dataset
snapshots = session.snapshots
choice = st.selectbox(
    "Predictions of",
    range(len(snapshots)),
    index=len(snapshots) - 1,
    format_func=lambda i: "base ensemble" if snapshots[i].iteration == 0
    else f"iteration {snapshots[i].iteration}",
    key="graph_snapshot",
)  # fmt: skip
snap = snapshots[choice]
n, m = snap.member_labels.shape
n_classes = session.config.n_outputs  # member output classes (overcluster * k)
defaults = session.current_thresholds()


def cached(key, compute):
    """Per-session cache of results that depend only on one snapshot and some parameters."""
    if key not in session.cache:
        if len(session.cache) > 48:
            session.cache.clear()
        session.cache[key] = compute()
    return session.cache[key]


def positions(method: str) -> np.ndarray:
    if method == "UMAP":
        if ("umap", snap.iteration) not in session.cache:
            with st.spinner("UMAP of the ensemble probabilities (once per iteration)…"):
                cached(("umap", snap.iteration), lambda: umap_layout(snap.probs))
        return session.cache[("umap", snap.iteration)]
    return cached(
        ("agreement", snap.iteration), lambda: agreement_layout(snap.member_labels, n_classes)
    )


def show_selection(event, view) -> None:
    points = (event.selection.points if event is not None else None) or []
    ids = sorted({int(p["customdata"]) for p in points if p.get("customdata") is not None})
    if not ids:
        st.caption("Click a node (or lasso a few) to see the sample and its votes here.")
        return
    st.markdown(f"**{len(ids)} selected**")
    if ds.images is not None:
        st.image(image_grid(ds.images[ids[:30]], n_cols=5, cell=48))
    elif ds.texts is not None:
        for i in ids[:5]:
            st.text(ds.texts[i][:300])
    i = ids[0]
    rows = {"member": list(range(m)), "vote": snap.member_labels[i].tolist(),
            "confidence": np.round(snap.confidence[i], 3).tolist()}  # fmt: skip
    true = (
        ""
        if ds.y is None
        else f", true class {ds.class_names[ds.y[i]] if ds.class_names else ds.y[i]}"
    )
    mc = int(view.membership[i])
    st.caption(f"sample {i}{true}, {'unassigned' if mc < 0 else f'mini-cluster {mc}'}")
    st.dataframe(pd.DataFrame(rows), hide_index=True, height=min(38 * (m + 1), 400))


@st.fragment
def graph_panel() -> None:
    c = st.columns(4)
    t_pos = c[0].slider("t_pos (members agreeing)", 1, m, int(defaults["t_pos"]), key="graph_t_pos")
    t_neg = c[1].slider(
        "t_neg (members disagreeing)", 1, m, int(defaults["t_neg"]), key="graph_t_neg"
    )
    k = c[2].slider("k (mini-clusters)", 1, n_classes, int(defaults["k"]), key="graph_k")
    min_conf = c[3].slider(
        "confidence gate", 0.0, 0.99, float(defaults["min_confidence"]), 0.01, key="graph_min_conf",
        help="An anchor must have max-probability above this in every member.",
    )  # fmt: skip
    c = st.columns([2, 1, 1])
    if n > 200:
        sample_size = c[0].slider(
            "nodes drawn", 200, min(3000, n), min(800, n), 100, key="graph_sample",
            help=f"of {n:,}: edges are drawn and counted among these nodes",
        )  # fmt: skip
    else:  # small data: every node is drawn, there is nothing to choose
        sample_size = n
        c[0].caption(f"All {n:,} nodes drawn.")
    color_by = c[1].radio(
        "colour by", ("mini-cluster", "true class") if ds.y is not None else ("mini-cluster",),
        key="graph_color",
    )  # fmt: skip
    layout = c[2].radio("layout", LAYOUTS, key="graph_layout", help=LAYOUT_HELP)

    params = (snap.iteration, t_pos, t_neg, k, round(min_conf, 4))
    result = cached(("result", *params), lambda: run_algorithm(
        snap.member_labels, snap.confidence, t_pos, t_neg, k, min_conf))  # fmt: skip
    if layout == "force-directed" and sample_size > SPRING_MAX_NODES:
        st.info(f"The force-directed layout draws at most {SPRING_MAX_NODES} nodes.")
        sample_size = SPRING_MAX_NODES
    xy = positions("agreement" if layout == "force-directed" else layout)
    view = build_graph_view(
        snap.member_labels, snap.confidence, xy, t_pos=t_pos, t_neg=t_neg, k=k,
        min_confidence=min_conf, sample_size=sample_size, y=ds.y, class_names=ds.class_names,
        color_by=color_by, result=result,
    )  # fmt: skip
    if layout == "force-directed":
        local = cached(("spring", *params, sample_size),
                       lambda: spring_layout(len(view.nodes), view.pos_pairs))  # fmt: skip
        xy = xy.copy()
        xy[view.nodes] = local
        view = build_graph_view(
            snap.member_labels, snap.confidence, xy, t_pos=t_pos, t_neg=t_neg, k=k,
            min_confidence=min_conf, sample_size=sample_size, y=ds.y,
            class_names=ds.class_names, color_by=color_by, result=result,
        )  # fmt: skip

    s = view.summary
    c = st.columns(4)
    c[0].metric("mini-clusters", f"{sum(x > 0 for x in s.sizes)} of {k}")
    c[1].metric("pseudo-labelled", f"{s.n_labelled:,}", help="points in exactly one mini-cluster")
    c[2].metric("coverage", f"{s.coverage:.1%}")
    c[3].metric("precision", "–" if s.precision is None else f"{s.precision:.1%}",
                help="purity of the pseudo-labels against the true classes (evaluation only)")  # fmt: skip
    if sum(x > 0 for x in s.sizes) < k:
        st.warning(
            f"Only {sum(x > 0 for x in s.sizes)} non-empty mini-clusters for k={k}: lower t_pos, "
            "t_neg or the confidence gate. Training keeps the last complete set."
        )

    left, right = st.columns([3, 1])
    with left:
        event = st.plotly_chart(
            view.figure, key="graph_chart", on_select="rerun",
            selection_mode=("points", "box", "lasso"), width="stretch",
        )  # fmt: skip
    with right:
        show_selection(event, view)

    with st.expander("Mini-cluster sizes and purity"):
        st.plotly_chart(sizes_figure(s.sizes), key="graph_sizes")
        table = {"size": s.sizes}
        if s.purity:
            table["purity"] = np.round(s.purity, 3)
            table["majority class"] = [
                (ds.class_names[v] if ds.class_names and v is not None else v) for v in s.majority
            ]
        st.dataframe(pd.DataFrame(table), height=250)

    b = st.columns(3)
    if b[0].button("Use these thresholds for training", key="graph_apply"):
        session.set_thresholds(t_pos, t_neg, k, min_conf)
        st.success(f"Next iterations use t_pos={t_pos}, t_neg={t_neg}, k={k}, gate {min_conf:.2f}.")
    b[1].download_button(
        "Mini-clusters (JSON)",
        mini_clusters_json(result.clusters, t_pos=t_pos, t_neg=t_neg, k=k, min_confidence=min_conf,
                           iteration=snap.iteration),
        file_name=f"mini-clusters-it{snap.iteration}.json", mime="application/json",
        on_click="ignore", key="graph_export_json",
    )  # fmt: skip
    b[2].download_button(
        "Graph (HTML)", view.figure.to_html(include_plotlyjs="cdn"),
        file_name=f"graph-it{snap.iteration}.html", mime="text/html", on_click="ignore",
        key="graph_export_html",
    )  # fmt: skip

    st.caption(
        "PNG of any chart: the camera icon in its toolbar (drawn in the browser; server-side "
        "PNG export would need kaleido and Chrome, which are not dependencies)."
    )

    st.subheader("Algorithm 1, step by step")
    st.caption(
        "Each step picks the remaining node with the most strong positive edges (circled); it "
        "and its positive neighbours become a mini-cluster; nodes without a strong negative edge "
        "to it leave the graph (crosses, then faded). The anchors are always in the sample."
    )
    n_steps = len(result.steps)
    step = st.slider("step", 0, max(n_steps, 1), 0, key="graph_step", disabled=n_steps == 0)
    step = min(step, n_steps)
    fig, text = step_figure(view, xy, step)
    st.info(text)
    st.plotly_chart(fig, key="graph_step_chart")

    st.subheader("Threshold sweep")
    st.caption(
        "Precision and coverage of the pseudo-labels for every (t_pos, t_neg) with this k and "
        "gate: high precision with enough coverage is what the iterations need."
    )
    key = ("sweep", snap.iteration, k, round(min_conf, 4))
    if key in session.cache or st.button("Compute sweep", key="graph_sweep"):
        from kingdra.pseudo import threshold_sweep

        with st.spinner("Running Algorithm 1 over the grid…"):
            values = list(range(1, m + 1))
            sweep = cached(key, lambda: threshold_sweep(
                snap.member_labels, k, values, values, y_true=ds.y,
                confidence=snap.confidence, min_confidence=min_conf))  # fmt: skip
        st.plotly_chart(sweep_heatmaps(sweep), key="graph_sweep_chart")


graph_panel()
