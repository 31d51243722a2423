"""The base models of the ensemble: one place that maps ``config.base`` to a network and loss.

A base is a pair (batched member network, objective). The engine trains any base the same
way: it hands the objective the network, one batch of rows per member laid out as
``[unlabelled | neighbours | pseudo-labelled]`` and their row indices, and gets back the
loss to minimise and its parts per member for logging.

- ``ladder-im`` / ``ladder-dot``: the paper's Ladder networks (:mod:`kingdra.ladder`,
  :mod:`kingdra.losses`), regularised by Gaussian noise and denoising.
- ``imsat``: IMSAT's MLP regularised by virtual adversarial self-augmentation
  (:mod:`kingdra.imsat`) with the same IM loss; its per-row radius comes from input-space
  nearest-neighbour distances, so it fits any vector data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import torch
from torch import nn

from kingdra.config import KingdraConfig
from kingdra.imsat import MLPEnsemble, vat_loss
from kingdra.ladder import LadderEnsemble
from kingdra.losses import IMLoss, KingdraLoss, NeighborLoss, SupervisedCE
from kingdra.neighbors import nearest_neighbors

logger = logging.getLogger(__name__)

#: The neighbour whose distance sets the VAT radius (IMSAT: the 10th).
VAT_NEIGHBOR_RANK = 10


def build_members(config: KingdraConfig, n_features: int, generator: torch.Generator) -> nn.Module:
    """The batched network of ``config.n_models`` members for ``config.base``."""
    if config.base == "imsat":
        return MLPEnsemble(
            n_features, config.hidden, config.n_outputs, config.n_models, generator=generator
        )
    return LadderEnsemble(
        n_features,
        config.hidden,
        config.n_outputs,
        config.n_models,
        config.noise_std,
        config.resolved_denoise_weights,
        generator=generator,
    )


#: Rows per prediction pass: bounds the (m, rows, width) activations on a large data set.
PREDICT_CHUNK = 8192


@torch.no_grad()
def predict_chunks(
    model: nn.Module, X: torch.Tensor
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``model.predict`` (eval mode) over ``X`` (n, d), :data:`PREDICT_CHUNK` rows at a time.

    Yields each chunk's probabilities (m, rows, k) and top hidden layer (m, rows, d_top), on
    the model's device; the caller keeps what it needs of them (a whole data set's hidden
    layers of every member would not fit in memory).
    """
    model.eval()
    for start in range(0, X.shape[0], PREDICT_CHUNK):
        yield model.predict(X[start : start + PREDICT_CHUNK])


class LadderObjective:
    """Ladder-IM / Ladder-Dot: one noisy and one clean pass, then :class:`KingdraLoss`."""

    def __init__(self, config: KingdraConfig) -> None:
        self.loss = KingdraLoss(config)

    def prepare(self, X: torch.Tensor) -> None:
        """Nothing to precompute from the data."""

    def __call__(self, model, x, rows, n_unlabelled, n_neighbors, targets, generator):
        """Loss of one step; see the module docstring for the layout of ``x`` (m, B', d)."""
        out = model(x, generator=generator)
        return self.loss(out, n_unlabelled=n_unlabelled, targets=targets, n_neighbors=n_neighbors)


class ImsatObjective:
    """``R_vat + im_weight * (H(Y|X) - mu H(Y)) + sup_weight * CE(pseudo-labels)``.

    IMSAT's objective (Hu et al., 2017) with the IM loss of :class:`kingdra.losses.IMLoss`;
    ``R_vat`` perturbs each unlabelled row ``i`` by ``vat_eps`` times its distance to its
    10th nearest neighbour. Cross-entropy on pseudo-labels is added in the Kingdra
    iterations, as for the ladder bases.
    """

    def __init__(self, config: KingdraConfig) -> None:
        self.config = config
        self.im = IMLoss(config.mu)
        self.neighbor = NeighborLoss()
        self.ce = SupervisedCE()
        self.radius: torch.Tensor | None = None  # (n,) per-row VAT radius
        self._data: torch.Tensor | None = None  # the rows it was computed for

    def prepare(self, X: torch.Tensor) -> None:
        """Per-row radius ``vat_eps * distance to the 10th nearest neighbour`` (cached)."""
        if self._data is X and self.radius is not None:
            return
        start = time.perf_counter()
        rank = min(VAT_NEIGHBOR_RANK, X.shape[0] - 1)
        distances, _ = nearest_neighbors(X, rank, return_distance=True)
        self.radius = self.config.vat_eps * distances[:, -1]
        self._data = X  # a reference, not id(X): a freed tensor's id can be reused
        logger.info(
            "VAT radius from %d-th neighbours of %d rows in %.1f s (mean %.3g)",
            rank,
            X.shape[0],
            time.perf_counter() - start,
            float(self.radius.mean()),
        )

    def __call__(self, model, x, rows, n_unlabelled, n_neighbors, targets, generator):
        """Loss of one step; ``rows`` (m, n_unlabelled) indexes the radius table."""
        if self.radius is None:
            raise ValueError("call prepare(X) before computing the IMSAT loss")
        cfg, u = self.config, n_unlabelled
        logits = model(x).logits  # (m, B', k): one clean pass, batch statistics of all rows
        probs = torch.softmax(logits[:, :u], dim=-1)
        im = self.im(probs)
        parts = {
            "vat": vat_loss(model, x[:, :u], logits[:, :u], self.radius[rows], generator=generator),
            "im": im.total,
            "cond_entropy": im.cond_entropy,
            "marginal_entropy": im.marginal_entropy,
        }
        total = parts["vat"] + cfg.im_weight * im.total
        if n_neighbors:
            near = torch.softmax(logits[:, u : u + n_neighbors], dim=-1)
            parts["neighbor"] = self.neighbor(probs, near)
            total = total + cfg.neighbor_weight * parts["neighbor"]
        if targets is not None and targets.shape[1] > 0:
            parts["sup"] = self.ce(logits[:, u + n_neighbors :], targets)
            total = total + cfg.sup_weight * parts["sup"]
        parts["total"] = total
        return total.sum(), parts


def build_objective(config: KingdraConfig) -> LadderObjective | ImsatObjective:
    """The training objective of ``config.base``."""
    if config.base == "imsat":
        return ImsatObjective(config)
    return LadderObjective(config)
