"""m ladder networks (Rasmus et al., 2015) for vectors, held as ONE batched module.

Every weight is stacked over the members, ``(m, in, out)``, and every layer is one batched
matmul, so one forward/backward and one optimizer step train the whole ensemble. Members
differ by initialisation, by their noise and by the rows they see (the input is
``(m, batch, d)``: each member has its own batch).

Encoder layer ``l`` (``h`` is the previous layer's output, ``h_0 = x``)::

    z_pre = h W_l                       # (m, B, d_l)
    z     = (z_pre - mean) / std        # batch-norm per member, no learned scale
    z~    = z + N(0, noise_std^2)       # noisy encoder only
    h     = relu(z + beta_l)            # softmax(z + beta) at the top

The top layer is not batch-normalised (the authors' MNIST setting), the input layer gets
noise too. Decoder, top-down, for ``l = L..0``::

    u_l   = batchnorm(softmax(noisy logits))      if l == L
          = batchnorm(z^_{l+1} V_l)               otherwise
    z^_l  = g(z~_l, u_l)                          # vanilla combinator, 10 vectors per layer
    C_l   = w_l / d_l * mean_batch ||z^_l - z_l||^2   # z_l from the clean encoder
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # running-stat update rate, as torch.nn.BatchNorm1d


@dataclass
class LadderOutput:
    """What one training forward pass gives (shapes for m members, batch B, k clusters)."""

    clean_logits: torch.Tensor  # (m, B, k)
    clean_probs: torch.Tensor  # (m, B, k)
    noisy_logits: torch.Tensor  # (m, B, k)
    noisy_probs: torch.Tensor  # (m, B, k)
    denoise: torch.Tensor  # (m,) weighted denoising cost summed over layers
    denoise_layers: torch.Tensor  # (m, L + 1) per layer, input first, weights applied
    hidden: torch.Tensor  # (m, B, d_top) clean top hidden layer (after ReLU)


def _batch_norm(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise over the batch (dim 1) per member; returns (z_norm, mean, var)."""
    mean = z.mean(dim=1, keepdim=True)  # (m, 1, d)
    centred = z - mean
    var = centred.pow(2).mean(dim=1, keepdim=True)  # (m, 1, d); faster than z.var on CPU
    return centred * torch.rsqrt(var + BN_EPS), mean, var


@torch.no_grad()
def update_running(
    module: nn.Module, layer: int, mean: torch.Tensor, var: torch.Tensor, n: int
) -> None:
    """Move ``module``'s ``running_mean_<layer>`` / ``running_var_<layer>`` towards a batch's.

    ``mean``, ``var`` (m, 1, d) over a batch of ``n`` rows; the variance is made unbiased, as
    torch.nn.BatchNorm1d does. Also used by `kingdra.imsat.MLPEnsemble`.
    """
    unbiased = var * n / max(n - 1, 1)
    getattr(module, f"running_mean_{layer}").lerp_(mean, BN_MOMENTUM)
    getattr(module, f"running_var_{layer}").lerp_(unbiased, BN_MOMENTUM)


