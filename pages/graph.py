"""Graph: thresholds -> mini-clusters at once, the strong-edge graph, Algorithm 1 step by step."""

import numpy as np
import pandas as pd
import streamlit as st

from kingdra.config import Thresholds
from kingdra.curation import describe
from kingdra.plots import sizes_figure, sweep_heatmaps
from kingdra.ui import graph_panel
from kingdra.ui.clusters_view import image_grid
from kingdra.ui.curation_view import selection_holders
from kingdra.ui.frames import frame_steps, frames_gif, frames_zip
from kingdra.ui.graph_view import (
    MAX_SAMPLE,
    chart_selection,
    node_caption,
    node_votes,
    size_table,
    step_figure,
)
from kingdra.ui.overclustering import FineClusters
from kingdra.ui.pseudocode import algorithm1_lines, pseudocode_html
from kingdra.ui.snapshot_graph import LAYOUT_HELP, LAYOUTS, SnapshotGraph, spring_limit
from kingdra.ui.why_view import explain_node
from kingdra.ui.widgets import get_session, need_training, preview_note

session = get_session()
st.title("Agreement graph and mini-clusters")
snapshots = session.views()  # the finished steps, or the base phase's preview while it trains
if not snapshots and need_training(session, "the graph"):
    st.stop()

ds = session.dataset
choice = st.selectbox(
    "Predictions of",
    range(len(snapshots)),
    index=len(snapshots) - 1,
    format_func=lambda i: snapshots[i].title,
    key="graph_snapshot",
)
snap = snapshots[choice]
if snap.is_preview:
    preview_note(session, snap, "graph_preview_newer")
n, m = snap.member_labels.shape
# With over-clustering Algorithm 1 wants one mini-cluster per fine cluster: said as such,
# so the user's k (n_clusters) is the only k on the page.
fine = FineClusters.of(session.config)
graph = SnapshotGraph(session, snap, fine.n_fine)
defaults = session.current_thresholds()


def controls():
    """The threshold sliders and the drawing options."""
    c = st.columns(4)
    t_pos = c[0].slider("t_pos (members agreeing)", 1, m, defaults.t_pos, key="graph_t_pos")
    t_neg = c[1].slider("t_neg (members disagreeing)", 1, m, defaults.t_neg, key="graph_t_neg")
    label, k_help = graph_panel.k_slider(fine)
    k = c[2].slider(label, 1, fine.n_fine, defaults.k, key="graph_k", help=k_help)
    gate = c[3].slider(
        "confidence gate",
        0.0,
        0.99,
        defaults.min_confidence,
        0.01,
        key="graph_min_conf",
        help="An anchor must have max-probability above this in every member.",
    )
    if fine:
        st.caption(graph_panel.fine_caption(fine))
    c = st.columns([2, 1, 1])
    sample_size = n
    if n > 200:
        sample_size = c[0].slider(
            "nodes with edges",
            200,
            min(MAX_SAMPLE, n),
            min(800, n),
            100,
            key="graph_sample",
            help=f"All {n:,} points are drawn; the strong edges are drawn and counted among a "
            "sample of this many, Algorithm 1's anchors always in it.",
        )
    else:  # small data: every node is drawn, there is nothing to choose
        c[0].caption(f"All {n:,} nodes drawn.")
    colours = ("mini-cluster", "true class") if ds.y is not None else ("mini-cluster",)
    color_by = c[1].radio("colour by", colours, key="graph_color")
    layout = c[2].radio("layout", LAYOUTS, key="graph_layout", help=LAYOUT_HELP)
    return Thresholds(t_pos, t_neg, k, gate), sample_size, color_by, layout


def summary_metrics(view, k: int) -> None:
    for col, metric in zip(
        st.columns(4), graph_panel.summary_metrics(view.summary, k), strict=True
    ):
        col.metric(metric.label, metric.value, help=metric.help)
    warning = graph_panel.shortfall_warning(view.summary, k, fine)
    if warning:
        st.warning(warning)


