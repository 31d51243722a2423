"""Data: pick a built-in dataset or upload one; preview it."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from kingdra.data import (
    TABLE_SUFFIXES,
    DataError,
    available,
    detect_label_column,
    table_columns,
)
from kingdra.ui.clusters_view import image_grid
from kingdra.ui.widgets import app_advice, get_session, load_builtin, load_upload

PREPROCESS = {"none": "none", "scale to [0, 1]": "scale01", "standardise": "standardize"}


def builtin_names() -> dict[str, str]:
    return available()


def load_into_session(loader, key: str, *args) -> None:
    """Load and switch the session's dataset; errors are shown and the session kept.

    A trained run is not lost: the session puts it aside, restorable below.
    """
    was_trained = session.trained
    try:
        dataset = loader(*args)
        session.set_dataset(dataset, key)
    except ValueError as err:  # kingdra.data raises ValueError subclasses with a fix
        st.error(f"Could not load {key}: {app_advice(str(err))}")
    else:
        st.success(f"Loaded {app_advice(dataset.description)}")
        if was_trained:
            st.info(
                f"The trained run ({session.previous_description()}) is put aside, not lost: "
                "restore it below."
            )


def upload_options(upload) -> dict:
    """The Upload tab's controls for the uploaded file's format, as loader options."""
    suffix = Path(upload.name).suffix.lower()
    options: dict = {}
    if suffix in TABLE_SUFFIXES:
        sep = ""
        if suffix != ".parquet":
            sep = st.text_input(
                "separator",
                value="",
                max_chars=4,
                key="upload_sep",
                help="empty: comma for .csv, tab for .tsv; type \\t for a tab",
            )
            sep = "\t" if sep == "\\t" else sep
            if sep:
                options["sep"] = sep
        try:
            columns = table_columns(upload.getvalue(), upload.name, sep or None)
        except DataError as err:
            st.error(app_advice(str(err)))
            columns = []
        none = "(none)"
        detected = detect_label_column(columns)
        auto = f"auto: {detected}" if detected is not None else "auto: none found"
        c1, c2 = st.columns(2)
        label = c1.selectbox(
            "label column",
            [auto, none, *columns],
            key=f"upload_label_{upload.name}",
            help="true labels, used only to score the clusters, never to train. auto: a "
            "column named y, labels, label or target, unless it holds fractional numbers; "
            "the summary after loading says which column was taken",
        )
        text = c2.selectbox(
            "text column",
            [none, *columns],
            key=f"upload_text_{upload.name}",
            help="cluster the text of this column (tf-idf of its 2,000 most frequent words)",
        )
        used = {label, text} | ({detected} if label == auto else set())
        ignore = st.multiselect(
            "ignore columns",
            [c for c in columns if c not in used],
            key=f"upload_ignore_{upload.name}",
            help="left out of the features",
        )
        if label != auto:
            options["label_column"] = False if label == none else label
        if text != none:
            options["text_column"] = text
        if ignore:
            options["ignore_columns"] = list(ignore)
    if suffix in (*TABLE_SUFFIXES, ".npy", ".npz"):
        if st.checkbox("drop rows with NaN/inf", key="upload_drop_nonfinite"):
            options["drop_nonfinite"] = True
    return options


def choose_preprocessing(prefix: str) -> tuple[str, int | None]:
    c1, c2 = st.columns(2)
    mode = c1.selectbox("Preprocessing", list(PREPROCESS), key=f"{prefix}_preprocess")
    pca = c2.number_input(
        "PCA dimensions (0 = none)", min_value=0, max_value=4096, value=0, key=f"{prefix}_pca"
    )
    return PREPROCESS[mode], (int(pca) or None)


def sample_caption(shown: int) -> str:
    n = len(session.dataset.X)
    return f"all {n:,} samples" if shown >= n else f"{shown} random samples of {n:,}"


session = get_session()
st.title("Data")
if session.runner.is_running():
    st.warning("Training is running: stop it on the Train page before switching data.")

builtin_tab, upload_tab = st.tabs(["Built-in", "Upload"])
with builtin_tab:
    names = builtin_names()
    name = st.selectbox(
        "Dataset",
        list(names),
        index=list(names).index(session.dataset_key) if session.dataset_key in names else 0,
        format_func=lambda k: f"{k} — {names[k]}",
        key="data_builtin",
    )
    mode, pca = choose_preprocessing("builtin")
    if st.button("Load", key="data_load", type="primary"):
        load_into_session(load_builtin, name, name, mode, pca)

with upload_tab:
    st.caption(
        "CSV / TSV / parquet tables (a column named y, labels, label or target is taken as "
        "the labels, used to score only: change it below), .npy / .npz arrays, or a .zip of "
        "images in class folders. Errors say what to fix."
    )
    upload = st.file_uploader("Data file", key="data_upload")
    options = upload_options(upload) if upload is not None else {}
    mode_u, pca_u = choose_preprocessing("upload")
    if upload is not None and st.button("Load upload", key="data_load_upload", type="primary"):
        load_into_session(
            load_upload, upload.name, upload.getvalue(), upload.name, mode_u, pca_u, options
        )

if session.previous is not None:
    c1, c2 = st.columns([3, 1])
    c1.info(f"Put aside: {session.previous_description()}, with its data.")
    if c2.button("Restore it", key="data_restore_previous", disabled=session.runner.is_running()):
        try:
            session.restore_previous()
        except ValueError as err:
            st.error(str(err))
        else:
            st.success(f"Restored: {session.run_state()} on {session.dataset_key}.")

ds = session.dataset
if ds is None:
    st.info("No dataset loaded.")
    st.stop()

st.subheader(ds.name)
st.caption(app_advice(ds.description))
c1, c2, c3 = st.columns(3)
c1.metric("samples", f"{len(ds.X):,}")
c2.metric("features", f"{ds.X.shape[1]:,}")
c3.metric("classes", "unknown" if ds.y is None else ds.n_classes)

rng = np.random.default_rng(0)
show = np.sort(rng.choice(len(ds.X), size=min(40, len(ds.X)), replace=False))
if ds.images is not None:
    st.image(image_grid(ds.images[show], n_cols=10, cell=40), caption=sample_caption(len(show)))
elif ds.texts is not None:
    st.caption(sample_caption(min(8, len(show))))
    for i in show[:8]:
        st.text(ds.texts[i][:300])
else:
    st.caption(sample_caption(min(20, len(show))))
    columns = ds.extra.get("columns")
    frame = pd.DataFrame(ds.X[show[:20]], index=show[:20])
    if columns is not None and len(columns) == ds.X.shape[1]:
        frame.columns = columns
    st.dataframe(frame, height=min(300, 38 * (len(frame) + 1)))

if ds.y is not None:
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    names_ = ds.class_names or [str(i) for i in range(len(counts))]
    st.markdown("**Class balance** (labels are used for evaluation only)")
    st.bar_chart(pd.DataFrame({"samples": counts}, index=names_))
