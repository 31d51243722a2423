"""Train: configure the ensemble, train in the background with live progress, checkpoints."""

import json
import os

import streamlit as st

from kingdra.config import BASES, PRESETS, KingdraConfig
from kingdra.plots import loss_curves_figure
from kingdra.ui.session import DEFAULTS_ENV
from kingdra.ui.widgets import DATA_PAGE, device_options, get_session

FIELDS = ("n_models", "hidden", "epochs_base", "epochs_iter", "lr", "batch_size", "noise_std")
FIELDS += ("im_weight", "mu", "kl_weight", "dot_weight", "sup_weight", "seed")
FIELDS += ("neighbor_weight", "n_neighbors", "overcluster")


def env_overrides() -> dict:
    """Config overrides from the environment (tests, demos), e.g. a tiny ensemble."""
    raw = os.environ.get(DEFAULTS_ENV, "")
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        st.warning(f"{DEFAULTS_ENV} must be a JSON object; using the preset's values.")
        return {}
    return values


def defaults(preset: str) -> dict:
    """Form defaults: the preset, then the environment's overrides."""
    values = KingdraConfig.from_preset(preset).to_dict()
    values.update(env_overrides())
    values["hidden"] = ", ".join(str(h) for h in values["hidden"])
    return values


def fill_form(preset: str, config: KingdraConfig | None = None) -> None:
    """Put the preset's values (or the current run's, when given) into the form's widgets."""
    values = defaults(preset)
    if config is not None:
        values.update(config.to_dict())
        values["hidden"] = ", ".join(str(h) for h in config.hidden)
    for key, value in values.items():
        if key in FIELDS:
            st.session_state[f"train_{key}"] = value


def config_from_form(preset: str, n_clusters: int, base: str) -> KingdraConfig:
    """The form's values as a validated config (ValueError says which field is wrong)."""
    try:
        hidden = tuple(
            int(h) for h in str(st.session_state["train_hidden"]).split(",") if h.strip()
        )
    except ValueError:
        raise ValueError(
            "hidden sizes must be whole numbers separated by commas, e.g. 256, 256"
        ) from None
    values = {key: st.session_state[f"train_{key}"] for key in FIELDS if key != "hidden"}
    for key in ("n_models", "epochs_base", "epochs_iter", "batch_size", "seed", "overcluster"):
        values[key] = int(values[key])
    # Fields without a form widget (thresholds, gate) may still come from the environment.
    extra = {k: v for k, v in env_overrides().items() if k not in (*FIELDS, "n_clusters", "base")}
    extra.update(values)
    return KingdraConfig.from_preset(
        preset, n_clusters=int(n_clusters), base=base, hidden=hidden, **extra
    )


def progress_text(snap) -> str:
    """The progress bar's text; before the first batch reports, only what is starting."""
    what = snap.phase or snap.job
    if snap.n_epochs == 0 or snap.n_batches == 0:
        return f"{what} · starting… · elapsed {fmt_seconds(snap.elapsed_s)}"
    left = "estimating…" if snap.eta_s is None else fmt_seconds(snap.eta_s)
    return (
        f"{what} · epoch {snap.epoch}/{snap.n_epochs} · batch {snap.batch}/{snap.n_batches} · "
        f"elapsed {fmt_seconds(snap.elapsed_s)} · left {left}"
    )


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "…"
    return f"{int(s // 60)} min {int(s % 60):02d} s" if s >= 60 else f"{s:.0f} s"


session = get_session()
st.title("Train")
ds = session.dataset
if ds is None:
    st.warning("Load a dataset first.")
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/dataset:")
    st.stop()

running = session.runner.is_running()
preset = st.selectbox(
    "Preset",
    list(PRESETS),
    index=list(PRESETS).index("fast"),
    key="train_preset",
    help="fast: small networks; digits end to end took 48 s on an idle 2-core CPU and several "
    "minutes on a busy one (docs/benchmarks.md). paper: the authors' numbers, much slower.",
)
if st.session_state.get("_train_filled") != preset:
    fill_form(preset)
    st.session_state["_train_filled"] = preset
elif "train_n_models" not in st.session_state:
    # Streamlit drops widget state when another page was shown: restore the run's values.
    fill_form(preset, session.config)

# k follows the data: the k of its run (a restored one), else its number of classes when
# known, else what the user set last.
data_token = f"{session.dataset_key}:{id(ds)}"
if st.session_state.get("_train_k_for") != data_token:
    st.session_state["_train_k_for"] = data_token
    if session.config is not None:
        st.session_state["_train_k_value"] = int(session.config.n_clusters)
    elif ds.n_classes:
        st.session_state["_train_k_value"] = min(max(int(ds.n_classes), 2), 1000)
    st.session_state.pop("train_k", None)
if "train_k" not in st.session_state:
    default_k = session.config.n_clusters if session.config is not None else 10
    st.session_state["train_k"] = st.session_state.get("_train_k_value", default_k)

