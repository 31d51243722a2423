"""Training of the batched ensemble: epochs, batches, progress callbacks and stop.

The trainer knows nothing of graphs or mini-clusters: it runs epochs of one objective
(:mod:`kingdra.bases`) over per-member batches, optionally with pseudo-labelled rows drawn
class-balanced (round robin over each member's pseudo-classes, as the authors' release does)
and with nearest-neighbour rows, and reports through a callback, so that the CLI's progress
bar and the app's progress board use the same hook.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from kingdra.config import KingdraConfig


class Cancelled(Exception):
    """Raised out of a training call when :meth:`Trainer.request_stop` was called."""


@dataclass
class Progress:
    """What a progress callback receives, once per batch and once per epoch."""

    phase: str  # "base" (unsupervised start) or "iteration" (semi-supervised)
    event: str  # "batch" or "epoch"
    epoch: int  # 1-based epoch within this call
    n_epochs: int
    batch: int  # 1-based batch within the epoch (== n_batches on "epoch" events)
    n_batches: int
    loss: dict[str, float] = field(default_factory=dict)  # mean over members (and the epoch)
    elapsed_s: float = 0.0  # since the start of this train_* call
    eta_s: float = 0.0  # seconds left in this train_* call; NaN until two batches are timed
    iteration: int = 0  # Kingdra iteration being trained (0 = base)


Callback = Callable[[Progress], None]  # may predict between batches (the app's preview)


class Trainer:
    """Runs epochs of ``objective`` on ``model`` with one Adam optimizer for all members.

    Parameters
    ----------
    model : torch.nn.Module
        The batched members (:func:`kingdra.bases.build_members`).
    objective : callable
        :func:`kingdra.bases.build_objective`'s result.
    config : KingdraConfig
    seed : int
        Seeds the batch order and pseudo-label sampling (CPU) and the noise (device).
    device : torch.device
    stop : threading.Event, optional
        The event :meth:`request_stop` sets; another trainer's, to stop both with one call
        (the engine's :mod:`kingdra.pilot`). Default: a new one.
    """

    def __init__(
        self,
        model,
        objective,
        config: KingdraConfig,
        seed: int,
        device,
        stop: threading.Event | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.config = config
        self.device = device
        # One fused kernel for all parameters: the step alone is ~6x faster than the
        # per-tensor loop on a CPU; whole epochs gain less (benchmarks/bench_epoch.py).
        fused = torch.device(device).type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=fused or None)
        self.cpu_gen = torch.Generator().manual_seed(seed + 1)
        self.dev_gen = torch.Generator(device=device).manual_seed(seed + 2)
        self._stop = threading.Event() if stop is None else stop

    @property
    def stop_event(self) -> threading.Event:
        """The event :meth:`request_stop` sets (shareable with another trainer)."""
        return self._stop

    def request_stop(self) -> None:
        """Stop a running :meth:`train_epochs` after the current batch (raises Cancelled)."""
        self._stop.set()

    def balanced_indices(self, pseudo: np.ndarray, total: int) -> torch.Tensor:
        """(m, total) row indices drawn round robin over each member's pseudo-classes."""
        m = pseudo.shape[1]
        rows = []
        for j in range(m):
            classes = [c for c in np.unique(pseudo[:, j]) if c >= 0]
            if not classes:  # nothing labelled for this member: rows whose targets are -1
                rows.append(torch.from_numpy(np.flatnonzero(pseudo[:, j] < 0)[:1]).repeat(total))
                continue
            per_class = math.ceil(total / len(classes))
            streams = []
            for c in classes:
                members = torch.from_numpy(np.flatnonzero(pseudo[:, j] == c))
                reps = math.ceil(per_class / len(members))
                keys = torch.rand(reps, len(members), generator=self.cpu_gen)
                streams.append(members[keys.argsort(dim=1)].reshape(-1)[:per_class])
            rows.append(torch.stack(streams, dim=1).reshape(-1)[:total])  # round robin
        return torch.stack(rows)

    def _report(self, callback: Callback, progress: Progress) -> None:
        """Call ``callback``; training goes on in train mode even if it predicted (eval mode).

        Predicting touches neither the weights, the batch-norm statistics nor the
        generators, so a callback that predicts (the app's preview) leaves the run as it was.
        """
        callback(progress)
        self.model.train()

    def train_epochs(
        self,
        X: torch.Tensor,
        epochs: int,
        phase: str,
        callback: Callback | None = None,
        pseudo: np.ndarray | None = None,
        neighbors: torch.Tensor | None = None,
        iteration: int = 0,
    ) -> dict[str, float]:
        """Train ``epochs`` epochs on ``X`` (n, d); returns the mean loss parts over all batches.

        Parameters
        ----------
        phase : {"base", "iteration"}
            Reported in :class:`Progress`.
        pseudo : (n, m) int array, optional
            Each member's pseudo-label per row, -1 = unlabelled; adds class-balanced
            pseudo-labelled rows to every batch.
        neighbors : (n, r) int tensor, optional
            Input-space neighbours; adds one neighbour row per unlabelled row.
        iteration : int
            Kingdra iterations done before this call (reported in :class:`Progress`).
        """
        m, n = self.config.n_models, X.shape[0]
        batch = min(self.config.batch_size, n)
        n_batches = max(1, n // batch)
        use_sup = pseudo is not None and bool((pseudo >= 0).any())
        if use_sup:
            pseudo_t = torch.from_numpy(pseudo.T.astype(np.int64)).to(self.device)  # (m, n)
        self.objective.prepare(X)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        start = time.perf_counter()
        first_s = 0.0  # the first batch carries one-time warm-up: left out of the rate
        total = epochs * n_batches
        self.model.train()
        for epoch in range(epochs):
            perm = torch.rand(m, n, generator=self.cpu_gen).argsort(dim=1).to(self.device)
            if use_sup:
                sup_rows = self.balanced_indices(pseudo, n_batches * batch).to(self.device)
            epoch_sums: dict[str, torch.Tensor] = {}
            for b in range(n_batches):
                if self._stop.is_set():
                    self._stop.clear()
                    self.model.eval()
                    raise Cancelled(f"stopped during {phase} epoch {epoch + 1}, batch {b + 1}")
                idx = perm[:, b * batch : (b + 1) * batch]  # (m, B)
                x = X[idx]  # (m, B, d)
                targets = None
                n_near = 0
                if neighbors is not None:
                    pick = torch.randint(neighbors.shape[1], idx.shape, generator=self.cpu_gen).to(
                        self.device
                    )
                    near = neighbors[idx, pick]  # (m, B)
                    x = torch.cat([x, X[near]], dim=1)
                    n_near = batch
                if use_sup:
                    sidx = sup_rows[:, b * batch : (b + 1) * batch]  # (m, B)
                    x = torch.cat([x, X[sidx]], dim=1)  # (m, 2B or 3B, d)
                    targets = pseudo_t.gather(1, sidx)  # (m, B)
                loss, parts = self.objective(
                    self.model, x, idx, batch, n_near, targets, generator=self.dev_gen
                )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                for key, value in parts.items():
                    v = value.detach().mean()
                    epoch_sums[key] = epoch_sums.get(key, 0.0) + v
                if callback is not None:
                    done = epoch * n_batches + b + 1
                    elapsed = time.perf_counter() - start
                    first_s = elapsed if done == 1 else first_s
                    self._report(
                        callback,
                        Progress(
                            phase,
                            "batch",
                            epoch + 1,
                            epochs,
                            b + 1,
                            n_batches,
                            {k: float(v.detach().mean()) for k, v in parts.items()},
                            elapsed,
                            seconds_left(elapsed, first_s, done, total),
                            iteration + (phase == "iteration"),
                        ),
                    )
            for key, value in epoch_sums.items():
                sums[key] = sums.get(key, 0.0) + value
            count += n_batches
            if callback is not None:
                elapsed = time.perf_counter() - start
                self._report(
                    callback,
                    Progress(
                        phase,
                        "epoch",
                        epoch + 1,
                        epochs,
                        n_batches,
                        n_batches,
                        {k: float(v) / n_batches for k, v in epoch_sums.items()},
                        elapsed,
                        seconds_left(elapsed, first_s, (epoch + 1) * n_batches, total),
                        iteration + (phase == "iteration"),
                    ),
                )
        self.model.eval()
        return {k: float(v) / max(count, 1) for k, v in sums.items()}


def seconds_left(elapsed: float, first_s: float, done: int, total: int) -> float:
    """Seconds left from the time per batch measured so far, the first batch left out.

    The first batch of a call pays one-time costs (memory, kernels), so it would inflate an
    estimate made from it; with fewer than two batches timed the answer is NaN (unknown).
    """
    if done >= total:
        return 0.0
    if done < 2:
        return math.nan
    return (elapsed - first_s) / (done - 1) * (total - done)
