"""IMSAT members: batched network, VAT term, the imsat objective and an engine run."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from kingdra.bases import ImsatObjective, build_members, build_objective
from kingdra.config import KingdraConfig
from kingdra.engine import KingdraEngine
from kingdra.imsat import MLPEnsemble, vat_loss
from kingdra.metrics import cluster_accuracy
from kingdra.neighbors import nearest_neighbors


def make(m=3, d=12, hidden=(16, 8), k=4, seed=0):
    return MLPEnsemble(d, hidden, k, m, generator=torch.Generator().manual_seed(seed))


def test_forward_shapes_and_wrong_input():
    net = make()
    out = net(torch.randn(3, 10, 12))
    assert out.logits.shape == (3, 10, 4)
    assert out.hidden.shape == (3, 10, 8)
    with pytest.raises(ValueError, match="n_models=3"):
        net(torch.randn(2, 10, 12))


def test_members_are_independent():
    """Member j's output depends only on member j's rows (batched == one by one)."""
    net = make()
    x = torch.randn(3, 10, 12)
    base = net(x).logits
    x2 = x.clone()
    x2[1] += torch.randn(10, 12)
    changed = net(x2).logits
    torch.testing.assert_close(changed[0], base[0])
    torch.testing.assert_close(changed[2], base[2])
    assert not torch.allclose(changed[1], base[1])


def test_perturbed_passes_keep_running_statistics():
    net = make()
    net.train()
    before = net.running_mean_1.clone()
    net(torch.randn(3, 10, 12), update_stats=False)
    torch.testing.assert_close(net.running_mean_1, before)
    net(torch.randn(3, 10, 12))
    assert not torch.allclose(net.running_mean_1, before)


def test_predict_uses_running_statistics_and_sums_to_one():
    net = make()
    net.eval()
    probs, hidden = net.predict(torch.randn(7, 12))
    assert probs.shape == (3, 7, 4) and hidden.shape == (3, 7, 8)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 7))
    # eval mode: a row's prediction does not depend on the other rows of the batch
    x = torch.randn(5, 12)
    torch.testing.assert_close(net.predict(x)[0][:, :1], net.predict(x[:1])[0])


def test_vat_is_zero_at_radius_zero_and_adversarial_beats_random():
    torch.manual_seed(0)
    net = make(seed=3)
    net.train()
    x = torch.randn(3, 32, 12)
    logits = net(x).logits
    zero = vat_loss(net, x, logits, torch.zeros(3, 32))
    torch.testing.assert_close(zero, torch.zeros(3), atol=1e-6, rtol=0)
    radius = torch.full((3, 32), 2.0)
    adversarial = vat_loss(net, x, logits, radius, generator=torch.Generator().manual_seed(1))
    assert adversarial.shape == (3,) and (adversarial > 0).all()
    # the same radius in a random direction changes the prediction less
    log_p = torch.log_softmax(logits.detach(), -1)
    d = torch.randn(x.shape)
    d = d / d.norm(dim=-1, keepdim=True)
    q = torch.log_softmax(net(x + radius.unsqueeze(-1) * d, update_stats=False).logits, -1)
    random = (log_p.exp() * (log_p - q)).sum(-1).mean(1)
    assert (adversarial > random).all()


def test_vat_gradient_reaches_the_weights_not_the_target():
    net = make()
    x = torch.randn(3, 16, 12)
    logits = net(x).logits
    vat_loss(net, x, logits, torch.full((3, 16), 0.5)).sum().backward()
    assert all(p.grad is not None for p in net.W)


def test_objective_radius_is_a_fraction_of_the_tenth_neighbour_distance():
    X = torch.from_numpy(np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    cfg = KingdraConfig(base="imsat", n_models=2, hidden=(8,), vat_eps=0.5, seed=0)
    objective = build_objective(cfg)
    assert isinstance(objective, ImsatObjective)
    objective.prepare(X)
    dist, _ = nearest_neighbors(X, 10, return_distance=True)
    brute = torch.cdist(X, X).fill_diagonal_(float("inf")).sort(dim=1).values[:, 9]
    torch.testing.assert_close(dist[:, -1], brute, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(objective.radius, 0.5 * brute, atol=1e-4, rtol=1e-4)


def test_objective_parts_and_pseudo_label_term():
    cfg = KingdraConfig(base="imsat", n_models=2, hidden=(8,), n_clusters=3, seed=0)
    net = build_members(cfg, 4, torch.Generator().manual_seed(0))
    objective = build_objective(cfg)
    X = torch.randn(40, 4)
    objective.prepare(X)
    rows = torch.arange(20).reshape(2, 10)
    total, parts = objective(net, X[rows], rows, 10, 0, None, None)
    assert set(parts) == {"vat", "im", "cond_entropy", "marginal_entropy", "total"}
    torch.testing.assert_close(total, parts["total"].sum())
    sup_rows = torch.arange(20, 28).reshape(2, 4)
    x = torch.cat([X[rows], X[sup_rows]], dim=1)
    targets = torch.tensor([[0, 1, -1, 2], [-1, -1, -1, -1]])
    _, parts = objective(net, x, rows, 10, 0, targets, None)
    assert parts["sup"][0] > 0 and parts["sup"][1] == 0  # member 1 has no labelled row


def test_engine_with_imsat_members_clusters_digits_and_iterates():
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(X))[:500]
    X, y = (X[idx] / 16.0).astype(np.float32), y[idx]
    cfg = KingdraConfig(
        base="imsat",
        n_models=3,
        hidden=(64,),
        batch_size=50,
        epochs_base=20,
        epochs_iter=2,
        n_iter=1,
        t_neg=2,
        seed=0,
    )
    engine = KingdraEngine(X, cfg, y_eval=y, device="cpu").run()
    assert [r["phase"] for r in engine.history] == ["base", "iteration"]
    assert cluster_accuracy(y, engine.labels_) > 0.45  # chance is about 0.1-0.2
    assert "vat" in engine.history[0]["losses"]
