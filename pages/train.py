"""Train: configure the ensemble, train in the background with live progress, checkpoints."""

import os

import streamlit as st

from kingdra.config import AUTO, PRESET_NAMES, nonzero_fraction, resolve_preset
from kingdra.plots import loss_curves_figure
from kingdra.ui import train_view
from kingdra.ui.session import DEFAULTS_ENV
from kingdra.ui.train_view import (
    BASE_NAMES,
    FIELDS,
    FIRST_PREVIEW_NOTE,
    config_from_form,
    env_overrides,
    form_fields,
    form_values,
    preview_text,
    progress_text,
)
from kingdra.ui.widgets import CLUSTERS_PAGE, DATA_PAGE, GRAPH_PAGE, device_options, get_session


def environment() -> dict:
    """Config overrides from the environment (tests, demos), e.g. a tiny ensemble."""
    env, warning = env_overrides(os.environ.get(DEFAULTS_ENV, ""))
    if warning:
        st.warning(f"{DEFAULTS_ENV} {warning}")
    return env


def fill_form(preset: str, config=None) -> None:
    """Put the preset's values (or the current run's, when given) into the form's widgets."""
    for key, value in form_values(preset, environment(), config).items():
        st.session_state[f"train_{key}"] = value
    st.session_state["train_base_model"] = train_view.form_base(preset, environment(), config)


def widget(container, field) -> None:
    """The config field's widget: its label, range and help come from the config."""
    if field.kind is tuple:
        container.text_input(field.label, key=field.key, help=field.help)
        return
    if field.choices:
        container.selectbox(field.label, field.choices, key=field.key, help=field.help)
        return
    container.number_input(field.label, key=field.key, help=field.help, **field.number_input)


session = get_session()
st.title("Train")
ds = session.dataset
if ds is None:
    st.warning("Load a dataset first.")
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/dataset:")
    st.stop()

running = session.runner.is_running()
n_rows = int(ds.X.shape[0])
data_token = f"{session.dataset_key}:{id(ds)}"
if st.session_state.get("_train_nonzero_for") != data_token:  # once per data, not per rerun
    # auto takes another preset for sparse data (about 60 ms on 70,000 x 784 rows)
    st.session_state["_train_nonzero"] = nonzero_fraction(ds.X)
    st.session_state["_train_nonzero_for"] = data_token
nonzero = st.session_state["_train_nonzero"]
choice = st.selectbox(
    "Preset",
    PRESET_NAMES,
    index=PRESET_NAMES.index(AUTO),
    key="train_preset",
    format_func=lambda name: train_view.preset_label(name, n_rows, nonzero),
    help=train_view.preset_help(),
)
preset = resolve_preset(choice, n_rows, nonzero)
if st.session_state.get("_train_filled") != preset:
    fill_form(preset)
    st.session_state["_train_filled"] = preset
elif "train_n_models" not in st.session_state:
    # Streamlit drops widget state when another page was shown: restore the run's values.
    fill_form(preset, session.config)

# k follows the data: the k of its run (a restored one), else its number of classes when
# known, else what the user set last.
if st.session_state.get("_train_k_for") != data_token:
    st.session_state["_train_k_for"] = data_token
    k = train_view.suggested_k(session.config, ds.n_classes)
    if k is not None:
        st.session_state["_train_k_value"] = k
    st.session_state.pop("train_k", None)
if "train_k" not in st.session_state:
    default_k = train_view.suggested_k(session.config, None) or 10
    st.session_state["train_k"] = st.session_state.get("_train_k_value", default_k)

fields = {f.name: f for f in form_fields()}
with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    n_clusters = c1.number_input(
        fields["n_clusters"].label,
        min_value=2,
        key="train_k",
        help="default: the number of classes when the data has labels",
    )
    st.session_state["_train_k_value"] = int(n_clusters)
    widget(c2, fields["n_models"])
    base = c3.radio(
        fields["base"].label,
        fields["base"].choices,
        horizontal=True,
        key="train_base_model",
        format_func=lambda b: BASE_NAMES.get(b, b),
        help=fields["base"].help,
    )
    with st.expander("Advanced parameters"):
        columns = st.columns(4)
        advanced = [fields[name] for name in FIELDS if name != "n_models"]
        for i, field in enumerate(advanced):
            widget(columns[i % 4], field)
    options, description = device_options()
    device = st.selectbox("device", options, key="train_device", help=f"auto = {description}")
    submitted = st.form_submit_button(
        "Train base ensemble", type="primary", disabled=running, key="train_start"
    )

