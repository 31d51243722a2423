"""What the app's pages show, computed from cached predictions: pure numpy, no Streamlit.

A page passes arrays in (member labels, mini-clusters, images) and draws what comes out,
so everything here is testable without a browser and fast enough for a slider callback.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw


def sample_nodes(n: int, size: int, *, include: Sequence[int] = (), seed: int = 0) -> np.ndarray:
    """A sorted, seeded sample of ``size`` node indices out of ``n`` that contains ``include``.

    The anchors of Algorithm 1 go in ``include`` so the stepper can always show them.
    """
    if n < 1:
        raise ValueError(f"cannot sample from {n} nodes")
    if size < 1:
        raise ValueError(f"sample size must be >= 1, got {size}")
    include = np.unique(np.asarray(include, dtype=np.int64))
    if len(include) and (include.min() < 0 or include.max() >= n):
        raise ValueError(f"nodes to include must be in 0..{n - 1}")
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    rest = np.setdiff1d(np.arange(n), include, assume_unique=True)
    extra = max(size - len(include), 0)
    picked = rng.choice(rest, size=min(extra, len(rest)), replace=False)
    return np.sort(np.concatenate([include, picked]))


def cluster_membership(clusters: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Mini-cluster of each node for display: ``-1`` when unassigned.

    A node claimed by several mini-clusters (possible when ``t_pos + t_neg <= m``) shows
    the first; pseudo-labels leave such nodes out (:func:`kingdra.pseudo.pseudo_labels`).
    """
    out = np.full(n, -1, dtype=np.int64)
    for c in range(len(clusters) - 1, -1, -1):
        out[np.asarray(clusters[c], dtype=np.int64)] = c
    return out


