"""History: ACC, pseudo-label precision and count per iteration, members, baselines."""

import json

import pandas as pd
import streamlit as st

from kingdra.baselines import run_baselines
from kingdra.plots import (
    agreement_heatmap,
    history_figure,
    member_accuracy_figure,
    timeline_figure,
)
from kingdra.ui.history_view import (
    EDITS_COLUMN,
    agreement_matrix,
    history_table,
    member_accuracies,
    table_rows,
    timeline_metrics,
    timeline_rows,
)
from kingdra.ui.snapshot_graph import SnapshotGraph
from kingdra.ui.widgets import get_session, need_training

session = get_session()
st.title("History")
if need_training(session, "the history"):
    st.stop()

ds = session.dataset
snapshots = session.snapshots
engine = session.engine
# The run's own records, up to the page's latest snapshot (the worker may be writing the next).
engine_rows = timeline_rows(engine.history if engine else [], upto=snapshots[-1].iteration)
rows = table_rows(engine_rows)


def timeline(records: list[dict]) -> None:
    """Algorithm 2 scrubbed iteration by iteration: what it trained on and what it gave."""
    st.subheader("Algorithm 2, iteration by iteration")
    if len(records) < 2:
        st.caption("Run iterations on the Train page to scrub through them here.")
        return
    st.caption(
        "Iteration i trains every member on the pseudo-labels of the mini-clusters Algorithm 1 "
        "found on iteration i − 1's predictions; better members give purer and larger "
        "mini-clusters, which give better members (the paper's Fig. 2)."
    )
    its = [r["iteration"] for r in records]
    current = st.select_slider(
        "iteration", options=its, value=its[-1], key="history_timeline_iteration"
    )
    now = records[its.index(current)]
    for col, (label, value, delta) in zip(
        st.columns(4), timeline_metrics(records, current), strict=True
    ):
        col.metric(label, value, delta)
    if now["edits"]:
        st.caption(
            f"Iteration {current} trained on the mini-clusters after your edits: "
            + "; ".join(now["edits"])
            + "."
        )
    st.plotly_chart(timeline_figure(records, current), key="history_timeline_chart")


st.plotly_chart(history_figure(rows), key="history_chart")
if len(rows) == 1:
    st.caption("One point so far: run iterations on the Train page to see the curves grow.")
table = history_table(rows)
st.dataframe(table, width="stretch")
st.caption(
    "As the run recorded them: each iteration's ACC after it, and the precision, count and "
    "thresholds of the pseudo-labels it trained on (the base ensemble trains on none)."
)
if EDITS_COLUMN in table:
    st.caption(
        "Your edits are listed on the iteration that trained on them; its precision and counts "
        "are those of the mini-clusters after the edits."
    )

timeline(engine_rows)

st.subheader("Ensemble members")
snap = snapshots[-1]
c1, c2 = st.columns(2)
with c1:
    if ds.y is not None:
        acc = session.cached(("member-acc", snap.iteration), lambda: member_accuracies(snap, ds.y))
        st.plotly_chart(member_accuracy_figure(acc), key="history_members")
        st.caption(
            "Each member's labels as final clusters (its classes aligned with the ensemble's "
            "and, with over-clustering, merged), scored like the ensemble's ACC."
        )
    else:
        st.info("Per-member accuracy needs true labels.")
with c2:
    mat = session.cached(
        ("member-agreement", snap.iteration), lambda: agreement_matrix(snap.member_labels)
    )
    st.plotly_chart(
        agreement_heatmap(mat, "adjusted Rand index between members"), key="history_agreement"
    )

st.subheader("Baselines")
if session.baselines is None:
    st.caption("K-means and agglomerative (Ward) clustering on the same data, for comparison.")
    if st.button("Compute baselines", key="history_baselines"):
        with st.spinner("Running K-means and agglomerative clustering…"):
            try:
                session.baselines = run_baselines(
                    ds.X,
                    session.config.n_clusters,
                    y=ds.y,
                    which=("kmeans", "agglomerative"),
                    random_state=0,
                )
            except ValueError as err:
                st.error(str(err))
if session.baselines is not None:
    shown = [{k: v for k, v in row.items() if k != "labels"} for row in session.baselines] + [
        {"name": "kingdra (this run)", "acc": rows[-1]["acc"] if rows else None}
    ]
    st.dataframe(pd.DataFrame(shown), hide_index=True)

st.subheader("The graph at each iteration")
choice = st.select_slider(
    "iteration",
    options=list(range(len(snapshots))),
    value=len(snapshots) - 1,
    format_func=lambda i: str(snapshots[i].iteration),
    key="history_graph_iteration",
)
past = snapshots[choice]
st.caption(
    "Recomputed, not recorded: Algorithm 1 on the predictions after that iteration, with the "
    "thresholds in force then (before any edits of yours)."
)
p = past.params
view = SnapshotGraph(session, past, session.config.n_outputs).view(
    (p["t_pos"], p["t_neg"], p["k"], p["min_confidence"]),
    sample_size=min(600, len(past.labels)),
    y=ds.y,
    class_names=ds.class_names,
)
st.plotly_chart(view.figure, key="history_graph")

st.subheader("Export")
c = st.columns(3)
c[0].download_button(
    "History (CSV)",
    table.to_csv(),
    file_name="history.csv",
    mime="text/csv",
    on_click="ignore",
    key="history_export_csv",
)
c[1].download_button(
    "Config (JSON)",
    json.dumps(session.config.to_dict(), indent=1),
    file_name="kingdra-config.json",
    mime="application/json",
    on_click="ignore",
    key="history_export_config",
)
c[2].download_button(
    "History figure (HTML)",
    lambda: history_figure(rows).to_html(include_plotlyjs="cdn"),  # built on click
    file_name="history.html",
    mime="text/html",
    on_click="ignore",
    key="history_export_html",
)
