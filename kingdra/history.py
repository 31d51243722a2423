"""The run history: one :class:`Record` per trained phase of Algorithm 2 (0 = base ensemble).

``KingdraEngine.history`` is a list of :meth:`Record.to_json` dicts, so it goes as it is into
the checkpoint, the CLI's ``metrics.json`` and ``KingdraCluster.history_``; the checkpoint
reads it back through :func:`load`, the app through :meth:`Record.from_json`. This module is
the one place that knows the keys.

>>> r = Record(iteration=1, phase="iteration", coverage=0.3)
>>> Record.from_json(r.to_json()) == r
True
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from kingdra.curation import edit_json

__all__ = ["Record", "load"]

# Keys of earlier versions -> the field they are now.
_RENAMED = {"k": "mini_clusters_wanted"}


@dataclass(frozen=True)
class Record:
    """What one phase trained on and what it gave; ``None``: not known for this phase.

    The order of the fields is the order of the keys in the JSON form.
    """

    iteration: int  # 0: the base ensemble (lines 1-4), t: Algorithm 2's t-th iteration
    phase: str = "base"  # "base" or "iteration"
    epochs: int | None = None
    seconds: float | None = None  # wall time of the phase, prediction included
    losses: dict[str, float] | None = None  # mean loss parts over the phase's batches
    # Iterations only: the graph (Algorithm 1) whose mini-clusters gave the pseudo-labels.
    t_pos: int | None = None
    t_neg: int | None = None
    # Algorithm 1's k: the mini-clusters it looked for (overcluster * n_clusters with
    # over-clustering), not the person's k (n_clusters). Saved as "k" before.
    mini_clusters_wanted: int | None = None
    min_confidence: float | None = None
    kept_previous: bool | None = None  # the graph fell short; the last complete set was used
    # The person's edits of the mini-clusters before this iteration (kingdra.curation), in
    # order; mini_cluster_sizes and the pseudo-labels are those after the edits.
    edits: list[dict] | None = None
    mini_cluster_sizes: list[int] | None = None
    n_pseudo_labelled: int | None = None
    coverage: float | None = None  # n_pseudo_labelled / n
    pseudo_precision: float | None = None  # mini-cluster purity against y_eval
    # With y_eval: the final clusters and each member's (aligned, merged) after the phase.
    acc: float | None = None
    nmi: float | None = None
    ari: float | None = None
    member_acc: list[float] | None = None
    member_nmi: list[float] | None = None
    member_ari: list[float] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict of the known fields (``None`` ones left out)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = type(value)(value) if isinstance(value, (dict, list)) else value
        return out

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """Read a record written by :meth:`to_json` (any kingdra version so far).

        Missing keys are ``None``, except ``phase`` ("base" for iteration 0, else
        "iteration"); keys this version does not know are left out; a key of an earlier
        version is read under its new name (``k`` -> ``mini_clusters_wanted``).

        Raises
        ------
        ValueError
            If ``data`` is not a dict, has no ``iteration`` or a value of the wrong type.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a history record is a dict, got {type(data).__name__}")
        if "iteration" not in data:
            raise ValueError("a history record needs an 'iteration'")
        data = {**{_RENAMED[key]: v for key, v in data.items() if key in _RENAMED}, **data}
        values = {}
        for f in fields(cls):
            if data.get(f.name) is not None:
                values[f.name] = _read(f.name, data[f.name], f.type.removesuffix(" | None"))
        values.setdefault("phase", "base" if values["iteration"] == 0 else "iteration")
        return cls(**values)


def load(records: Any) -> list[dict[str, Any]]:
    """Validate a saved history (a list of records) and return it in this version's JSON form.

    Raises
    ------
    ValueError
        Saying which record is damaged and how.
    """
    if not isinstance(records, list):
        raise ValueError(f"the run history is a list of records, got {type(records).__name__}")
    out = []
    for i, data in enumerate(records):
        try:
            out.append(Record.from_json(data).to_json())
        except ValueError as err:
            raise ValueError(f"the run history's record {i} is damaged: {err}") from None
    return out


def _read(name: str, value: Any, kind: str) -> Any:
    """``value`` checked against the field's type (as written in :class:`Record`)."""
    if kind == "list[int]" or kind == "list[float]":
        if not isinstance(value, list):
            raise ValueError(f"{name!r} must be a list, got {value!r}")
        return [_read(name, v, kind[5:-1]) for v in value]
    if kind == "list[dict]":
        if not isinstance(value, list):
            raise ValueError(f"{name!r} must be a list, got {value!r}")
        return [edit_json(v) for v in value]
    if kind == "dict[str, float]":
        if not isinstance(value, dict):
            raise ValueError(f"{name!r} must be a mapping, got {value!r}")
        return {str(key): _read(f"{name}.{key}", v, "float") for key, v in value.items()}
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise ValueError(f"{name!r} must be {'an' if kind == 'int' else 'a'} {kind}, got {value!r}")
    return value