with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    n_clusters = c1.number_input(
        "clusters k", min_value=2, max_value=1000, key="train_k",
        help="default: the number of classes when the data has labels",
    )  # fmt: skip
    st.session_state["_train_k_value"] = int(n_clusters)
    c2.slider("ensemble size m", 1, 20, key="train_n_models")
    base = c3.radio(
        "base model", BASES, horizontal=True, key="train_base_model",
        format_func=lambda b: {"ladder-im": "Ladder-IM", "ladder-dot": "Ladder-Dot"}.get(b, b),
    )  # fmt: skip
    with st.expander("Advanced parameters"):
        a1, a2, a3, a4 = st.columns(4)
        a1.text_input("hidden sizes", key="train_hidden")
        a2.number_input("epochs (base)", 0, 1000, key="train_epochs_base")
        a3.number_input("epochs per iteration", 0, 1000, key="train_epochs_iter")
        a4.number_input("learning rate", 1e-6, 1.0, format="%.4f", key="train_lr")
        a1.number_input("batch size", 2, 4096, key="train_batch_size")
        a2.number_input("noise std", 0.0, 5.0, key="train_noise_std")
        a3.number_input("IM weight", 0.0, 100.0, key="train_im_weight")
        a4.number_input("IM mu (marginal entropy)", 0.0, 100.0, key="train_mu")
        a1.number_input("KL weight", 0.0, 100.0, key="train_kl_weight")
        a2.number_input("dot weight", 0.0, 100.0, key="train_dot_weight")
        a3.number_input("pseudo-label weight", 0.0, 100.0, key="train_sup_weight")
        a4.number_input("seed", 0, 2**31 - 1, key="train_seed")
        a1.number_input(
            "neighbour weight", 0.0, 100.0, key="train_neighbor_weight",
            help="agreement with input-space nearest neighbours (0 = off, as in the paper)",
        )  # fmt: skip
        a2.number_input("neighbours per row", 1, 100, key="train_n_neighbors")
        a3.number_input(
            "over-clustering", 1, 10, key="train_overcluster",
            help="outputs per cluster: members learn r·k fine clusters, merged back to k along "
            "the nearest-neighbour graph after the base phase (1 = off, as in the paper)",
        )  # fmt: skip
    options, description = device_options()
    device = st.selectbox("device", options, key="train_device", help=f"auto = {description}")
    submitted = st.form_submit_button(
        "Train base ensemble", type="primary", disabled=running, key="train_start"
    )

if submitted:
    try:
        config = config_from_form(preset, n_clusters, base)
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
    th = session.current_thresholds()
    st.caption(
        f"Next iterations use t_pos={th['t_pos']}, t_neg={th['t_neg']}, k={th['k']}, "
        f"min_confidence={th['min_confidence']:.2f} (set them on the Graph page)."
    )


@st.fragment(run_every=1.0 if session.runner.is_running() else None)
def progress_panel() -> None:
    snap = session.runner.snapshot()
    if snap.status == "idle":
        if session.trained:
            st.info(
                f"Run state: {session.run_state()} ({ds.name}). Run more iterations, or "
                "train a new base ensemble."
            )
        else:
            st.info("Not trained yet: set the parameters and press **Train base ensemble**.")
        return
    if snap.running:
        st.progress(snap.fraction, text=progress_text(snap))
    elif snap.status == "done":
        st.success(f"{snap.message} in {fmt_seconds(snap.finished_at - snap.started_at)}.")
    elif snap.status == "stopped":
        st.warning(f"Training {snap.message}. The last finished step is kept.")
    elif snap.status == "error":
        st.error(f"Training failed: {snap.error}")
    if snap.losses:
        st.plotly_chart(loss_curves_figure(snap.losses), key="train_loss_chart")
    if not snap.running and st.session_state.get("_train_was_running"):
        st.session_state["_train_was_running"] = False
        st.rerun()  # refresh the whole page (buttons, sidebar) once the job ends
    st.session_state["_train_was_running"] = snap.running


progress_panel()

if session.engine is not None and session.engine.history:
    last = session.engine.history[-1] if not running else None
    if last and last.get("acc") is not None:
        st.caption(
            f"Iteration {last['iteration']}: ACC {last['acc']:.3f}, NMI {last['nmi']:.3f} "
            "(labels used for evaluation only)."
        )

st.subheader("Checkpoint")
c1, c2 = st.columns(2)
with c1:
    if session.trained and not running:
        st.download_button(
            "Download checkpoint",
            data=session.checkpoint_bytes,  # built on click, not on every rerun
            file_name=f"kingdra-{ds.name}-it{session.latest.iteration}.safetensors",
            mime="application/octet-stream",
            on_click="ignore",
            key="train_ckpt_download",
        )
    elif running and session.trained:
        st.caption(
            f"Training runs: the checkpoint (now at {session.run_state(finished=True)}) can be "
            "downloaded once the job finishes or is stopped."
        )
    elif running:
        st.caption("Training runs: a checkpoint can be downloaded once the base ensemble is done.")
    else:
        st.caption("A checkpoint can be downloaded once something is trained.")
with c2:
    up = st.file_uploader("Resume from a checkpoint", key="train_ckpt_upload")
    if up is not None and st.button("Load checkpoint", key="train_ckpt_load", disabled=running):
        try:
            session.restore_bytes(up.getvalue(), device=session.device)
        except ValueError as err:
            st.error(f"Could not load the checkpoint: {err}")
        else:
            st.success(f"Resumed at iteration {session.latest.iteration}.")
