"""The History page's work: one row per iteration, member accuracies, member agreement.

The rows are read from the run's own records (``engine.history``, :class:`kingdra.history.
Record`), never recomputed: what each iteration trained on and what it gave, as recorded.
Plain Python, no Streamlit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kingdra.curation import describe
from kingdra.history import Record
from kingdra.metrics import cluster_accuracy


def member_accuracies(snapshot, y: np.ndarray) -> list[float]:
    """ACC of each member on the final clusters, as ``engine.history[i]["member_acc"]``.

    Scores ``snapshot.final_member_labels`` (aligned and merged), never the raw member
    outputs: with over-clustering those are 2k fine clusters, and their ACC against k classes
    reads far below the ensemble's for no fault of the member.
    """
    labels = snapshot.final_member_labels
    if labels is None:
        raise ValueError("this snapshot has no final member labels; take a new snapshot")
    return [float(cluster_accuracy(y, labels[:, j])) for j in range(labels.shape[1])]


def agreement_matrix(member_labels: np.ndarray) -> np.ndarray:
    """Adjusted Rand index between every two members' labelings (m x m, 1 on the diagonal).

    scikit-learn's ``adjusted_rand_score`` (pair-confusion form, same special cases) from one
    ``bincount`` contingency table per pair: its input checks took 1.1 s for the 45 pairs of
    10 members on 70,000 rows, this about 0.05 s.
    """
    labels = np.asarray(member_labels)
    n, m = labels.shape
    codes, sizes = [], []
    for j in range(m):
        values, inverse = np.unique(labels[:, j], return_inverse=True)
        codes.append(inverse.reshape(-1).astype(np.int64))
        sizes.append(len(values))
    out = np.eye(m)
    for a in range(m):
        for b in range(a + 1, m):
            table = np.bincount(codes[a] * sizes[b] + codes[b], minlength=sizes[a] * sizes[b])
            out[a, b] = out[b, a] = _ari(table.reshape(sizes[a], sizes[b]), n)
    return out


def _ari(contingency: np.ndarray, n: int) -> float:
    # sklearn.metrics.cluster.pair_confusion_matrix, then adjusted_rand_score, in Python ints
    sum_squares = int((contingency.astype(np.int64) ** 2).sum())
    rows = int((contingency.sum(axis=1).astype(np.int64) ** 2).sum())
    cols = int((contingency.sum(axis=0).astype(np.int64) ** 2).sum())
    tp = sum_squares - n
    fp = cols - sum_squares
    fn = rows - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:  # identical labelings, or one cluster / all singletons in both
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def timeline_rows(history, upto: int | None = None) -> list[dict]:
    """Algorithm 2 iteration by iteration, from ``engine.history`` (the paper's Fig. 2).

    One row per iteration (0 = base ensemble): ``acc`` after it and, for iterations >= 1,
    the pseudo-labels it trained on (``mini_cluster_sizes``, ``n_pseudo_labelled``,
    ``coverage``, ``pseudo_precision``; None for the base ensemble, which trains on none),
    the graph that gave them (``t_pos``, ``t_neg``, ``mini_clusters_wanted``,
    ``min_confidence``) and ``edits``: a person's edits of those mini-clusters, one line each
    (kingdra.curation).
    The last record of an iteration wins (a resumed run may repeat one); ``upto`` drops the
    iterations past the page's latest snapshot (the worker may be recording the next).
    """
    by_iteration: dict[int, Record] = {}
    for data in list(history):
        record = Record.from_json(data)
        if upto is None or record.iteration <= upto:
            by_iteration[record.iteration] = record
    rows = []
    for it in sorted(by_iteration):
        r = by_iteration[it]
        sizes = list(r.mini_cluster_sizes or []) if it else []
        rows.append(
            {
                "iteration": it,
                "acc": _number(r.acc),
                "mini_cluster_sizes": sizes,
                "n_mini_clusters": sum(s > 0 for s in sizes) if it else None,
                "n_pseudo_labelled": _number(r.n_pseudo_labelled) if it else None,
                "coverage": _number(r.coverage) if it else None,
                "pseudo_precision": _number(r.pseudo_precision) if it else None,
                "t_pos": r.t_pos if it else None,
                "t_neg": r.t_neg if it else None,
                "mini_clusters_wanted": r.mini_clusters_wanted if it else None,
                "min_confidence": _number(r.min_confidence) if it else None,
                "edits": [describe(e) for e in r.edits or []],
            }
        )
    return rows


TIMELINE_METRICS = (  # label, timeline_rows key, format
    ("mini-clusters", "n_mini_clusters", "{:,}"),
    ("pseudo-labels", "n_pseudo_labelled", "{:,}"),
    ("pseudo-label precision", "pseudo_precision", "{:.1%}"),
    ("ACC", "acc", "{:.1%}"),
)


def timeline_metrics(rows: list[dict], iteration: int) -> list[tuple[str, str, str | None]]:
    """(label, value, change since the iteration before) of the timeline's metrics.

    >>> rows = [{"iteration": 0, "n_mini_clusters": None, "n_pseudo_labelled": None,
    ...          "pseudo_precision": None, "acc": 0.5},
    ...         {"iteration": 1, "n_mini_clusters": 10, "n_pseudo_labelled": 1200,
    ...          "pseudo_precision": 0.95, "acc": 0.625}]
    >>> timeline_metrics(rows, 1)[2:]
    [('pseudo-label precision', '95.0%', None), ('ACC', '62.5%', '12.5%')]
    """
    at = [r["iteration"] for r in rows].index(iteration)
    now, before = rows[at], rows[at - 1] if at else None
    out = []
    for label, name, fmt in TIMELINE_METRICS:
        value = now[name]
        delta = None
        if before is not None and value is not None and before[name] is not None:
            delta = fmt.format(value - before[name])
        out.append((label, "–" if value is None else fmt.format(value), delta))
    return out


# The table's columns: its name -> the timeline_rows key it shows. Algorithm 1's k is the
# number of mini-clusters it looks for (with over-clustering, one per fine cluster); the
# user's k is the number of clusters, so the column says what it is.
TABLE_COLUMNS = {
    "iteration": "iteration",
    "acc": "acc",
    "precision": "pseudo_precision",
    "n_labelled": "n_pseudo_labelled",
    "coverage": "coverage",
    "n_mini_clusters": "n_mini_clusters",
    "t_pos": "t_pos",
    "t_neg": "t_neg",
    "mini-clusters wanted": "mini_clusters_wanted",
    "min_confidence": "min_confidence",
}
EDITS_COLUMN = "your edits before it"


def table_rows(rows: list[dict]) -> list[dict]:
    """The History table from :func:`timeline_rows`: one row per iteration, as recorded.

    Iteration ``t``'s precision, counts and thresholds are those of the pseudo-labels it
    trained on (after a person's edits, which :data:`EDITS_COLUMN` lists when there are
    any); its ``acc`` is the final clusters' after it. :func:`kingdra.plots.history_figure`
    draws these rows.

    >>> row = table_rows([{"iteration": 1, "acc": 0.9, "pseudo_precision": 0.95}])[0]
    >>> row["acc"], row["precision"], row["n_labelled"]
    (0.9, 0.95, None)
    """
    table = [{name: row.get(key) for name, key in TABLE_COLUMNS.items()} for row in rows]
    if any(row.get("edits") for row in rows):
        for out, row in zip(table, rows, strict=True):
            out[EDITS_COLUMN] = "; ".join(row.get("edits") or [])
    return table


def history_table(rows: list[dict]) -> pd.DataFrame:
    """:func:`table_rows` indexed by iteration (no records: the columns alone)."""
    return pd.DataFrame(rows, columns=list(rows[0] if rows else TABLE_COLUMNS)).set_index(
        "iteration"
    )


def _number(value):
    """A float or int as it is; None and NaN as None (JSON and tables show them alike)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value
