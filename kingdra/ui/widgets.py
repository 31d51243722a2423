"""Streamlit helpers shared by the pages: the session object, cached loaders, the sidebar."""

from __future__ import annotations

import re

import streamlit as st

from kingdra.data import load
from kingdra.data import load_upload as load_bytes
from kingdra.device import available_devices, device_description
from kingdra.ui.session import AppSession, Snapshot
from kingdra.ui.train_view import newer_view, preview_text

SESSION_KEY = "kingdra_session"
DEFAULT_DATASET = "digits"
TRAIN_PAGE = "pages/train.py"
GRAPH_PAGE = "pages/graph.py"
CLUSTERS_PAGE = "pages/clusters.py"
DATA_PAGE = "pages/data.py"


@st.cache_data(show_spinner="Loading dataset…", max_entries=8)
def load_builtin(name: str, preprocess: str = "none", pca: int | None = None):
    """A built-in dataset (cached across sessions: data only, never a run)."""
    return load(name, preprocess=preprocess, pca=pca)


@st.cache_data(show_spinner="Reading upload…", max_entries=4)
def load_upload(
    data: bytes,
    filename: str,
    preprocess: str = "none",
    pca: int | None = None,
    options: dict | None = None,
):
    """A dataset from uploaded bytes; the file name's extension picks the format.

    ``options`` are the format's options (``label_column``, ``drop_nonfinite``, ...).
    """
    return load_bytes(data, filename, preprocess=preprocess, pca=pca, **(options or {}))


# The library's messages name its keyword arguments; in the app they are Upload-tab controls.
_ADVICE = (
    ("pass drop_nonfinite=True", "tick **drop rows with NaN/inf** (Upload tab)"),
    ("drop_nonfinite=True", "**drop rows with NaN/inf** (Upload tab)"),
    ("Pass label_column='<name>'", "Choose it as the **label column** (Upload tab)"),
    ("text_column='<name>'", "the **text column**"),
    ("ignore_columns=[...]", "**ignore columns**"),
    ("label_column=False makes it a feature", "label column '(none)' makes it a feature"),
    ("set sep= if", "set the **separator** (Upload tab) if"),
    ("Set label_column= to", "Choose the **label column** from"),
    ("Set text_column= to", "Choose the **text column** from"),
    ("pass data_dir= / set KINGDRA_DATA", "set KINGDRA_DATA (before `streamlit run`)"),
    ("set mirror= / KINGDRA_", "set KINGDRA_"),
    ("(option mirror=)", "(a KINGDRA_..._MIRROR environment variable)"),
)


# A placed file with another checksum: the command line and Python can accept it, the app not.
_CHECKSUM_ADVICE = re.compile(r"pass its (sha256|md5) as checksums=\{'([^']+)': '<\w+>'\}")


def app_advice(message: str) -> str:
    """A library message with its keyword arguments replaced by the app's controls."""
    for python, control in _ADVICE:
        message = message.replace(python, control)
    return _CHECKSUM_ADVICE.sub(
        r"use it from the command line (`--checksum \2=<\1>`) or from Python (`checksums=`); "
        r"the app accepts only the built-in \1",
        message,
    )


def get_session() -> AppSession:
    """This browser session's :class:`AppSession`, with digits loaded on the first visit."""
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        session = AppSession()
        st.session_state[SESSION_KEY] = session
    if session.dataset is None:
        try:
            session.set_dataset(load_builtin(DEFAULT_DATASET), DEFAULT_DATASET)
        except ValueError as err:
            st.error(f"Could not load the default dataset: {err}")
    return session


@st.cache_data(show_spinner=False)
def device_options() -> tuple[list[str], str]:
    """Devices usable here (``auto`` first) and a description of what ``auto`` picks."""
    return available_devices(), device_description("auto")


def sidebar(session: AppSession) -> None:
    """Dataset, run state and device, shown on every page."""
    with st.sidebar:
        st.markdown("### kingdra")
        ds = session.dataset
        if ds is not None:
            st.caption(f"**Dataset:** {ds.name} · {len(ds.X):,} × {ds.X.shape[1]}")
        else:
            st.caption("**Dataset:** none")
        st.caption(f"**Run:** {session.run_state()}")
        st.caption(f"**Device:** {device_options()[1]}")


def need_training(session: AppSession, what: str) -> bool:
    """Show a way forward and return True when there is nothing trained to show yet."""
    if session.trained:
        return False
    if session.runner.is_running():
        st.info(f"Training is running; {what} appears when the base ensemble is done.")
    else:
        st.warning(f"Nothing trained yet: train the base ensemble first to see {what}.")
    st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
    return True


@st.fragment(run_every=2.0)
def preview_note(session: AppSession, shown: Snapshot, key: str) -> None:
    """Over a preview: what it is, and a button (``key``) once a newer one, or the trained
    base ensemble, is ready; the page shows it on a click. Polls every 2 s by itself."""
    st.info(preview_text(shown))
    label = newer_view(session.views(), shown)
    if label and st.button(label, key=key):
        st.rerun()
