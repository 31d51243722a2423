"""Data: pick a built-in dataset or upload one; preview it."""

import numpy as np
import pandas as pd
import streamlit as st

from kingdra.ui.views import image_grid
from kingdra.ui.widgets import get_session, load_builtin, load_upload

PREPROCESS = {"none": "none", "scale to [0, 1]": "scale01", "standardise": "standardize"}


def builtin_names() -> dict[str, str]:
    from kingdra.data import available

    return available()


def load_into_session(loader, key: str, *args) -> None:
    """Load and switch the session's dataset; errors are shown and the session kept."""
    try:
        dataset = loader(*args)
        session.set_dataset(dataset, key)
    except ValueError as err:  # kingdra.data raises ValueError subclasses with a fix
        st.error(f"Could not load {key}: {err}")
    else:
        st.success(f"Loaded {dataset.description}")


def choose_preprocessing(prefix: str) -> tuple[str, int | None]:
    c1, c2 = st.columns(2)
    mode = c1.selectbox("Preprocessing", list(PREPROCESS), key=f"{prefix}_preprocess")
    pca = c2.number_input(
        "PCA dimensions (0 = none)", min_value=0, max_value=4096, value=0, key=f"{prefix}_pca"
    )
    return PREPROCESS[mode], (int(pca) or None)


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
        "CSV / TSV / parquet / .npy / .npz tables (a `label` column is used for evaluation "
        "only), a .zip of images in class folders, or text files. Errors say what to fix."
    )
    upload = st.file_uploader("Data file", key="data_upload")
    mode_u, pca_u = choose_preprocessing("upload")
    if upload is not None and st.button("Load upload", key="data_load_upload", type="primary"):
        load_into_session(load_upload, upload.name, upload.getvalue(), upload.name, mode_u, pca_u)

ds = session.dataset
if ds is None:
    st.info("No dataset loaded.")
    st.stop()

st.subheader(ds.name)
st.caption(ds.description)
c1, c2, c3 = st.columns(3)
c1.metric("samples", f"{len(ds.X):,}")
c2.metric("features", f"{ds.X.shape[1]:,}")
c3.metric("classes", "unknown" if ds.y is None else ds.n_classes)

rng = np.random.default_rng(0)
show = np.sort(rng.choice(len(ds.X), size=min(40, len(ds.X)), replace=False))
if ds.images is not None:
    st.image(image_grid(ds.images[show], n_cols=10, cell=40), caption="40 random samples")
elif ds.texts is not None:
    for i in show[:8]:
        st.text(ds.texts[i][:300])
else:
    st.dataframe(pd.DataFrame(ds.X[show[:20]]), height=300)

if ds.y is not None:
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    names_ = ds.class_names or [str(i) for i in range(len(counts))]
    st.markdown("**Class balance** (labels are used for evaluation only)")
    st.bar_chart(pd.DataFrame({"samples": counts}, index=names_))
