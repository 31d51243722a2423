"""Clusters: sample grids per mini-cluster and final cluster, UMAP with selection, confusion."""

import numpy as np
import pandas as pd
import streamlit as st

from kingdra.curation import describe
from kingdra.metrics import confusion
from kingdra.plots import confusion_figure, embedding_figure, merge_figure
from kingdra.pseudo import pseudo_labels
from kingdra.ui.clusters_view import (
    embedding_hover,
    image_grid,
    labels_csv,
    merge_table,
    png_bytes,
    sample_groups,
    selection_csv,
    top_words,
    wrong_mask,
)
from kingdra.ui.curation_view import curation_table, parse_rows, rows_text
from kingdra.ui.graph_view import chart_selection, cluster_membership, run_algorithm
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
n = len(snap.labels)
th = session.current_thresholds()
fine = FineClusters.of(session.config).note
key = ("result", snap.key, th.t_pos, th.t_neg, th.k, round(th.min_confidence, 4))
result = session.cached(key, lambda: run_algorithm(snap.member_labels, snap.confidence, *th))
base = [np.asarray(c, dtype=np.int64) for c in result.clusters]
edited = session.edited_clusters(base)  # the next iteration's set, after a person's edits
mini = cluster_membership(edited, n)
cluster_names = session.cluster_names
source = (
    "applied on the Graph page"
    if session.thresholds is not None
    else "the run's settings; Graph's sliders apply here after **Use these thresholds for "
    "training**"
)
if snap.is_preview:
    preview_note(session, snap, "clusters_preview_newer")
st.caption(
    f"{snap.title[0].upper()}{snap.title[1:]}; "
    f"mini-clusters with t_pos={th.t_pos}, t_neg={th.t_neg}, at most {th.k} of them"
    f"{f', {fine}' if fine else ''} "
    f"({source}; {int((mini >= 0).sum()):,} points)."
    + (f" {len(session.pending_edits())} edit(s) of yours below." if session.edits else "")
)

kind = st.radio("Show", ("final clusters", "mini-clusters"), horizontal=True, key="clusters_kind")
per = st.slider("samples per cluster", 10, 60, 20, 10, key="clusters_per")
groups = snap.labels if kind == "final clusters" else mini
wrong = wrong_mask(ds.y, groups) if ds.y is not None else np.zeros(n, bool)
if ds.y is not None:
    st.caption("Samples whose true class is not their cluster's majority are boxed in red.")
words = top_words(ds.texts, groups) if ds.texts is not None and ds.images is None else {}
shown_all = []
cols = st.columns(2)
for j, (g, idx, shown) in enumerate(sample_groups(groups, per)):
    shown_all.append(shown)
    purity = f", {1 - wrong[idx].mean():.0%} majority class" if ds.y is not None else ""
    title = f"{'cluster' if kind == 'final clusters' else 'mini-cluster'} {g}: {len(idx):,}{purity}"
    if kind == "final clusters" and int(g) in cluster_names:
        title = f"{cluster_names[int(g)]} · {title}"
    with cols[j % 2]:
        if ds.images is not None:
            st.image(
                image_grid(ds.images[shown], n_cols=10, wrong=wrong[shown], cell=36), caption=title
            )
        else:
            st.markdown(
                f"**{title}**" + (f" — {', '.join(words.get(int(g), []))}" if words else "")
            )
            if ds.texts is not None:
                for i in shown[:3]:
                    st.text(("✗ " if wrong[i] else "") + ds.texts[i][:200])
            else:
                st.dataframe(pd.DataFrame(ds.X[shown[:5]]), height=150)


def edit(change: dict) -> None:
    """Add one edit for the next iteration; a bad one is said, the others are kept."""
    try:
        session.add_edit(base, change)
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
    ids = [i for i, c in enumerate(edited) if len(c)]
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
        st.markdown("\n".join(f"{k + 1}. {describe(e)}" for k, e in enumerate(pending)))
        b = st.columns(2)
        if b[0].button("Undo the last edit", key="clusters_cur_undo"):
            session.undo_edit()
            st.rerun()
        if b[1].button("Clear the edits", key="clusters_cur_clear"):
            session.edits = []
            st.rerun()
    table = curation_table(base, edited, ds.y, ds.class_names)
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
if engine is not None and FineClusters.of(engine.config) and not session.runner.is_running():
    with st.expander(
        f"Over-clustering: how {engine.config.n_outputs} fine clusters became "
        f"{engine.config.n_clusters} clusters"
    ):
        try:
            summary = session.cached(("merge", snap.iteration), engine.merge_summary)
        except ValueError as err:
            st.error(str(err))
        else:
            st.caption(
                "Each member learns overcluster·k fine clusters; after the base phase the "
                "fine clusters whose rows share the most input-space nearest neighbours are "
                "grouped into one cluster, usually two per cluster (kingdra.merge). Labels "
                "read fine → final."
            )
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
    marked = wrong[emb_index] if kind == "final clusters" else None
    fig = embedding_figure(xy, snap.labels[emb_index], hover_text=text, wrong=marked)
    event = st.plotly_chart(
        fig, key="clusters_umap_chart", on_select="rerun", selection_mode=("box", "lasso", "points")
    )
    picked = [int(emb_index[i]) for i in chart_selection(event)]
    if picked:
        st.markdown(f"**{len(picked)} selected**")
        st.download_button(
            "Selection (CSV)",
            selection_csv(
                picked,
                cluster=snap.labels,
                mini_cluster=mini,
                pseudo=pseudo_labels(edited, n),
                y=ds.y,
                class_names=ds.class_names,
                cluster_names=cluster_names,
            ),
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
    mat, classes, clusters = confusion(ds.y, snap.labels)
    names = [ds.class_names[c] for c in classes] if ds.class_names else classes
    st.plotly_chart(confusion_figure(mat, names, clusters), key="clusters_confusion")

st.subheader("Export")
c = st.columns(3)
c[0].download_button(
    "Labels (CSV)",
    labels_csv(snap.labels, pseudo=pseudo_labels(edited, n), y=ds.y, cluster_names=cluster_names),
    file_name=f"{ds.name}-labels.csv",
    mime="text/csv",
    on_click="ignore",
    key="clusters_export_csv",
)
if ds.images is not None:
    first = np.concatenate(shown_all) if shown_all else np.zeros(0, np.int64)
    c[1].download_button(
        "Sample grid (PNG)",
        png_bytes(image_grid(ds.images[first], n_cols=per, wrong=wrong[first])),
        file_name="clusters.png",
        mime="image/png",
        on_click="ignore",
        key="clusters_export_png",
    )