class Combinator(nn.Module):
    """Rasmus et al.'s vanilla combinator ``g(z~, u)`` for ``m`` members of width ``d``."""

    def __init__(self, m: int, d: int) -> None:
        super().__init__()
        a = torch.zeros(m, 10, 1, d)  # a1..a10, each (m, 1, d)
        a[:, 1] = 1.0  # a2: slope inside the first sigmoid (Rasmus et al. init)
        a[:, 6] = 1.0  # a7: slope inside the second sigmoid
        self.a = nn.Parameter(a)

    def forward(self, z_noisy: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a = self.a
        mu = a[:, 0] * torch.sigmoid(a[:, 1] * u + a[:, 2]) + a[:, 3] * u + a[:, 4]
        v = a[:, 5] * torch.sigmoid(a[:, 6] * u + a[:, 7]) + a[:, 8] * u + a[:, 9]
        return (z_noisy - mu) * v + mu  # (m, B, d)


class LadderEnsemble(nn.Module):
    """``n_models`` ladder networks ``in_dim -> hidden... -> n_clusters`` in one module.

    Parameters
    ----------
    in_dim : int
        Input features.
    hidden : sequence of int
        Hidden widths, e.g. ``(1200, 1200)``.
    n_clusters : int
        Output classes ``k``.
    n_models : int
        Members ``m``.
    noise_std : float
        Standard deviation of the Gaussian noise of the noisy encoder.
    denoise_weights : sequence of float
        One weight per layer from input to top (``len(hidden) + 2`` values).
    generator : torch.Generator, optional
        Source of the initial weights (for repeatable runs).

    Examples
    --------
    >>> net = LadderEnsemble(64, (32,), 10, n_models=3, noise_std=0.3,
    ...                      denoise_weights=(1000, 10, 0.1))
    >>> out = net(torch.randn(3, 16, 64))
    >>> tuple(out.clean_probs.shape)
    (3, 16, 10)
    """

    def __init__(
        self,
        in_dim: int,
        hidden: tuple[int, ...] | list[int],
        n_clusters: int,
        n_models: int,
        noise_std: float,
        denoise_weights: tuple[float, ...] | list[float],
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.widths = [int(in_dim), *[int(h) for h in hidden], int(n_clusters)]
        if len(denoise_weights) != len(self.widths):
            raise ValueError(
                f"denoise_weights needs {len(self.widths)} values (input..top), "
                f"got {len(denoise_weights)}"
            )
        self.n_models = int(n_models)
        self.noise_std = float(noise_std)
        self.register_buffer(
            "denoise_weights", torch.tensor([float(w) for w in denoise_weights]), persistent=True
        )
        m, n_layers = self.n_models, len(self.widths) - 1
        # Encoder: W_l (m, d_{l-1}, d_l), He-style init (ReLU), beta_l (m, 1, d_l).
        self.W = nn.ParameterList()
        self.beta = nn.ParameterList()
        for d_in, d_out in zip(self.widths[:-1], self.widths[1:], strict=True):
            w = torch.randn(m, d_in, d_out, generator=generator) / d_in**0.5
            self.W.append(nn.Parameter(w))
            self.beta.append(nn.Parameter(torch.zeros(m, 1, d_out)))
        # Running batch-norm statistics of the hidden layers (the top is not normalised).
        for layer in range(1, n_layers):
            d = self.widths[layer]
            self.register_buffer(f"running_mean_{layer}", torch.zeros(m, 1, d))
            self.register_buffer(f"running_var_{layer}", torch.ones(m, 1, d))
        # Decoder: V_l (m, d_{l+1}, d_l) projects the layer above down; one combinator per layer.
        self.V = nn.ParameterList()
        for layer in range(n_layers):
            d_above, d = self.widths[layer + 1], self.widths[layer]
            v = torch.randn(m, d_above, d, generator=generator) / d_above**0.5
            self.V.append(nn.Parameter(v))
        self.combinators = nn.ModuleList(Combinator(m, d) for d in self.widths)

    @property
    def n_layers(self) -> int:
        """Number of weight layers ``L``."""
        return len(self.widths) - 1

    def _noise(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(like.shape, generator=generator, device=like.device) * self.noise_std

    def _encode(
        self, x: torch.Tensor, noisy: bool, generator: torch.Generator | None, update_stats: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Returns logits (m, B, k), the per-layer z (input first) and the top hidden h."""
        h = x + self._noise(x, generator) if noisy else x  # (m, B, d_0)
        zs = [h]
        top_hidden = h
        for layer in range(1, self.n_layers + 1):
            z = torch.bmm(h, self.W[layer - 1])  # (m, B, d_l)
            if layer < self.n_layers:
                if self.training:
                    z, mean, var = _batch_norm(z)
                    if update_stats:
                        update_running(self, layer, mean.detach(), var.detach(), z.shape[1])
                else:
                    mean = getattr(self, f"running_mean_{layer}")
                    var = getattr(self, f"running_var_{layer}")
                    z = (z - mean) * torch.rsqrt(var + BN_EPS)
            if noisy:
                z = z + self._noise(z, generator)
            zs.append(z)
            if layer < self.n_layers:
                h = torch.relu(z + self.beta[layer - 1])
                top_hidden = h
            else:
                h = z + self.beta[layer - 1]  # logits
        return h, zs, top_hidden

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LadderOutput:
        """Clean pass, noisy pass and decoder on per-member batches ``x`` (m, B, d_0)."""
        if x.dim() != 3 or x.shape[0] != self.n_models or x.shape[2] != self.widths[0]:
            raise ValueError(
                f"x must be (n_models={self.n_models}, batch, {self.widths[0]}), "
                f"got {tuple(x.shape)}"
            )
        clean_logits, clean_z, hidden = self._encode(x, False, generator, update_stats=True)
        noisy_logits, noisy_z, _ = self._encode(x, True, generator, update_stats=False)
        noisy_probs = torch.softmax(noisy_logits, dim=-1)
        costs = []
        z_hat = None
        for layer in range(self.n_layers, -1, -1):
            if layer == self.n_layers:
                u = noisy_probs  # (m, B, k)
            else:
                u = torch.bmm(z_hat, self.V[layer])  # (m, B, d_l)
            u, _, _ = _batch_norm(u)
            z_hat = self.combinators[layer](noisy_z[layer], u)  # (m, B, d_l)
            err = (z_hat - clean_z[layer]).pow(2).sum(dim=-1).mean(dim=1)  # (m,)
            costs.append(err * (self.denoise_weights[layer] / self.widths[layer]))
        denoise_layers = torch.stack(costs[::-1], dim=1)  # (m, L + 1), input first
        return LadderOutput(
            clean_logits=clean_logits,
            clean_probs=torch.softmax(clean_logits, dim=-1),
            noisy_logits=noisy_logits,
            noisy_probs=noisy_probs,
            denoise=denoise_layers.sum(dim=1),
            denoise_layers=denoise_layers,
            hidden=hidden,
        )

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean-encoder probabilities (m, B, k) and top hidden layer (m, B, d_top).

        ``x`` is (B, d_0), shared by all members, or (m, B, d_0). Uses running batch-norm
        statistics; call under ``eval()``.
        """
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n_models, -1, -1)
        logits, _, hidden = self._encode(x, False, None, update_stats=False)
        return torch.softmax(logits, dim=-1), hidden
