"""Clusters: sample grids per mini-cluster and final cluster, UMAP with selection, confusion."""

import pandas as pd
import streamlit as st

from kingdra.plots import confusion_figure, embedding_figure, merge_figure
from kingdra.ui import clusters_panel
from kingdra.ui.clusters_panel import KINDS, MERGE_CAPTION, MiniClusters
from kingdra.ui.clusters_view import (
    embedding_hover,
    image_grid,
    merge_table,
    png_bytes,
    sample_groups,
    top_words,
)
from kingdra.ui.curation_view import curation_table, edits_list, parse_rows, rows_text
from kingdra.ui.graph_view import chart_selection
from kingdra.ui.layout import umap_layout
from kingdra.ui.overclustering import FineClusters
from kingdra.ui.widgets import get_session, need_training, preview_note

session = get_session()
st.title("Clusters")

views = session.views()  # the finished steps, or the base phase's preview while it trains
if not views and need_training(session, "the clusters"):
    st.stop()

ds = session.dataset
snap = views[-1]
th = session.current_thresholds()
mini = MiniClusters.of(session, snap, th)  # the next iteration's set, after a person's edits
cluster_names = session.cluster_names
if snap.is_preview:
    preview_note(session, snap, "clusters_preview_newer")
st.caption(
    clusters_panel.caption(
        snap,
        th,
        FineClusters.of(session.config),
        applied=session.thresholds is not None,
        n_points=mini.n_points,
        n_edits=len(session.pending_edits()) if session.edits else None,
    )
)

kind = st.radio("Show", KINDS, horizontal=True, key="clusters_kind")
per = st.slider("samples per cluster", 10, 60, 20, 10, key="clusters_per")
groups = snap.labels if kind == KINDS[0] else mini.membership
wrong = clusters_panel.wrong(ds.y, groups)
if ds.y is not None:
    st.caption("Samples whose true class is not their cluster's majority are boxed in red.")
words = top_words(ds.texts, groups) if ds.texts is not None and ds.images is None else {}
shown_all = []
cols = st.columns(2)
for j, (g, idx, shown) in enumerate(sample_groups(groups, per)):
    shown_all.append(shown)
    marked = None if ds.y is None else wrong[idx]
    title = clusters_panel.group_title(g, idx, marked, kind=kind, names=cluster_names)
    with cols[j % 2]:
        if ds.images is not None:
            st.image(
                image_grid(ds.images[shown], n_cols=10, wrong=wrong[shown], cell=36), caption=title
            )
        else:
            st.markdown(clusters_panel.text_heading(title, g, words))
            if ds.texts is not None:
                for i in shown[:3]:
                    st.text(("✗ " if wrong[i] else "") + ds.texts[i][:200])
            else:
                st.dataframe(pd.DataFrame(ds.X[shown[:5]]), height=150)


def edit(change: dict) -> None:
    """Add one edit for the next iteration; a bad one is said, the others are kept."""
    try:
        session.add_edit(mini.base, change)
    except ValueError as err:
        st.error(str(err))
    else:
        st.rerun()


def curate() -> None:
    st.subheader("Curate the next iteration's pseudo-labels")
    st.caption(
        "Before **Next iteration** (Train page): reject a mini-cluster, merge two, drop rows "
        "from one or make rows a new one (select points on the UMAP below, then **Use these "
        "rows**). Numbers stay the graph's; the iteration trains on the edited set and the "
        "History page lists the edits."
    )
    if snap.is_preview:
        st.info("Curation opens once the base ensemble is trained: this is a preview.")
        return
    ids = mini.non_empty
    if not ids:
        st.info("No mini-clusters at these thresholds: lower t_pos or t_neg on the Graph page.")
        return
    c = st.columns(3)
    pick = c[0].selectbox("mini-cluster", ids, key="clusters_cur_pick")
    if c[0].button("Reject it", key="clusters_cur_reject"):
        edit({"op": "reject", "cluster": pick})
    others = [i for i in ids if i != pick]
    other = c[1].selectbox("merge into it", others, key="clusters_cur_other")
    if c[1].button("Merge", key="clusters_cur_merge", disabled=not others):
        edit({"op": "merge", "clusters": [pick, other]})
    text = c[2].text_input("rows", key="clusters_cur_rows", placeholder="3, 17, 40-45")
    b = c[2].columns(2)
    drop = b[0].button("Drop from it", key="clusters_cur_drop")
    add = b[1].button("New group", key="clusters_cur_add")
    if drop or add:
        try:
            rows = parse_rows(text)
        except ValueError as err:
            st.error(str(err))
        else:
            edit(
                {"op": "drop", "cluster": pick, "rows": rows}
                if drop
                else {"op": "add", "rows": rows}
            )
    pending = session.pending_edits()
    if pending:
        st.markdown(edits_list(pending))
        b = st.columns(2)
        if b[0].button("Undo the last edit", key="clusters_cur_undo"):
            session.undo_edit()
            st.rerun()
        if b[1].button("Clear the edits", key="clusters_cur_clear"):
            session.edits = []
            st.rerun()
    table = curation_table(mini.base, mini.edited, ds.y, ds.class_names)
    st.dataframe(pd.DataFrame(table), hide_index=True, height=250)


