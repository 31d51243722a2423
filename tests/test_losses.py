"""Losses against hand-computed values on tiny tensors."""

import math

import pytest
import torch
import torch.nn.functional as F

from kingdra.config import KingdraConfig
from kingdra.ladder import LadderEnsemble
from kingdra.losses import DotLoss, IMLoss, KingdraLoss, KLLoss, NeighborLoss, SupervisedCE

LN2 = math.log(2.0)


def test_im_loss_confident_and_balanced():
    probs = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (m=1, B=2, k=2)
    parts = IMLoss(mu=4.0)(probs)
    torch.testing.assert_close(parts.cond_entropy, torch.tensor([0.0]))
    torch.testing.assert_close(parts.marginal_entropy, torch.tensor([LN2]))
    torch.testing.assert_close(parts.total, torch.tensor([-4.0 * LN2]))


def test_im_loss_per_member():
    uniform = torch.full((2, 2), 0.5)
    collapsed = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    parts = IMLoss(mu=2.0)(torch.stack([uniform, collapsed]))
    # member 0: H(Y|X) = ln2, H(Y) = ln2; member 1: both 0.
    torch.testing.assert_close(parts.total, torch.tensor([LN2 - 2 * LN2, 0.0]))


def test_im_loss_decreases_under_gradient_descent():
    logits = torch.randn(3, 32, 5, generator=torch.Generator().manual_seed(0)) * 0.1
    logits.requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=0.1)
    loss_fn = IMLoss(mu=4.0)
    first = loss_fn(torch.softmax(logits, -1)).total.sum().item()
    for _ in range(100):
        loss = loss_fn(torch.softmax(logits, -1)).total.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    parts = loss_fn(torch.softmax(logits, -1))
    assert parts.total.sum().item() < first - 1.0
    assert (parts.cond_entropy < 0.1).all()  # confident
    assert (parts.marginal_entropy > math.log(5) - 0.1).all()  # balanced


def test_kl_hand_computed():
    clean = torch.tensor([[[0.0, 0.0]]])  # p = [0.5, 0.5]
    noisy = torch.tensor([[[0.0, math.log(3.0)]]])  # q = [0.25, 0.75]
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    torch.testing.assert_close(KLLoss()(clean, noisy), torch.tensor([expected]))
    torch.testing.assert_close(KLLoss()(noisy, noisy), torch.tensor([0.0]))


def test_dot_loss_hand_computed():
    orthogonal = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # pairs: 0, 0, 1 (x2)
    same = torch.tensor([[1.0, 0.0]] * 3)
    mixed = torch.tensor([[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])  # .5, .5, 1 (x2) over 6
    out = DotLoss()(torch.stack([orthogonal, same, mixed]))
    torch.testing.assert_close(out, torch.tensor([2 / 6, 1.0, 4 / 6]))


def test_supervised_ce_masks_unlabelled():
    logits = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([[0, -1, 2, -1], [-1, -1, -1, -1]])
    out = SupervisedCE()(logits, targets)
    expected = F.cross_entropy(logits[0, [0, 2]], torch.tensor([0, 2]))
    torch.testing.assert_close(out[0], expected)
    assert out[1] == 0.0


@pytest.mark.parametrize("base", ["ladder-im", "ladder-dot"])
def test_kingdra_loss_parts_sum_to_total(base):
    cfg = KingdraConfig(n_clusters=4, n_models=2, hidden=(8,), base=base, im_weight=0.5)
    net = LadderEnsemble(6, cfg.hidden, 4, 2, 0.3, cfg.resolved_denoise_weights)
    out = net(torch.randn(2, 10, 6))
    targets = torch.tensor([[0, 1, 2, 3], [3, 2, -1, 0]])
    total, parts = KingdraLoss(cfg)(out, n_unlabelled=6, targets=targets)
    term = parts["im"] * cfg.im_weight if base == "ladder-im" else parts["dot"] * cfg.dot_weight
    expected = parts["denoise"] + cfg.kl_weight * parts["kl"] + term + cfg.sup_weight * parts["sup"]
    torch.testing.assert_close(parts["total"], expected)
    torch.testing.assert_close(total, expected.sum())
    assert ("im" in parts) == (base == "ladder-im")
    # The supervised rows are the last four of each member's batch, on the noisy output.
    ce = SupervisedCE()(out.noisy_logits[:, 6:], targets)
    torch.testing.assert_close(parts["sup"], ce)
    total.backward()  # one backward covers every member
    assert all(p.grad is not None for p in net.parameters())


def test_neighbor_loss_hand_computed():
    p = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])  # (m=1, B=2, k=2)
    q = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]])
    expected = -(math.log(0.5) + math.log(0.5)) / 2
    torch.testing.assert_close(NeighborLoss()(p, q), torch.tensor([expected]))
    torch.testing.assert_close(NeighborLoss()(p[:, :1], p[:, :1]), torch.tensor([0.0]))


def test_kingdra_loss_neighbor_rows_sit_between_batch_and_pseudo_labels():
    cfg = KingdraConfig(n_clusters=4, n_models=2, hidden=(8,), neighbor_weight=2.0)
    net = LadderEnsemble(6, cfg.hidden, 4, 2, 0.3, cfg.resolved_denoise_weights)
    out = net(torch.randn(2, 12, 6))  # 5 unlabelled, 5 neighbours, 2 pseudo-labelled rows
    targets = torch.tensor([[0, 1], [3, -1]])
    total, parts = KingdraLoss(cfg)(out, n_unlabelled=5, targets=targets, n_neighbors=5)
    near = out.clean_probs[:, 5:10]
    expected_nb = NeighborLoss()(out.clean_probs[:, :5], near) + NeighborLoss()(
        out.noisy_probs[:, :5], near
    )
    torch.testing.assert_close(parts["neighbor"], expected_nb)
    torch.testing.assert_close(parts["sup"], SupervisedCE()(out.noisy_logits[:, 10:], targets))
    expected = (
        parts["denoise"]
        + cfg.kl_weight * parts["kl"]
        + cfg.im_weight * parts["im"]
        + 2.0 * parts["neighbor"]
        + cfg.sup_weight * parts["sup"]
    )
    torch.testing.assert_close(parts["total"], expected)
