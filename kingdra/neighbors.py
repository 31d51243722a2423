"""Exact k nearest neighbours in input space, in row blocks on the data's device."""

from __future__ import annotations

import torch

_BLOCK = 2048


@torch.no_grad()
def nearest_neighbors(X: torch.Tensor, k: int) -> torch.Tensor:
    """(n, k) indices of each row's ``k`` nearest other rows (squared Euclidean).

    Never holds more than a ``block x n`` distance matrix.
    """
    n = X.shape[0]
    if n < 2:
        raise ValueError("need at least 2 rows to find neighbours")
    k = min(int(k), n - 1)
    sq = X.pow(2).sum(dim=1)
    out = torch.empty(n, k, dtype=torch.int64, device=X.device)
    for start in range(0, n, _BLOCK):
        rows = X[start : start + _BLOCK]
        dist = sq[start : start + _BLOCK, None] - 2 * rows @ X.T + sq[None, :]
        idx = torch.arange(start, start + rows.shape[0], device=X.device)
        dist[idx - start, idx] = float("inf")
        out[start : start + rows.shape[0]] = dist.topk(k, dim=1, largest=False).indices
    return out
