"""Losses of Ladder-IM / Ladder-Dot, one module per term, each returning its parts.

Every loss is computed per member (shape ``(m,)``) so that the ensemble is trained with one
backward pass over the sum, and so that the parts can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kingdra.config import KingdraConfig
from kingdra.ladder import LadderOutput

_EPS = 1e-8


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy over the last axis (natural log)."""
    return -(p * torch.log(p.clamp_min(_EPS))).sum(dim=-1)


@dataclass
class IMParts:
    """Information-maximisation loss per member and its two entropies."""

    total: torch.Tensor  # (m,) H(Y|X) - mu * H(Y)
    cond_entropy: torch.Tensor  # (m,) H(Y|X): mean entropy of each sample's prediction
    marginal_entropy: torch.Tensor  # (m,) H(Y): entropy of the batch-mean prediction


class IMLoss(nn.Module):
    """``H(Y|X) - mu * H(Y)`` with batch estimates (to minimise), per member.

    Parameters
    ----------
    mu : float
        Weight of the marginal entropy (DESIGN.md: 4).
    """

    def __init__(self, mu: float = 4.0) -> None:
        super().__init__()
        self.mu = float(mu)

    def forward(self, probs: torch.Tensor) -> IMParts:
        """``probs`` (m, B, k) -> :class:`IMParts`."""
        cond = _entropy(probs).mean(dim=1)  # (m,)
        marginal = _entropy(probs.mean(dim=1))  # (m,)
        return IMParts(cond - self.mu * marginal, cond, marginal)


class KLLoss(nn.Module):
    """``KL(clean || noisy)`` averaged over the batch, per member."""

    def forward(self, clean_logits: torch.Tensor, noisy_logits: torch.Tensor) -> torch.Tensor:
        """Logits (m, B, k) each -> (m,)."""
        log_p = F.log_softmax(clean_logits, dim=-1)
        log_q = F.log_softmax(noisy_logits, dim=-1)
        return (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean(dim=1)


class DotLoss(nn.Module):
    """Mean over pairs ``i != j`` of ``y_i . y_j`` (Ladder-Dot), per member."""

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        """``probs`` (m, B, k) -> (m,)."""
        b = probs.shape[1]
        if b < 2:
            return probs.new_zeros(probs.shape[0])
        total = probs.sum(dim=1)  # (m, k)
        # sum_{i != j} y_i.y_j = ||sum_i y_i||^2 - sum_i ||y_i||^2, no B x B matrix needed
        pairs = total.pow(2).sum(dim=-1) - probs.pow(2).sum(dim=(1, 2))
        return pairs / (b * (b - 1))


class NeighborLoss(nn.Module):
    """``-log(p_i . p_j)`` for rows ``i`` and one of their input-space nearest neighbours ``j``."""

    def forward(self, probs: torch.Tensor, neighbor_probs: torch.Tensor) -> torch.Tensor:
        """``probs``, ``neighbor_probs`` (m, B, k) -> (m,)."""
        dot = (probs * neighbor_probs).sum(dim=-1)
        return -torch.log(dot.clamp_min(_EPS)).mean(dim=1)


class SupervisedCE(nn.Module):
    """Cross-entropy on pseudo-labelled rows; targets (m, B) with ``-1`` = unlabelled."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Logits (m, B, k), targets (m, B) -> (m,) mean over labelled rows (0 if none)."""
        mask = targets >= 0  # (m, B)
        log_p = F.log_softmax(logits, dim=-1)
        picked = log_p.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)  # (m, B)
        counts = mask.sum(dim=1).clamp_min(1)
        return -(picked * mask).sum(dim=1) / counts


class KingdraLoss(nn.Module):
    """The full Ladder-IM or Ladder-Dot objective, plus CE on pseudo-labels.

    ``denoise + kl_weight * KL(clean||noisy) + im_weight * (IM(clean) + IM(noisy))``
    for ``ladder-im``; ``dot_weight * (Dot(clean) + Dot(noisy))`` replaces the IM term for
    ``ladder-dot``; ``neighbor_weight * (Nb(clean) + Nb(noisy))`` is added when neighbour
    rows are given (``fast`` preset; off in the paper); ``sup_weight * CE(noisy,
    pseudo_labels)`` is added when targets are given.

    Each member's batch is laid out as ``[n_unlabelled rows | n_neighbors rows | pseudo-
    labelled rows]``, all run through the network together: the unsupervised terms use the
    first block, row ``i`` of the second block is a nearest neighbour of row ``i`` of the
    first (its clean prediction is the neighbour term's partner), and CE uses the rest.
    """

    def __init__(self, config: KingdraConfig) -> None:
        super().__init__()
        self.config = config
        self.im = IMLoss(config.mu)
        self.kl = KLLoss()
        self.dot = DotLoss()
        self.ce = SupervisedCE()
        self.neighbor = NeighborLoss()

    def forward(
        self,
        out: LadderOutput,
        n_unlabelled: int | None = None,
        targets: torch.Tensor | None = None,
        n_neighbors: int = 0,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the scalar to minimise (sum over members) and per-member parts (m,).

        Parameters
        ----------
        out : LadderOutput
        n_unlabelled : int, optional
            Rows ``[:n_unlabelled]`` are the unlabelled batch; None means all rows.
        targets : torch.Tensor, optional
            (m, B - n_unlabelled - n_neighbors) pseudo-labels of the last rows, ``-1`` = none.
        n_neighbors : int
            Rows after the unlabelled batch that are its neighbours (0 or ``n_unlabelled``).
        """
        cfg = self.config
        u = out.clean_logits.shape[1] if n_unlabelled is None else n_unlabelled
        clean_p, noisy_p = out.clean_probs[:, :u], out.noisy_probs[:, :u]
        parts: dict[str, torch.Tensor] = {"denoise": out.denoise}
        parts["kl"] = self.kl(out.clean_logits[:, :u], out.noisy_logits[:, :u])
        total = out.denoise + cfg.kl_weight * parts["kl"]
        if cfg.base == "ladder-im":
            clean, noisy = self.im(clean_p), self.im(noisy_p)
            parts["im"] = clean.total + noisy.total
            parts["cond_entropy"] = clean.cond_entropy
            parts["marginal_entropy"] = clean.marginal_entropy
            total = total + cfg.im_weight * parts["im"]
        else:
            parts["dot"] = self.dot(clean_p) + self.dot(noisy_p)
            total = total + cfg.dot_weight * parts["dot"]
        if n_neighbors:
            near = out.clean_probs[:, u : u + n_neighbors]
            parts["neighbor"] = self.neighbor(clean_p, near) + self.neighbor(noisy_p, near)
            total = total + cfg.neighbor_weight * parts["neighbor"]
        if targets is not None and targets.shape[1] > 0:
            parts["sup"] = self.ce(out.noisy_logits[:, u + n_neighbors :], targets)
            total = total + cfg.sup_weight * parts["sup"]
        parts["total"] = total
        return total.sum(), parts
