"""The Train page's work: its form, built from the config's metadata, the progress and run
texts, and what the pages say over a preview of the base ensemble.

The form has one widget per :class:`~kingdra.config.KingdraConfig` field declared with
``app=True`` (:func:`kingdra.config.setting`), with that field's label, range and help, so
the page cannot drift from the config. Plain Python, no Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kingdra.config import (
    AUTO,
    SPARSE_BELOW,
    KingdraConfig,
    describe_auto,
    field_kind,
    resolve_preset,
    settings,
)
from kingdra.ui.overclustering import FineClusters
from kingdra.ui.runner import FIRST_PREVIEW_S

TOP_ROW = ("n_clusters", "n_models", "base")  # always visible; the rest under "Advanced"
BASE_NAMES = {"ladder-im": "Ladder-IM", "ladder-dot": "Ladder-Dot", "imsat": "IMSAT"}


@dataclass(frozen=True)
class FormField:
    """One widget of the Train form: a config field with its label, kind and range."""

    name: str
    label: str
    kind: type  # int, float, str or tuple (a text box of comma-separated widths)
    low: float | None
    high: float | None
    help: str
    group: str
    choices: tuple[str, ...] | None

    @property
    def key(self) -> str:
        return "train_k" if self.name == "n_clusters" else f"train_{self.name}"

    @property
    def number_input(self) -> dict[str, Any]:
        """``st.number_input``'s range and format for a number field."""
        number = float if self.kind is float else int
        return {
            "min_value": None if self.low is None else number(self.low),
            "max_value": None if self.high is None else number(self.high),
            "format": "%g" if self.kind is float else "%d",
        }


def form_fields() -> list[FormField]:
    """The form's fields in the config's order (``app=False`` ones are set elsewhere)."""
    out = []
    for f in settings():
        meta = f.metadata
        if not meta["app"]:
            continue
        allowed = meta["range"]
        high = allowed.high if allowed is not None and not isinstance(allowed.high, str) else None
        out.append(
            FormField(
                name=f.name,
                label=meta["label"] or f.name.replace("_", " "),
                kind=field_kind(f),
                low=None if allowed is None else allowed.low,
                high=high,
                help=meta["help"],
                group=meta["group"],
                choices=meta["choices"],
            )
        )
    return out


FIELDS = tuple(f.name for f in form_fields() if f.name not in ("n_clusters", "base"))


def env_overrides(raw: str) -> tuple[dict[str, Any], str | None]:
    """Config overrides from a JSON object (tests, demos) and a warning when it is not one."""
    if not raw:
        return {}, None
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        return {}, "must be a JSON object; using the preset's values."
    return values, None


def form_values(preset: str, env: dict[str, Any], config: KingdraConfig | None = None) -> dict:
    """Widget values: the preset, the environment's overrides, then a run's own config."""
    values = KingdraConfig.from_preset(preset).to_dict()
    values.update(env)
    if config is not None:
        values.update(config.to_dict())
    values["hidden"] = ", ".join(str(h) for h in values["hidden"])
    return {key: value for key, value in values.items() if key in FIELDS}


def config_from_form(
    preset: str, n_clusters: int, base: str, values: dict[str, Any], env: dict[str, Any]
) -> KingdraConfig:
    """The form's values as a validated config (``ValueError`` says which field is wrong).

    Fields without a widget (thresholds, the gate) may still come from ``env``.
    """
    try:
        hidden = tuple(int(h) for h in str(values["hidden"]).split(",") if h.strip())
    except ValueError:
        raise ValueError(
            "hidden sizes must be whole numbers separated by commas, e.g. 256, 256"
        ) from None
    kinds = {f.name: f.kind for f in form_fields()}
    typed = {
        name: kinds[name](values[name]) for name in FIELDS if name != "hidden"
    }  # widgets may hand back floats for whole numbers
    extra = {k: v for k, v in env.items() if k not in (*FIELDS, "n_clusters", "base")}
    extra.update(typed)
    return KingdraConfig.from_preset(
        preset, n_clusters=int(n_clusters), base=base, hidden=hidden, **extra
    )


def preset_label(name: str, n_rows: int, nonzero: float = 1.0) -> str:
    """The preset box's entry: ``auto`` says what it picks for these rows.

    ``nonzero``: the data's fraction of non-zero entries (``auto`` takes another preset
    for sparse data, :func:`kingdra.config.resolve_preset`).
    """
    if name != AUTO:
        return name
    sparse = " of sparse data" if nonzero < SPARSE_BELOW else ""
    return f"auto: {resolve_preset(name, n_rows, nonzero)} for {n_rows:,} rows{sparse}"