def show_selection(event, view, thresholds) -> None:
    ids = chart_selection(event)
    if not ids:
        st.caption("Click a node (or lasso a few) to see the sample and its votes here.")
        return
    st.markdown(f"**{len(ids):,} selected**")
    st.download_button(
        "Selection (CSV)",
        graph_panel.selection_csv(ids, snap, view, ds),
        file_name=f"graph-selection-it{snap.iteration}.csv",
        mime="text/csv",
        on_click="ignore",
        key="graph_export_selection",
    )
    curate_selection(ids, view, thresholds)
    if ds.images is not None:
        st.image(image_grid(ds.images[ids[:30]], n_cols=5, cell=48))
    elif ds.texts is not None:
        for i in ids[:5]:
            st.text(ds.texts[i][:300])
    st.caption(node_caption(ids[0], view.membership, ds.y, ds.class_names))
    votes = pd.DataFrame(node_votes(snap.member_labels, snap.confidence, ids[0]))
    st.dataframe(votes, hide_index=True, height=min(38 * (m + 1), 400))
    why_here(view, ids[0])


def curate_selection(ids: list[int], view, thresholds) -> None:
    """The selection as an edit of the next iteration's mini-clusters (as on Clusters)."""
    applied = session.current_thresholds()
    if snap.is_preview:
        st.caption(
            "Selections become edits of the mini-clusters once the base ensemble is trained."
        )
        return
    if choice != len(snapshots) - 1 or not graph_panel.same_thresholds(applied, thresholds):
        st.caption(
            "To make the selection a pseudo-label group or drop it from one: show the latest "
            "predictions and click **Use these thresholds for training** (edits apply to the "
            "mini-clusters the next iteration trains on)."
        )
        return
    base = [np.asarray(c, dtype=np.int64) for c in view.result.clusters]
    edited = session.edited_clusters(base)
    done = st.session_state.pop("graph_cur_done", None)
    if done:
        st.success(done)

    def edit(change: dict) -> None:
        try:
            session.add_edit(base, change)
        except ValueError as err:
            st.error(str(err))
        else:  # rerun, so the choices below count the edited set
            st.session_state["graph_cur_done"] = f"For the next iteration: {describe(change)}."
            st.rerun()

    if st.button("Make them a new mini-cluster", key="graph_cur_add", width="stretch"):
        edit({"op": "add", "rows": ids})
    holders = dict(selection_holders(ids, edited))
    if holders:
        held = st.selectbox(
            "or drop them from",
            list(holders),
            format_func=lambda i: f"mini-cluster {i} ({len(holders[i]):,} of them)",
            key="graph_cur_from",
        )
        if st.button("Drop them from it", key="graph_cur_drop", width="stretch"):
            edit({"op": "drop", "cluster": held, "rows": holders[held].tolist()})
    pending = graph_panel.pending_caption(session.pending_edits())
    if pending:
        st.caption(pending)


def why_here(view, i: int) -> None:
    """The reason from Algorithm 1's trace, and the node's strongest neighbours."""
    reason = explain_node(
        view.result,
        snap.member_labels,
        i,
        membership=view.membership,
        y=ds.y,
        class_names=ds.class_names,
    )
    with st.container(key="graph_why"):
        st.markdown(f"**Why sample {i} is where it is**")
        st.markdown("\n".join(f"- {s}" for s in reason.sentences))
        st.caption(
            f"{reason.n_positive:,} strong positive and {reason.n_negative:,} strong negative "
            f"edges among all {n:,} nodes."
        )
        st.markdown("Agrees most with")
        st.dataframe(pd.DataFrame(reason.agreeing), hide_index=True)
        st.markdown("Disagrees most with")
        st.dataframe(pd.DataFrame(reason.disagreeing), hide_index=True)


def exports(view, thresholds) -> None:
    b = st.columns(3)
    # A callback, so the selection panel drawn above already knows them in this run.
    if b[0].button(
        "Use these thresholds for training",
        key="graph_apply",
        on_click=session.set_thresholds,
        args=tuple(thresholds),
    ):
        st.success(graph_panel.applied_message(thresholds))
    b[1].download_button(
        "Mini-clusters (JSON)",
        graph_panel.mini_clusters_download(
            view, thresholds, session.config.n_clusters, snap.iteration
        ),
        file_name=f"mini-clusters-it{snap.iteration}.json",
        mime="application/json",
        on_click="ignore",
        key="graph_export_json",
    )
    b[2].download_button(
        "Graph (HTML)",
        lambda: view.figure.to_html(include_plotlyjs="cdn"),  # built on click: MBs at 70k
        file_name=f"graph-it{snap.iteration}.html",
        mime="text/html",
        on_click="ignore",
        key="graph_export_html",
    )
    st.caption(
        "PNG of any chart: the camera icon in its toolbar (drawn in the browser; server-side "
        "PNG export would need kaleido and Chrome, which are not dependencies)."
    )