def name_clusters() -> None:
    if snap.is_preview:  # a preview's cluster numbers change with the next one
        return
    with st.expander("Name the clusters (the names go into the CSV exports)"):
        k = session.config.n_clusters
        cols = st.columns(5)
        for c in range(k):
            value = cols[c % 5].text_input(
                f"cluster {c}", cluster_names.get(c, ""), max_chars=80, key=f"clusters_name_{c}"
            )
            if value.strip() != cluster_names.get(c, ""):
                session.name_cluster(c, value)


curate()
name_clusters()

engine = session.engine
merged = FineClusters.of(engine.config) if engine is not None else None
if merged and not session.runner.is_running():
    with st.expander(clusters_panel.merge_title(merged)):
        try:
            summary = session.cached(("merge", snap.iteration), engine.merge_summary)
        except ValueError as err:
            st.error(str(err))
        else:
            st.caption(MERGE_CAPTION)
            st.plotly_chart(
                merge_figure(summary["affinity"], summary["used"], summary["groups"]),
                key="clusters_merge_figure",
            )
            table = merge_table(summary, ds.y, ds.class_names)
            st.dataframe(pd.DataFrame(table), hide_index=True)

st.subheader("Learned representation (UMAP)")
emb, emb_index = snap.embedding, snap.embedding_index
ukey = ("umap-embedding", snap.iteration)  # previews have no embedding
if emb is None and snap.is_preview:
    st.info("The learned representation is drawn once the base ensemble is trained.")
elif emb is None:
    st.info("The representation is kept for the latest iteration only.")
elif ukey in session.cache or st.button("Compute UMAP", key="clusters_umap"):
    with st.spinner("UMAP of the learned representation…"):
        xy = session.cached(ukey, lambda: umap_layout(emb))
    text = embedding_hover(emb_index, snap.labels, ds.y)
    boxed = wrong[emb_index] if kind == KINDS[0] else None
    fig = embedding_figure(xy, snap.labels[emb_index], hover_text=text, wrong=boxed)
    event = st.plotly_chart(
        fig, key="clusters_umap_chart", on_select="rerun", selection_mode=("box", "lasso", "points")
    )
    picked = [int(emb_index[i]) for i in chart_selection(event)]
    if picked:
        st.markdown(f"**{len(picked)} selected**")
        st.download_button(
            "Selection (CSV)",
            clusters_panel.selection_csv(picked, snap, mini, ds, cluster_names),
            file_name=f"{ds.name}-selection.csv",
            mime="text/csv",
            on_click="ignore",
            key="clusters_export_selection",
        )
        st.button(
            "Use these rows for curation",
            key="clusters_use_selection",
            on_click=lambda: st.session_state.update(clusters_cur_rows=rows_text(picked)),
        )
        if ds.images is not None:
            st.image(
                image_grid(ds.images[picked[:100]], n_cols=20, wrong=wrong[picked[:100]], cell=32)
            )
        elif ds.texts is not None:
            for i in picked[:10]:
                st.text(ds.texts[i][:200])
    else:
        st.caption("Box- or lasso-select points to see those samples.")
    st.download_button(
        "UMAP (HTML)",
        fig.to_html(include_plotlyjs="cdn"),
        file_name="umap.html",
        mime="text/html",
        on_click="ignore",
        key="clusters_export_umap",
    )
else:
    st.caption("UMAP takes a few seconds the first time.")

if ds.y is not None:
    st.subheader("Confusion matrix")
    mat, names, clusters = clusters_panel.confusion_axes(ds.y, snap.labels, ds.class_names)
    st.plotly_chart(confusion_figure(mat, names, clusters), key="clusters_confusion")

st.subheader("Export")
c = st.columns(3)
c[0].download_button(
    "Labels (CSV)",
    clusters_panel.labels_csv(snap, mini, ds, cluster_names),
    file_name=f"{ds.name}-labels.csv",
    mime="text/csv",
    on_click="ignore",
    key="clusters_export_csv",
)
if ds.images is not None:
    first = clusters_panel.grid_rows(shown_all)
    c[1].download_button(
        "Sample grid (PNG)",
        png_bytes(image_grid(ds.images[first], n_cols=per, wrong=wrong[first])),
        file_name="clusters.png",
        mime="image/png",
        on_click="ignore",
        key="clusters_export_png",
    )