def preset_help() -> str:
    """The preset box's help: what each preset is, with measured times and their machine."""
    auto = describe_auto().replace("``", "")  # its names are quoted reST-style
    return (
        f"auto: the preset measured best for the data's size and sparsity ({auto}). fast: "
        "small ladder networks with the neighbour term and over-clustering (digits: base "
        "ensemble 30 s, each iteration 7-10 s, on this project's shared 2-core CPU beside other "
        "jobs; the progress bar measures yours); imsat: 10 IMSAT members (virtual adversarial "
        "self-augmentation; MNIST-5k: base ensemble 5 min 7 s, ACC 87 %, with a first preview "
        "of its clusters after 11 s, ACC 65 %, on the same CPU at load 3-4, one torch thread; "
        "before it a pilot of 82-126 s there, one loaded thread, chooses IM's mu: 4, or 1 "
        "where the clusters come out clearly unequal); "
        "imsat-ae-umap: imsat's members trained on an autoencoder's code mapped by UMAP, "
        "after the same pilot on the input, the base ensemble only (MNIST-5k: 86.2-94.3 % on "
        "ten seeds against imsat's 87.4-88.8 on five, 4-9 minutes on one loaded thread; where "
        "the pilot, or a Gaussian mixture on the representation, finds classes of unequal "
        "size, the run goes on as imsat on the input, as on long-tailed classes; not for "
        "tf-idf text); "
        "imsat-large: 5 of them at batch 250, for tens of thousands of rows; unequal: imsat "
        "with the weaker pull to equal cluster sizes (mu = 1) and no pilot, for classes you "
        "know to be of very unequal sizes; paper: the "
        "authors' numbers, much slower. Accuracy and time per data set: docs/benchmarks.md."
    )


def form_base(preset: str, env: dict[str, Any], config: KingdraConfig | None = None) -> str:
    """The base radio's value: a run's own, else the environment's, else the preset's."""
    base = config.base if config is not None else env.get("base")
    return base or KingdraConfig.from_preset(preset).base


def suggested_k(config: KingdraConfig | None, n_classes: int | None) -> int | None:
    """k for new data: the k of its run (a restored one), else its number of classes when
    known (2 to 1000), else None (what the user set last stays)."""
    if config is not None:
        return int(config.n_clusters)
    if n_classes:
        return min(max(int(n_classes), 2), 1000)
    return None


def next_iterations_caption(config: KingdraConfig, thresholds) -> str:
    """What the next iterations use: k, the thresholds and the gate (set on the Graph page)."""
    fine = FineClusters.of(config).note
    th = thresholds
    return (
        f"k = {config.n_clusters} clusters. Next iterations use t_pos={th.t_pos}, "
        f"t_neg={th.t_neg}, {th.k} mini-clusters{f' ({fine})' if fine else ''}, "
        f"min_confidence={th.min_confidence:.2f} (set them on the Graph page)."
    )


def edits_caption(n_edits: int) -> str:
    """That the next iteration trains on edited mini-clusters, or "" without edits."""
    if not n_edits:
        return ""
    return (
        f"The next iteration trains on mini-clusters with {n_edits} edit(s) of yours "
        "(Clusters page)."
    )


def idle_text(run_state: str | None, dataset_name: str) -> str:
    """The progress panel before any job: ``run_state`` of a trained run, else None."""
    if run_state is None:
        return "Not trained yet: set the parameters and press **Train base ensemble**."
    return (
        f"Run state: {run_state} ({dataset_name}). Run more iterations, or train a new base "
        "ensemble."
    )


#: The progress panel while the base ensemble trains, before its first preview.
FIRST_PREVIEW_NOTE = (
    f"A first view of the predictions comes after 2 epochs or {FIRST_PREVIEW_S:g} s of "
    "training, whichever is sooner, then every tenth of the epochs, on the Clusters and Graph "
    "pages."
)


def done_text(snap) -> str:
    """A finished job (:class:`~kingdra.ui.runner.ProgressSnapshot`) and how long it took."""
    return f"{snap.message} in {fmt_seconds(snap.finished_at - snap.started_at)}."