def move_step(delta: int, n_steps: int) -> None:
    """The step buttons move the stepper's slider (before it is drawn again)."""
    step = st.session_state.get("graph_step", 0) + delta
    st.session_state["graph_step"] = min(max(step, 0), n_steps)


def stepper(view, gate: float) -> None:
    st.subheader("Algorithm 1, step by step")
    st.caption(
        "Each step picks the remaining node with the most strong positive edges (circled); it "
        "and its positive neighbours become a mini-cluster; nodes without a strong negative edge "
        "to it leave the graph (crosses, then faded). The anchors are always in the sample."
    )
    n_steps = len(view.result.steps)
    if st.session_state.get("graph_step", 0) > max(n_steps, 1):  # new thresholds, fewer steps
        st.session_state["graph_step"] = n_steps
    step = st.slider("step", 0, max(n_steps, 1), key="graph_step", disabled=n_steps == 0)
    step = min(step, n_steps)
    fig, text = step_figure(view, None, step)
    st.info(text)
    chart, code = st.columns([3, 2])
    chart.plotly_chart(fig, key="graph_step_chart")
    with code:
        b = st.columns(2)
        b[0].button(
            "◀ step back",
            key="graph_step_back",
            on_click=move_step,
            args=(-1, n_steps),
            disabled=step == 0,
            width="stretch",
        )
        b[1].button(
            "step forward ▶",
            key="graph_step_forward",
            on_click=move_step,
            args=(1, n_steps),
            disabled=step >= n_steps,
            width="stretch",
        )
        st.html(pseudocode_html(algorithm1_lines(view.result, step, gate, fine=fine.note)))
        slides(view, gate)


def slides(view, gate: float) -> None:
    """Every step of the stepper as images for slides; drawn only when a button is clicked."""
    name = graph_panel.frames_name(view, snap.iteration)
    count = len(frame_steps(view))
    st.caption(f"For slides: the {count} frames above (graph, pseudocode and the step's text).")
    b = st.columns(2)
    b[0].download_button(
        "Frames (PNG, zip)",
        lambda: frames_zip(view, gate),
        file_name=f"{name}.zip",
        mime="application/zip",
        on_click="ignore",
        key="graph_frames_zip",
        width="stretch",
    )
    b[1].download_button(
        "Frames (GIF)",
        lambda: frames_gif(view, gate),
        file_name=f"{name}.gif",
        mime="image/gif",
        on_click="ignore",
        key="graph_frames_gif",
        width="stretch",
    )


def sweep(k: int, gate: float) -> None:
    st.subheader("Threshold sweep")
    st.caption(
        "Precision and coverage of the pseudo-labels for every (t_pos, t_neg) with this k and "
        "gate: high precision with enough coverage is what the iterations need."
    )
    if graph.has_sweep(k, gate) or st.button("Compute sweep", key="graph_sweep"):
        with st.spinner("Running Algorithm 1 over the grid…"):
            grid = graph.sweep(k, gate, ds.y)
        st.plotly_chart(sweep_heatmaps(grid), key="graph_sweep_chart")


@st.fragment
def panel() -> None:
    thresholds, sample_size, color_by, layout = controls()
    _, too_many = spring_limit(layout, sample_size)
    if too_many:
        st.info(too_many)
    if layout == "UMAP" and not graph.has_positions(layout):
        with st.spinner("UMAP of the ensemble probabilities (once per iteration)…"):
            graph.positions(layout)
    view = graph.view(
        thresholds,
        sample_size=sample_size,
        layout_name=layout,
        color_by=color_by,
        y=ds.y,
        class_names=ds.class_names,
    )
    k, gate = thresholds.k, thresholds.min_confidence
    summary_metrics(view, k)
    left, right = st.columns([3, 1])
    with left:
        event = st.plotly_chart(
            view.figure,
            key="graph_chart",
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
            width="stretch",
        )
    with right:
        show_selection(event, view, thresholds)
    with st.expander("Mini-cluster sizes and purity"):
        st.plotly_chart(sizes_figure(view.summary.sizes), key="graph_sizes")
        st.dataframe(pd.DataFrame(size_table(view.summary, ds.class_names)), height=250)
    exports(view, thresholds)
    stepper(view, gate)
    sweep(k, gate)


panel()