if submitted:
    try:
        values = {name: st.session_state[f"train_{name}"] for name in FIELDS}
        config = config_from_form(preset, n_clusters, base, values, environment())
        session.start_base(config, device=device)
    except ValueError as err:
        st.error(str(err))
    else:
        running = session.runner.is_running()

b1, b2, b3, b4 = st.columns([1, 1, 1, 1])
can_iterate = session.trained and not running
if b1.button("Next iteration", key="train_next", disabled=not can_iterate):
    try:
        session.start_iterations(1)
    except ValueError as err:
        st.error(str(err))
    else:
        running = session.runner.is_running()
n_iter = b2.number_input("N", 1, 100, value=3, key="train_n", label_visibility="collapsed")
if b3.button(f"Run {int(n_iter)} iterations", key="train_run_n", disabled=not can_iterate):
    try:
        session.start_iterations(int(n_iter))
    except ValueError as err:
        st.error(str(err))
    else:
        running = session.runner.is_running()
if b4.button("Stop", key="train_stop", disabled=not session.runner.is_running()):
    session.runner.stop()
    st.toast("Stopping after the current batch…")

if session.trained:
    st.caption(train_view.next_iterations_caption(session.config, session.current_thresholds()))
    edits = train_view.edits_caption(len(session.pending_edits()))
    if edits:
        st.caption(edits)


@st.fragment(run_every=1.0 if session.runner.is_running() else None)
def progress_panel() -> None:
    snap = session.runner.snapshot()
    if snap.status == "idle":
        state = session.run_state() if session.trained else None
        st.info(train_view.idle_text(state, ds.name))
        return
    if snap.running:
        st.progress(snap.fraction, text=progress_text(snap))
        preview = session.preview
        if preview is not None:
            st.info(preview_text(preview))
            links = st.columns(2)
            links[0].page_link(
                CLUSTERS_PAGE, label="See it on Clusters", icon=":material/grid_view:"
            )
            links[1].page_link(GRAPH_PAGE, label="See it on Graph", icon=":material/hub:")
        elif snap.job == "base ensemble":
            st.caption(FIRST_PREVIEW_NOTE)
    elif snap.status == "done":
        st.success(train_view.done_text(snap))
    elif snap.status == "stopped":
        st.warning(train_view.stopped_text(snap, session.trained))
    elif snap.status == "error":
        st.error(f"Training failed: {snap.error}")
    if snap.losses:
        st.plotly_chart(loss_curves_figure(snap.losses), key="train_loss_chart")
    if not snap.running and st.session_state.get("_train_was_running"):
        st.session_state["_train_was_running"] = False
        st.rerun()  # refresh the whole page (buttons, sidebar) once the job ends
    st.session_state["_train_was_running"] = snap.running


progress_panel()

if session.engine is not None and not running:
    record = train_view.record_caption(session.engine.history)
    if record:
        st.caption(record)
    decisions = train_view.decisions_caption(session.engine.config)
    if decisions:
        st.caption(decisions)

st.subheader("Checkpoint")
c1, c2 = st.columns(2)
with c1:
    note = train_view.checkpoint_note(session.trained, running, session.run_state(finished=True))
    if note:
        st.caption(note)
    else:
        st.download_button(
            "Download checkpoint",
            data=session.checkpoint_bytes,  # built on click, not on every rerun
            file_name=train_view.checkpoint_name(ds.name, session.latest.iteration),
            mime="application/octet-stream",
            on_click="ignore",
            key="train_ckpt_download",
        )
with c2:
    up = st.file_uploader("Resume from a checkpoint", key="train_ckpt_upload")
    if up is not None and st.button("Load checkpoint", key="train_ckpt_load", disabled=running):
        try:
            session.restore_bytes(up.getvalue(), device=session.device)
        except ValueError as err:
            st.error(f"Could not load the checkpoint: {err}")
        else:
            st.success(f"Resumed at iteration {session.latest.iteration}.")