def stopped_text(snap, trained: bool) -> str:
    """A stopped job, and what is kept of the run."""
    kept = "The last finished step is kept." if trained else "Nothing is kept."
    return f"Training {snap.message}. {kept}"


def decisions_caption(config: KingdraConfig) -> str:
    """What the run chose by itself before training: the ``mu`` pilot and the representation's
    gate (``config.extra``), or "" when it chose nothing."""
    parts = []
    pilot = config.extra.get("mu_pilot")
    if pilot:
        measured = "; ".join(
            f"mu = {mu:g}: agreement {a:.3f}, sizes {e:.3f}"
            for mu, a, e in zip(
                pilot["candidates"], pilot["agreement"], pilot["equal_sizes"], strict=True
            )
        )
        parts.append(f"The mu pilot took mu = {pilot['mu']:g} ({measured}).")
    gate = config.extra.get("embed_gate")
    if gate:
        if gate["sizes"] is None:
            why = f"the mu pilot's clusters say the classes are {gate['pilot']} in size"
        else:
            why = f"a Gaussian mixture on it found clusters {gate['sizes']:.3f} of equal"
            why += (
                f", gate {gate['gate']:g}" if gate["kept"] else f", below the gate {gate['gate']:g}"
            )
        if gate["kept"]:
            parts.append(f"The members trained on the representation ({why}).")
        else:
            parts.append(
                f"The members trained on the input, not the representation ({why}), with "
                f"{config.overcluster} output(s) per cluster and {config.n_iter} iteration(s) "
                "by default."
            )
    return " ".join(parts)


def record_caption(history: list[dict]) -> str:
    """The last record's ACC and NMI, or "" when it has none (no labels)."""
    last = history[-1] if history else None
    if not last or last.get("acc") is None:
        return ""
    return (
        f"Iteration {last['iteration']}: ACC {last['acc']:.3f}, NMI {last['nmi']:.3f} "
        "(labels used for evaluation only)."
    )


def checkpoint_note(trained: bool, running: bool, finished_state: str) -> str:
    """Why no checkpoint can be downloaded now ("" when one can): ``finished_state`` is the
    run's last finished step (:meth:`~kingdra.ui.session.AppSession.run_state`)."""
    if trained and not running:
        return ""
    if running and trained:
        return (
            f"Training runs: the checkpoint (now at {finished_state}) can be downloaded once "
            "the job finishes or is stopped."
        )
    if running:
        return "Training runs: a checkpoint can be downloaded once the base ensemble is done."
    return "A checkpoint can be downloaded once something is trained."


def checkpoint_name(dataset_name: str, iteration: int) -> str:
    """The checkpoint's file name."""
    return f"kingdra-{dataset_name}-it{iteration}.safetensors"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "…"
    return f"{int(s // 60)} min {int(s % 60):02d} s" if s >= 60 else f"{s:.0f} s"


def progress_text(snap) -> str:
    """The progress bar's text; before the first batch reports, only what is starting."""
    what = snap.phase or snap.job
    if snap.n_epochs == 0 or snap.n_batches == 0:
        return f"{what} · starting… · elapsed {fmt_seconds(snap.elapsed_s)}"
    left = "estimating…" if snap.eta_s is None else f"{fmt_seconds(snap.eta_s)} at the speed so far"
    return (
        f"{what} · epoch {snap.epoch}/{snap.n_epochs} · batch {snap.batch}/{snap.n_batches} · "
        f"elapsed {fmt_seconds(snap.elapsed_s)} · left {left}"
    )


def preview_text(snap) -> str:
    """What a page says over a preview (:class:`~kingdra.ui.session.Snapshot`) of the base
    ensemble."""
    acc = "" if snap.acc is None else f", ACC {snap.acc:.1%} (labels used for evaluation only)"
    return (
        f"**Preview after {snap.epochs_text} of {snap.n_epochs} epochs** while the base "
        f"ensemble trains: its predictions so far{acc}. Later epochs improve it; the trained "
        "base ensemble replaces it, and from then on the mini-clusters can be edited."
    )


def newer_view(views: list, shown) -> str | None:
    """A button's label when the session has something newer than ``shown``, else None.

    ``views``: :meth:`~kingdra.ui.session.AppSession.views` now.
    """
    if not views:
        return "Training ended before the base ensemble: refresh"
    latest = views[-1]
    if latest.key == shown.key:
        return None
    return f"Show the {latest.title}"
