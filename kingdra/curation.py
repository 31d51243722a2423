"""Mini-clusters a person can correct before the next iteration trains on them.

Algorithm 1 gives the mini-clusters ``S`` (:meth:`KingdraEngine.build_graph`); before
Algorithm 2's next iteration turns them into pseudo-labels, a person may

- ``reject`` mini-cluster i (its points go unlabelled),
- ``drop`` some rows from mini-cluster i (they go unlabelled),
- ``merge`` mini-cluster j into i (one pseudo-label for both),
- ``add`` rows as a new mini-cluster (they leave any mini-cluster that held them).

An edit is a plain JSON dict (``{"op": "drop", "cluster": 2, "rows": [5, 9]}``), so the
history records it as it is and a checkpoint keeps the pending ones. Mini-cluster numbers
stay those of the graph: a rejected or merged-away mini-cluster stays as an empty slot, and
``add`` appends one, so "mini-cluster 3" means the same group before and after each edit.

>>> S = [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6])]
>>> edited = apply_edits(S, [{"op": "reject", "cluster": 1}, {"op": "merge", "clusters": [0, 2]}])
>>> [c.tolist() for c in edited]
[[0, 1, 2, 5, 6], [], []]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["OPS", "apply_edit", "apply_edits", "describe", "edit_json"]

OPS = ("reject", "drop", "merge", "add")


def _cluster(clusters: Sequence[np.ndarray], i: Any, what: str = "cluster") -> int:
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise ValueError(f"{what} must be a mini-cluster number (an integer), got {i!r}")
    if not 0 <= i < len(clusters):
        raise ValueError(
            f"there is no mini-cluster {i}: the numbers are 0..{len(clusters) - 1}; "
            "pick one of those"
        )
    if len(clusters[i]) == 0:
        raise ValueError(f"mini-cluster {i} is empty (rejected or merged away); pick another")
    return int(i)


def _rows(rows: Any, n: int) -> np.ndarray:
    try:
        arr = np.asarray(rows)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rows must be a list of row numbers: {err}") from err
    if arr.size == 0:
        raise ValueError("no rows given: select some points first")
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"rows must be a 1-D list of integer row numbers, got {rows!r}")
    if arr.min() < 0 or arr.max() >= n:
        bad = arr[(arr < 0) | (arr >= n)]
        raise ValueError(
            f"rows {bad[:5].tolist()} are outside the data (0..{n - 1}); use row numbers of X"
        )
    return np.unique(arr).astype(np.int64)


def edit_json(edit: Any) -> dict[str, Any]:
    """``edit`` checked for its shape (not yet against any mini-clusters), as plain JSON.

    Raises
    ------
    ValueError
        Not a dict, an unknown ``op``, or a missing or mistyped field.
    """
    if not isinstance(edit, dict):
        raise ValueError(f"an edit is a dict with an 'op', got {type(edit).__name__}")
    op = edit.get("op")
    if op not in OPS:
        raise ValueError(f"an edit's op must be one of {', '.join(OPS)}; got {op!r}")
    out: dict[str, Any] = {"op": op}
    try:
        if op in ("reject", "drop"):
            out["cluster"] = int(edit["cluster"])
        if op == "merge":
            i, j = edit["clusters"]
            out["clusters"] = [int(i), int(j)]
        if op in ("drop", "add"):
            out["rows"] = [int(r) for r in edit["rows"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"the {op} edit {edit!r} is missing or mistypes a field ({err})") from None
    return out


def apply_edit(
    clusters: Sequence[np.ndarray], edit: dict[str, Any], n: int, max_clusters: int | None = None
) -> list[np.ndarray]:
    """The mini-clusters after one edit (a new list; the input is not changed).

    Parameters
    ----------
    clusters : list of int arrays
        Mini-clusters as row indices, in the graph's numbering (empty slots allowed).
    edit : dict
        ``{"op": "reject", "cluster": i}``, ``{"op": "drop", "cluster": i, "rows": [...]}``,
        ``{"op": "merge", "clusters": [i, j]}`` (j into i) or ``{"op": "add", "rows": [...]}``.
    n : int
        Rows of the data.
    max_clusters : int, optional
        At most this many non-empty mini-clusters (a member has this many classes to match
        them to); ``add`` past it is refused.

    Raises
    ------
    ValueError
        Saying what to fix: a number out of range, an empty mini-cluster, rows not in the
        mini-cluster, an edit that would leave nothing.
    """
    edit = edit_json(edit)
    out = [np.asarray(c, dtype=np.int64) for c in clusters]
    op = edit["op"]
    if op == "reject":
        i = _cluster(out, edit["cluster"])
        if sum(len(c) > 0 for c in out) == 1:
            raise ValueError(
                f"mini-cluster {i} is the last one: rejecting it leaves no pseudo-labels; "
                "keep it or lower the thresholds for more"
            )
        out[i] = np.empty(0, dtype=np.int64)
    elif op == "drop":
        i = _cluster(out, edit["cluster"])
        rows = _rows(edit["rows"], n)
        missing = np.setdiff1d(rows, out[i])
        if missing.size:
            raise ValueError(
                f"rows {missing[:5].tolist()} are not in mini-cluster {i}; "
                "select points of that mini-cluster only"
            )
        kept = np.setdiff1d(out[i], rows)
        if kept.size == 0:
            raise ValueError(f"dropping these rows empties mini-cluster {i}; reject it instead")
        out[i] = kept
    elif op == "merge":
        i = _cluster(out, edit["clusters"][0], "the first cluster to merge")
        j = _cluster(out, edit["clusters"][1], "the second cluster to merge")
        if i == j:
            raise ValueError(f"cannot merge mini-cluster {i} with itself; pick two different ones")
        out[i] = np.union1d(out[i], out[j])
        out[j] = np.empty(0, dtype=np.int64)
    else:  # add
        rows = _rows(edit["rows"], n)
        used = sum(len(c) > 0 for c in out)
        out = [np.setdiff1d(c, rows) for c in out]
        emptied = [i for i, c in enumerate(clusters) if len(c) and not len(out[i])]
        if emptied:
            raise ValueError(
                f"these rows are all of mini-cluster {emptied[0]}; it would be left empty "
                "(keep it as it is, or reject it and then add the rows)"
            )
        if max_clusters is not None and used >= max_clusters:
            raise ValueError(
                f"there are already {used} mini-clusters, as many as each member has classes "
                f"({max_clusters}); reject or merge one first"
            )
        out.append(rows)
    return out


def apply_edits(
    clusters: Sequence[np.ndarray],
    edits: Sequence[dict[str, Any]],
    n: int | None = None,
    max_clusters: int | None = None,
) -> list[np.ndarray]:
    """The mini-clusters after ``edits`` in order (all or nothing; see :func:`apply_edit`).

    ``n`` defaults to one past the largest row in ``clusters``.
    """
    if n is None:
        n = 1 + max((int(np.max(c)) for c in clusters if len(c)), default=-1)
    out = [np.asarray(c, dtype=np.int64) for c in clusters]
    for k, edit in enumerate(edits):
        try:
            out = apply_edit(out, edit, n, max_clusters)
        except ValueError as err:
            raise ValueError(f"edit {k + 1} ({describe(edit)}): {err}") from None
    return out


def describe(edit: Any) -> str:
    """One line for an edit, for tables and logs ("merge mini-cluster 4 into 1")."""
    if not isinstance(edit, dict):
        return repr(edit)
    op = edit.get("op")
    if op == "reject":
        return f"reject mini-cluster {edit.get('cluster')}"
    if op == "drop":
        return f"drop {len(edit.get('rows') or [])} row(s) from mini-cluster {edit.get('cluster')}"
    if op == "merge":
        i, j = (list(edit.get("clusters") or []) + [None, None])[:2]
        return f"merge mini-cluster {j} into {i}"
    if op == "add":
        return f"add {len(edit.get('rows') or [])} row(s) as a new mini-cluster"
    return repr(edit)
