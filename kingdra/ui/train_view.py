"""The Train page's work: its form, built from the config's metadata, the progress text, and
what the pages say over a preview of the base ensemble.

The form has one widget per :class:`~kingdra.config.KingdraConfig` field declared with
``app=True`` (:func:`kingdra.config.setting`), with that field's label, range and help, so
the page cannot drift from the config. Plain Python, no Streamlit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kingdra.config import KingdraConfig, field_kind, settings

TOP_ROW = ("n_clusters", "n_models", "base")  # always visible; the rest under "Advanced"


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
