"""The Clusters page's work: sample grids, exports, the merge table.

Plain Python, no Streamlit: testable without a browser.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from sklearn.feature_extraction.text import TfidfVectorizer


def wrong_mask(y_true: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Members whose true class differs from their group's majority class (``-1`` never wrong)."""
    y_true = np.asarray(y_true)
    groups = np.asarray(groups)
    wrong = np.zeros(len(groups), bool)
    for g in np.unique(groups[groups >= 0]):
        idx = np.flatnonzero(groups == g)
        majority = np.bincount(y_true[idx]).argmax()
        wrong[idx] = y_true[idx] != majority
    return wrong


def _to_rgb(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.dtype != np.uint8:
        lo, hi = float(images.min()), float(images.max())
        images = ((images - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
    return images


def image_grid(
    images: np.ndarray,
    *,
    n_cols: int = 10,
    wrong: np.ndarray | None = None,
    cell: int = 48,
    pad: int = 4,
) -> np.ndarray:
    """Compose images into one RGB grid; ``wrong`` ones get a red box (paper Fig. 4).

    Parameters
    ----------
    images : ndarray (n, h, w) or (n, h, w, 3)
    n_cols : int
        Images per row.
    wrong : bool ndarray (n,), optional
    cell : int
        Side of each cell in pixels (images are scaled up with nearest neighbour).

    Returns
    -------
    ndarray (H, W, 3) uint8
    """
    images = _to_rgb(images)
    n = len(images)
    if n == 0:
        return np.full((cell + 2 * pad, cell + 2 * pad, 3), 255, np.uint8)
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    wrong = np.zeros(n, bool) if wrong is None else np.asarray(wrong, bool)
    cols = min(n_cols, n)
    rows = -(-n // cols)
    step = cell + pad
    canvas = Image.new("RGB", (cols * step + pad, rows * step + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        r, c = divmod(i, cols)
        x, y = pad + c * step, pad + r * step
        tile = Image.fromarray(images[i]).resize((cell, cell), Image.NEAREST)
        canvas.paste(tile, (x, y))
        if wrong[i]:
            draw.rectangle(
                [x - 2, y - 2, x + cell + 1, y + cell + 1], outline=(220, 20, 20), width=3
            )
    return np.asarray(canvas)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode an RGB array as PNG bytes (for downloads)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def top_words(texts: Sequence[str], groups: np.ndarray, n_words: int = 8) -> dict[int, list[str]]:
    """Highest mean tf-idf words of each group (``-1`` skipped)."""
    groups = np.asarray(groups)
    vec = TfidfVectorizer(stop_words="english", max_features=20_000, min_df=1)
    try:
        tfidf = vec.fit_transform(texts)
    except ValueError:  # only stop words / empty documents
        return {int(g): [] for g in np.unique(groups[groups >= 0])}
    vocab = np.array(vec.get_feature_names_out())
    out = {}
    for g in np.unique(groups[groups >= 0]):
        mean = np.asarray(tfidf[groups == g].mean(axis=0)).ravel()
        out[int(g)] = vocab[np.argsort(-mean)[:n_words]].tolist()
    return out


def labels_csv(
    labels: np.ndarray, *, pseudo: np.ndarray | None = None, y=None, cluster_names=None
) -> str:
    """CSV with one row per sample: index, cluster, pseudo_label (-1 none), true label.

    ``cluster_names`` ({cluster: name}, from the Clusters page) adds a ``cluster_name``
    column ("" where a cluster has no name), quoted as CSV needs.
    """
    labels = np.asarray(labels)
    header = ["index", "cluster"]
    cols = [np.arange(len(labels)).tolist(), labels.astype(int).tolist()]
    if pseudo is not None:
        header.append("pseudo_label")
        cols.append(np.asarray(pseudo).astype(int).tolist())
    if y is not None:
        header.append("true_label")
        cols.append(np.asarray(y).astype(int).tolist())
    if cluster_names:
        header.append("cluster_name")
        cols.append([cluster_names.get(int(c), "") for c in labels])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*cols, strict=True))
    return out.getvalue()


def selection_csv(
    ids: Sequence[int],
    *,
    cluster: np.ndarray | None = None,
    mini_cluster: np.ndarray | None = None,
    pseudo: np.ndarray | None = None,
    y: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    cluster_names: dict[int, str] | None = None,
) -> str:
    """CSV of selected samples: index, then each given column at those rows.

    ``cluster``, ``mini_cluster`` (``-1`` none), ``pseudo`` (``-1`` none) and ``y`` are
    full-length arrays; ``class_names`` adds the true class's original name and ``names`` a
    name per sample (file names); ``cluster_names`` ({cluster: name}) a ``cluster_name``
    column from ``cluster``. Names are quoted as CSV needs.
    """
    ids = np.asarray(ids, dtype=np.int64)
    header = ["index"]
    cols: list[list] = [ids.tolist()]
    for title, values in (
        ("cluster", cluster),
        ("mini_cluster", mini_cluster),
        ("pseudo_label", pseudo),
        ("true_label", y),
    ):
        if values is not None:
            header.append(title)
            cols.append(np.asarray(values)[ids].astype(int).tolist())
    if y is not None and class_names is not None:
        header.append("true_class")
        cols.append([str(class_names[int(v)]) for v in np.asarray(y)[ids]])
    if cluster_names and cluster is not None:
        header.append("cluster_name")
        cols.append([cluster_names.get(int(c), "") for c in np.asarray(cluster)[ids]])
    if names is not None:
        header.append("name")
        cols.append([str(names[int(i)]) for i in ids])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*cols, strict=True))
    return out.getvalue()


def sample_groups(
    groups: np.ndarray, per: int, seed: int = 0
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per group (``-1`` skipped): its id, all its rows and a sorted seeded sample of ``per``."""
    rng = np.random.default_rng(seed)
    out = []
    for g in np.unique(groups[groups >= 0]):
        idx = np.flatnonzero(groups == g)
        shown = np.sort(rng.choice(idx, size=min(per, len(idx)), replace=False))
        out.append((int(g), idx, shown))
    return out


def merge_table(summary: dict, y=None, class_names=None) -> dict[str, list]:
    """Fine cluster -> rows -> final cluster (and its majority class) from ``merge_summary``."""
    table = {
        "fine cluster": list(summary["used"]),
        "rows": list(summary["sizes"]),
        "final cluster": list(summary["groups"]),
    }
    if y is not None:
        fine = summary["fine"]
        majority = [int(np.bincount(y[fine == u]).argmax()) for u in summary["used"]]
        table["majority class"] = [
            str(class_names[c]) if class_names is not None and c < len(class_names) else str(c)
            for c in majority
        ]
    return table


def embedding_hover(index: np.ndarray, labels: np.ndarray, y=None) -> list[str]:
    """Hover text of the UMAP points: sample, cluster, true class."""
    return [
        f"sample {i}<br>cluster {labels[i]}" + ("" if y is None else f"<br>true {y[i]}")
        for i in index
    ]
