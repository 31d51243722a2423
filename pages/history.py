"""History: ACC, pseudo-label precision and count per iteration, members, baselines."""

import json

import pandas as pd
import streamlit as st

from kingdra.baselines import run_baselines
from kingdra.plots import agreement_heatmap, history_figure, member_accuracy_figure
from kingdra.ui.graph_view import build_graph_view
from kingdra.ui.history_view import agreement_matrix, iteration_rows, member_accuracies
from kingdra.ui.layout import agreement_layout
from kingdra.ui.widgets import get_session, need_training

session = get_session()
st.title("History")
if need_training(session, "the history"):
    st.stop()

ds = session.dataset
snapshots = session.snapshots
key = ("history", len(snapshots), snapshots[-1].iteration)
rows = session.cached(key, lambda: iteration_rows(snapshots, ds.y))

st.plotly_chart(history_figure(rows), key="history_chart")
if len(rows) == 1:
    st.caption("One point so far: run iterations on the Train page to see the curves grow.")
table = pd.DataFrame(rows).set_index("iteration")
st.dataframe(table, width="stretch")

st.subheader("Ensemble members")
snap = snapshots[-1]
c1, c2 = st.columns(2)
with c1:
    if ds.y is not None:
        acc = member_accuracies(snap, ds.y)
        st.plotly_chart(member_accuracy_figure(acc), key="history_members")
        st.caption(
            "Each member's labels as final clusters (its classes aligned with the ensemble's "
            "and, with over-clustering, merged), scored like the ensemble's ACC."
        )
    else:
        st.info("Per-member accuracy needs true labels.")
with c2:
    mat = agreement_matrix(snap.member_labels)
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
        {"name": "kingdra (this run)", "acc": rows[-1]["acc"]}
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
p = past.params
xy = session.cached(
    ("agreement", past.iteration),
    lambda: agreement_layout(past.member_labels, session.config.n_outputs),
)
view = build_graph_view(
    past.member_labels,
    past.confidence,
    xy,
    t_pos=p["t_pos"],
    t_neg=p["t_neg"],
    k=p["k"],
    min_confidence=p["min_confidence"],
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
    history_figure(rows).to_html(include_plotlyjs="cdn"),
    file_name="history.html",
    mime="text/html",
    on_click="ignore",
    key="history_export_html",
)