def to_local(pairs: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Map edges between global indices to indices into the sorted array ``nodes``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(pairs) == 0:
        return pairs
    # A lookup table is O(e); searchsorted on millions of negative pairs took ~0.35 s each.
    lookup = np.full(int(max(nodes.max(), pairs.max())) + 1, -1, dtype=np.int64)
    lookup[nodes] = np.arange(len(nodes))
    local = lookup[pairs]
    if (local < 0).any():
        raise ValueError("an edge ends at a node that is not in the sample")
    return local


def hover_texts(
    nodes: np.ndarray,
    member_labels: np.ndarray,
    *,
    y: np.ndarray | None = None,
    membership: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> list[str]:
    """Hover text per node: index, true label, mini-cluster and the m member votes."""
    votes = np.asarray(member_labels)[nodes]
    out = []
    for row, i in enumerate(nodes):
        parts = [f"sample {int(i)}"]
        if y is not None:
            true = int(y[i])
            name = class_names[true] if class_names is not None else str(true)
            parts.append(f"true {name}")
        if membership is not None:
            mc = int(membership[i])
            parts.append("unassigned" if mc < 0 else f"mini-cluster {mc}")
        parts.append("votes " + " ".join(str(int(v)) for v in votes[row]))
        out.append("<br>".join(parts))
    return out


@dataclass
class StepView:
    """What the Algorithm 1 stepper draws at one step, on a node sample (local indices).

    ``groups``: mini-cluster per node among those picked so far (-1 otherwise);
    ``faded``: removed at an earlier step; ``removing``: removed at this step and not in the
    new mini-cluster; ``live``: still in the graph when this step starts (edges drawn among
    them); ``anchor``: local index of this step's anchor or None (step 0: nothing picked).
    """

    groups: np.ndarray
    faded: np.ndarray
    removing: np.ndarray
    live: np.ndarray
    anchor: int | None
    text: str


def step_view(result, nodes: np.ndarray, step: int) -> StepView:
    """Replay Algorithm 1's trace (``GetClustersResult``) up to ``step`` on ``nodes``.

    Step 0 is the initial graph; step ``s`` shows the state right after the ``s``-th pick.
    """
    steps = list(result.steps)
    if not 0 <= step <= len(steps):
        raise ValueError(f"step must be in 0..{len(steps)}, got {step}")
    nodes = np.asarray(nodes, dtype=np.int64)
    s = len(nodes)
    groups = np.full(s, -1, dtype=np.int64)
    faded = np.zeros(s, bool)
    removing = np.zeros(s, bool)
    anchor = None

    def local_mask(global_idx: np.ndarray) -> np.ndarray:
        return np.isin(nodes, np.asarray(global_idx, dtype=np.int64))

    for j in range(step - 1):
        faded |= local_mask(steps[j].removed)
    for j in range(step - 1, -1, -1):
        groups[local_mask(steps[j].members)] = j
    if step == 0:
        text = (
            f"Initial graph: {s:,} sampled nodes. Step 1 picks the node with the most strong "
            "positive edges among the remaining nodes."
        )
    else:
        st = steps[step - 1]
        where = np.flatnonzero(nodes == st.anchor)
        anchor = int(where[0]) if len(where) else None
        removed_now = local_mask(st.removed)
        members_now = local_mask(st.members)
        removing = removed_now & ~members_now
        text = (
            f"Step {step}: anchor sample {int(st.anchor)} has {int(st.degree):,} strong positive "
            f"edges; it and its positive neighbours form mini-cluster {step - 1} "
            f"({len(st.members):,} nodes). {len(st.removed):,} nodes without a strong negative "
            f"edge to the anchor leave the graph; {int(st.remaining):,} remain."
        )
    live = ~faded
    return StepView(groups, faded, removing, live, anchor, text)


def edges_within(pairs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep the local edges whose two ends are both in ``mask``."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs
    return pairs[mask[pairs[:, 0]] & mask[pairs[:, 1]]]


def agreement_matrix(member_labels: np.ndarray) -> np.ndarray:
    """Adjusted Rand index between every two members' labelings (m x m, 1 on the diagonal)."""
    from sklearn.metrics import adjusted_rand_score

    labels = np.asarray(member_labels)
    m = labels.shape[1]
    out = np.eye(m)
    for a in range(m):
        for b in range(a + 1, m):
            out[a, b] = out[b, a] = adjusted_rand_score(labels[:, a], labels[:, b])
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, list[int], list[int]]:
    """Confusion matrix with clusters ordered by the class they best map to (Hungarian).

    Returns the matrix (classes x clusters), the class values and the cluster values.
    """
    from scipy.optimize import linear_sum_assignment

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    clusters = np.unique(y_pred)
    ti = np.searchsorted(classes, y_true)
    pi = np.searchsorted(clusters, y_pred)
    mat = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(mat, (ti, pi), 1)
    rows, cols = linear_sum_assignment(-mat)
    order = list(cols[np.argsort(rows)])
    order += [c for c in range(len(clusters)) if c not in order]
    return mat[:, order], classes.tolist(), clusters[order].tolist()


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
    from sklearn.feature_extraction.text import TfidfVectorizer

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


def labels_csv(labels: np.ndarray, *, pseudo: np.ndarray | None = None, y=None) -> str:
    """CSV with one row per sample: index, cluster, pseudo_label (-1 none), true label."""
    labels = np.asarray(labels)
    header = ["index", "cluster"]
    cols = [np.arange(len(labels)), labels]
    if pseudo is not None:
        header.append("pseudo_label")
        cols.append(np.asarray(pseudo))
    if y is not None:
        header.append("true_label")
        cols.append(np.asarray(y))
    lines = [",".join(header)]
    lines.extend(",".join(str(int(v)) for v in row) for row in zip(*cols, strict=True))
    return "\n".join(lines) + "\n"


def mini_clusters_json(clusters: Sequence[np.ndarray], **params) -> str:
    """Mini-clusters and the thresholds that produced them, as JSON."""
    return json.dumps(
        {
            "params": {k: (float(v) if isinstance(v, float) else v) for k, v in params.items()},
            "mini_clusters": [np.asarray(c).astype(int).tolist() for c in clusters],
        },
        indent=1,
    )
