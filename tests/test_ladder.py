"""LadderEnsemble: shapes, batched == member by member, batch-norm behaviour."""

import pytest
import torch
import torch.nn.functional as F

from kingdra.ladder import LadderEnsemble

WEIGHTS = (1000.0, 10.0, 0.1, 0.1)


def make(m=3, noise=0.3, seed=0, d=12, hidden=(16, 8), k=4):
    g = torch.Generator().manual_seed(seed)
    return LadderEnsemble(d, hidden, k, m, noise, WEIGHTS, generator=g)


def test_forward_shapes():
    net = make()
    out = net(torch.randn(3, 10, 12), generator=torch.Generator().manual_seed(1))
    assert out.clean_probs.shape == (3, 10, 4)
    assert out.noisy_logits.shape == (3, 10, 4)
    assert out.hidden.shape == (3, 10, 8)
    assert out.denoise.shape == (3,)
    assert out.denoise_layers.shape == (3, 4)
    torch.testing.assert_close(out.clean_probs.sum(-1), torch.ones(3, 10))
    torch.testing.assert_close(out.denoise, out.denoise_layers.sum(1))
    assert (out.denoise_layers >= 0).all()


def test_wrong_input_shape_raises():
    net = make()
    with pytest.raises(ValueError, match="n_models=3"):
        net(torch.randn(2, 10, 12))
    with pytest.raises(ValueError):
        net(torch.randn(3, 10, 11))


def _slice_member(net: LadderEnsemble, j: int) -> LadderEnsemble:
    single = make(m=1, noise=net.noise_std)
    state = {k: v[j : j + 1].clone() for k, v in net.state_dict().items() if k != "denoise_weights"}
    state["denoise_weights"] = net.denoise_weights.clone()
    single.load_state_dict(state)
    return single


def test_batched_equals_member_by_member():
    # Without noise the whole training forward is deterministic: compare every output.
    net = make(noise=0.0)
    x = torch.randn(3, 20, 12)
    out = net(x)
    for j in range(3):
        single = _slice_member(net, j)
        one = single(x[j : j + 1])
        torch.testing.assert_close(one.clean_logits[0], out.clean_logits[j])
        torch.testing.assert_close(one.noisy_logits[0], out.noisy_logits[j])
        torch.testing.assert_close(one.denoise_layers[0], out.denoise_layers[j])
        torch.testing.assert_close(one.hidden[0], out.hidden[j])
    # Gradients of member j come only from member j's loss.
    net.zero_grad()
    out.clean_probs[1].sum().backward()
    assert net.W[0].grad[0].abs().sum() == 0
    assert net.W[0].grad[2].abs().sum() == 0


def test_clean_encoder_matches_plain_torch():
    """Hand-written clean pass for one member: matmul, batch-norm without scale, bias, ReLU."""
    net = make(noise=0.0)
    x = torch.randn(3, 32, 12)
    out = net(x)
    j = 1
    h = x[j]
    for layer in range(2):
        z = h @ net.W[layer][j]
        z = F.batch_norm(z, None, None, training=True, eps=1e-5)
        h = torch.relu(z + net.beta[layer][j])
    logits = h @ net.W[2][j] + net.beta[2][j]  # top layer: no batch-norm
    torch.testing.assert_close(out.clean_logits[j], logits, rtol=1e-4, atol=1e-5)


def test_noise_differs_per_member_and_call():
    net = make(noise=0.3)
    x = torch.randn(1, 16, 12).expand(3, -1, -1).contiguous()
    net.W[0].data[:] = net.W[0].data[0]  # identical first layer in every member
    a = net(x, generator=torch.Generator().manual_seed(0))
    b = net(x, generator=torch.Generator().manual_seed(0))
    c = net(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a.noisy_logits, b.noisy_logits)
    assert not torch.allclose(a.noisy_logits, c.noisy_logits)


def test_eval_uses_running_statistics():
    net = make()
    x = torch.randn(3, 64, 12) * 2 + 1
    net.train()
    for _ in range(10):
        net(x)
    net.eval()
    rows = x[0, :5]
    probs_all, _ = net.predict(rows)
    probs_one, hidden = net.predict(rows[:1])
    # In eval mode a row's output does not depend on the other rows of the batch.
    torch.testing.assert_close(probs_all[:, :1], probs_one)
    assert hidden.shape == (3, 1, 8)
    assert torch.isfinite(probs_one).all()


def test_no_learned_batchnorm_scale():
    names = {name for name, _ in make().named_parameters()}
    assert not any("gamma" in n or "scale" in n for n in names)
    assert {"W.0", "beta.0", "V.0", "combinators.0.a"} <= names
