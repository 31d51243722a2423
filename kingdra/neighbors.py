"""Exact k nearest neighbours in input space, in row blocks on the data's device.

Used by the neighbour-consistency term (``KingdraConfig.neighbor_weight``): each training
row is paired with one of its ``n_neighbors`` nearest rows. Computed once per dataset; the
largest temporary is a ``block x n`` distance matrix of at most :data:`MAX_BLOCK_ENTRIES`
floats (256 MB), so 70,000 MNIST rows never need an n x n matrix.
"""

from __future__ import annotations

import torch

MAX_BLOCK_ROWS = 2048
MAX_BLOCK_ENTRIES = 2**26


@torch.no_grad()
def nearest_neighbors(
    X: torch.Tensor, k: int, return_distance: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """(n, k) indices of each row's ``k`` nearest other rows by Euclidean distance.

    Parameters
    ----------
    X : torch.Tensor (n, d)
        Rows to search, on any device; the result is on the same device.
    k : int
        Neighbours per row; more than ``n - 1`` is cut to ``n - 1``.
    return_distance : bool
        Also return the (n, k) Euclidean distances.

    Returns
    -------
    torch.Tensor of int64, shape (n, min(k, n - 1))
        Nearest first; a row is never its own neighbour (an identical copy can be).
        With ``return_distance``, a pair ``(distances, indices)``.

    Examples
    --------
    >>> nearest_neighbors(torch.tensor([[0.0], [1.0], [5.0]]), 1).tolist()
    [[1], [0], [1]]
    """
    if X.dim() != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 rows to find neighbours, got {n}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = min(k, n - 1)
    X = X.float()
    dist, idx = _nearest(X, X, k, exclude_self=True)
    return (dist, idx) if return_distance else idx


@torch.no_grad()
def nearest_reference_rows(
    queries: torch.Tensor, reference: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances and indices (each (q, k)) of every query's ``k`` nearest rows of ``reference``.

    A query equal to a reference row finds it at distance 0 (nothing is excluded).

    >>> d, i = nearest_reference_rows(torch.tensor([[0.9]]), torch.tensor([[0.0], [1.0]]), 1)
    >>> i.tolist()
    [[1]]
    """
    if queries.dim() != 2 or reference.dim() != 2 or queries.shape[1] != reference.shape[1]:
        raise ValueError(
            f"queries {tuple(queries.shape)} and reference {tuple(reference.shape)} must be "
            "2-D with the same number of columns"
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= reference.shape[0]:
        raise ValueError(f"k must be an integer in 1..{reference.shape[0]}, got {k!r}")
    return _nearest(queries.float(), reference.float(), k, exclude_self=False)


def _nearest(
    Q: torch.Tensor, R: torch.Tensor, k: int, exclude_self: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blockwise exact k nearest rows of ``R`` for each row of ``Q`` (``Q is R`` to exclude)."""
    n = R.shape[0]
    sq_q, sq_r = Q.pow(2).sum(dim=1), R.pow(2).sum(dim=1)
    block = max(1, min(MAX_BLOCK_ROWS, MAX_BLOCK_ENTRIES // n))
    out = torch.empty(Q.shape[0], k, dtype=torch.int64, device=Q.device)
    dist_out = torch.empty(Q.shape[0], k, dtype=Q.dtype, device=Q.device)
    for start in range(0, Q.shape[0], block):
        rows = Q[start : start + block]
        size = rows.shape[0]
        dist = sq_q[start : start + size, None] - 2.0 * rows @ R.T + sq_r[None, :]
        if exclude_self:
            own = torch.arange(size, device=Q.device)
            dist[own, own + start] = float("inf")
        top = dist.topk(k, dim=1, largest=False)
        out[start : start + size] = top.indices
        dist_out[start : start + size] = top.values.clamp_min(0.0).sqrt()
    return dist_out, out
