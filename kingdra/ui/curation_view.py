"""The Clusters page's curation panel, without Streamlit: rows typed or selected, the table.

The edits themselves are :mod:`kingdra.curation`'s; the session keeps them for the next
iteration (:meth:`kingdra.ui.session.AppSession.add_edit`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from kingdra.curation import describe

__all__ = [
    "cluster_name_column",
    "curation_table",
    "edits_list",
    "parse_rows",
    "rows_text",
    "selection_holders",
]


def parse_rows(text: str) -> list[int]:
    """Row numbers from "3, 17 42" or "10-14" (ranges inclusive); ValueError says what is wrong.

    >>> parse_rows("3, 17 10-12")
    [3, 10, 11, 12, 17]
    """
    rows: set[int] = set()
    for part in re.split(r"[,\s;]+", str(text).strip()):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise ValueError(
                f"{part!r} is not a row number: type numbers like 3, 17, 42 or a range 10-14"
            )
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo:
            raise ValueError(f"the range {part!r} runs backwards; write it as {hi}-{lo}")
        rows.update(range(lo, hi + 1))
    if not rows:
        raise ValueError("no rows given: select points on the UMAP or type row numbers")
    return sorted(rows)


def edits_list(edits: Sequence[dict]) -> str:
    """The pending edits as a numbered Markdown list, in words (:func:`kingdra.curation.describe`).

    >>> edits_list([{"op": "reject", "cluster": 2}])
    '1. reject mini-cluster 2'
    """
    return "\n".join(f"{k + 1}. {describe(e)}" for k, e in enumerate(edits))


def rows_text(ids: Sequence[int]) -> str:
    """Rows as the text :func:`parse_rows` reads back."""
    return ", ".join(str(int(i)) for i in sorted(set(int(i) for i in ids)))


def selection_holders(
    rows: Sequence[int], clusters: Sequence[np.ndarray]
) -> list[tuple[int, np.ndarray]]:
    """The mini-clusters holding some of ``rows``, with those rows; the largest share first.

    What a selection can be dropped from: ``{"op": "drop", "cluster": i, "rows": held}``
    takes out exactly the selected rows that mini-cluster ``i`` holds.

    >>> [(i, r.tolist()) for i, r in selection_holders([1, 2, 7], [np.array([0, 1]), np.array([2, 7])])]
    [(1, [2, 7]), (0, [1])]
    """
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    out = []
    for i, c in enumerate(clusters):
        held = np.intersect1d(rows, np.asarray(c, dtype=np.int64))
        if len(held):
            out.append((i, held))
    return sorted(out, key=lambda pair: -len(pair[1]))


def curation_table(
    original: Sequence[np.ndarray],
    edited: Sequence[np.ndarray],
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, list]:
    """One row per mini-cluster of the edited set: size before and after, what happened.

    ``status``: "kept", "rejected" (emptied), "edited" (rows dropped or merged in) or "new"
    (added from a selection); with ``y``, the majority true class and the purity.
    """
    out: dict[str, list] = {"mini-cluster": [], "size": [], "was": [], "status": []}
    if y is not None:
        out["majority class"], out["purity"] = [], []
    for i, rows in enumerate(edited):
        before = np.asarray(original[i]) if i < len(original) else None
        if before is None:
            status = "new"
        elif len(rows) == 0:
            status = "rejected" if len(before) else "empty"
        else:
            status = "kept" if np.array_equal(np.sort(before), np.sort(rows)) else "edited"
        out["mini-cluster"].append(i)
        out["size"].append(int(len(rows)))
        out["was"].append(None if before is None else int(len(before)))
        out["status"].append(status)
        if y is not None:
            if len(rows):
                values, counts = np.unique(np.asarray(y)[rows], return_counts=True)
                top = values[np.argmax(counts)]
                name = class_names[int(top)] if class_names is not None else top
                out["majority class"].append(str(name))
                out["purity"].append(round(float(counts.max() / len(rows)), 3))
            else:
                out["majority class"].append("")
                out["purity"].append(None)
    return out


def cluster_name_column(labels: np.ndarray, names: Mapping[int, str]) -> list[str]:
    """Each row's final-cluster name ("" for an unnamed cluster)."""
    return [names.get(int(c), "") for c in np.asarray(labels)]
