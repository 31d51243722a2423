"""A representation for the members to cluster: an autoencoder's code, then UMAP (N2D).

``config.embed = "ae-umap"`` trains, before the base phase, one autoencoder of N2D's shape
(McConville et al., 2020: ``d-500-500-2000-k``, ReLU, mean squared error, Adam 0.001,
batch 256) on the input, maps its ``k``-wide code to ``k`` dimensions with UMAP (20
neighbours, ``min_dist = 0``), and the members train on that embedding instead of the input.
With ``config.embed_maps = M`` it maps the code ``M`` times, each map from its own random
state, and the members see the ``M`` maps' coordinates side by side (``M * k`` inputs): one
UMAP's layout is one random draw, and an ensemble trained on one map follows its draw
(docs/benchmarks.md, "Four UMAP maps of the code").
Nothing in it is pixel-specific: the same code serves images, tf-idf text and tables.

Why (docs/benchmarks.md, "A learned representation"): on MNIST-5k the members trained on
raw pixels all split the union of 4s and 9s along another direction than the class, so no
graph sees the mistake; on this embedding the members separate them.

New rows (``predict`` after ``fit``, or on a loaded run): the encoder gives their code, and
their coordinates are the inverse-distance mean of the UMAP coordinates of their
:data:`TRANSFORM_NEIGHBORS` nearest training codes (a row equal to a training row gets its
coordinates exactly). No UMAP model is kept, so a run file stays tensors and JSON.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import torch
from torch import nn

from kingdra import lazy
from kingdra.neighbors import nearest_reference_rows
from kingdra.trainer import Callback, Cancelled, Progress, seconds_left

logger = logging.getLogger(__name__)

HIDDEN = (500, 500, 2000)  # N2D's autoencoder
BATCH = 256
LR = 1e-3
UMAP_NEIGHBORS = 20
TRANSFORM_NEIGHBORS = 10
_BLOCK = 8192  # rows encoded at once
_SEED_OFFSET = 104_729  # the autoencoder's generators differ from the members'
_MAP_SEED_STEP = 1000  # map r's UMAP random state: seed + r * _MAP_SEED_STEP


def _mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # linear code and linear reconstruction


class Representation:
    """A fitted ``ae-umap`` representation: the encoder and the training rows' code and map.

    Parameters
    ----------
    encoder : torch.nn.Sequential
        ``d -> 500 -> 500 -> 2000 -> code_dim``.
    codes : torch.Tensor (n, code_dim)
        The training rows' codes.
    coords : torch.Tensor (n, dim)
        Their UMAP coordinates: what the members train on; with several maps, the maps'
        ``code_dim`` columns each, side by side.
    """

    def __init__(self, encoder: nn.Sequential, codes: torch.Tensor, coords: torch.Tensor):
        self.encoder = encoder.eval()
        self.codes = codes
        self.coords = coords

    @classmethod
    def empty(cls, n_features: int, code_dim: int, dim: int) -> Representation:
        """An unfitted shell to :meth:`load_state_dict` into."""
        encoder = _mlp((n_features, *HIDDEN, code_dim))
        return cls(encoder, torch.empty(0, code_dim), torch.empty(0, dim))

    @property
    def n_features(self) -> int:
        return int(self.encoder[0].in_features)

    @property
    def first_map(self) -> torch.Tensor:
        """(n, code_dim): the first UMAP map's coordinates, the whole of a one-map run's."""
        return self.coords[:, : self.codes.shape[1]]

    @torch.no_grad()
    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """Codes of ``X`` (n, d), in blocks, on the encoder's device."""
        device = self.encoder[0].weight.device
        parts = [self.encoder(X[i : i + _BLOCK].to(device)) for i in range(0, len(X), _BLOCK)]
        return torch.cat(parts) if parts else torch.empty(0, self.codes.shape[1], device=device)

    @torch.no_grad()
    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Coordinates of rows ``X`` (q, d): inverse-distance mean over the nearest codes."""
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the representation was fitted on "
                f"{self.n_features}"
            )
        codes = self.encode(X.float())
        reference = self.codes.to(codes.device)
        k = min(TRANSFORM_NEIGHBORS, reference.shape[0])
        _, idx = nearest_reference_rows(codes, reference, k)
        dist = (codes[:, None, :] - reference[idx]).norm(dim=2)  # exact, for the k found
        # A training row (encoded again, perhaps in another block size) is its own match.
        same = dist <= 1e-5 * reference.norm(dim=1).mean()
        weights = 1.0 / dist.clamp_min(1e-12)
        known = same.any(dim=1)
        weights[known] = same[known].float()
        weights = weights / weights.sum(dim=1, keepdim=True)
        coords = self.coords.to(codes.device)[idx]  # (q, k, dim)
        return (weights.unsqueeze(2) * coords).sum(dim=1)

    def state_dict(self, prefix: str = "embed.") -> dict[str, torch.Tensor]:
        """CPU tensors: the encoder's weights, the training codes and coordinates."""
        out = {
            f"{prefix}encoder.{k}": v.detach().cpu() for k, v in self.encoder.state_dict().items()
        }
        out[f"{prefix}codes"] = self.codes.detach().cpu().contiguous()
        out[f"{prefix}coords"] = self.coords.detach().cpu().contiguous()
        return out

    def load_state_dict(self, tensors: dict[str, torch.Tensor], prefix: str = "embed.") -> None:
        """Inverse of :meth:`state_dict`; ``ValueError`` if a tensor is missing or misshapen."""
        start = f"{prefix}encoder."
        weights = {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
        try:
            self.encoder.load_state_dict(weights, strict=True)
            codes, coords = tensors[f"{prefix}codes"], tensors[f"{prefix}coords"]
        except (RuntimeError, KeyError) as err:
            raise ValueError(f"the saved representation does not fit the config: {err}") from err
        if (
            codes.dim() != 2
            or coords.dim() != 2
            or codes.shape[1] != self.codes.shape[1]
            or coords.shape[1] != self.coords.shape[1]
            or codes.shape[0] != coords.shape[0]
            or codes.shape[0] == 0
        ):
            raise ValueError(
                f"the saved representation is misshapen: codes {tuple(codes.shape)}, "
                f"coordinates {tuple(coords.shape)}; expected (n, {self.codes.shape[1]}) and "
                f"(n, {self.coords.shape[1]})"
            )
        self.encoder.eval()
        self.codes, self.coords = codes.float(), coords.float()


def fit_representation(
    X: torch.Tensor,
    dim: int,
    epochs: int,
    seed: int,
    callback: Callback | None = None,
    stop: threading.Event | None = None,
    maps: int = 1,
) -> Representation:
    """Train the autoencoder on ``X`` (n, d) for ``epochs`` epochs, then UMAP its codes.

    ``callback`` receives :class:`~kingdra.trainer.Progress` with phase ``"embed"`` per batch
    and per epoch; ``stop`` (the run's stop event) ends the training with
    :class:`~kingdra.trainer.Cancelled`. ``dim`` is both the code's width and each UMAP
    map's; ``maps`` UMAP maps (random states ``seed``, ``seed + 1000``, ...) give
    coordinates ``(n, maps * dim)``, the first map's columns first.
    """
    if maps < 1:
        raise ValueError(f"maps must be at least 1, got {maps}")
    start = time.perf_counter()
    n, d = X.shape
    if n <= UMAP_NEIGHBORS:
        raise ValueError(
            f"embed='ae-umap' needs more than {UMAP_NEIGHBORS} rows (UMAP's neighbours), got {n}"
            "; use embed='none'"
        )
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG kept
        torch.manual_seed(seed + _SEED_OFFSET)
        encoder, decoder = _mlp((d, *HIDDEN, dim)), _mlp((dim, *reversed(HIDDEN), d))
    model = nn.Sequential(encoder, decoder).to(X.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed + _SEED_OFFSET)
    batch = min(BATCH, n)
    n_batches = -(-n // batch)
    total, first_s = epochs * n_batches, 0.0
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen).to(X.device)
        epoch_loss = 0.0
        for b in range(n_batches):
            if stop is not None and stop.is_set():
                stop.clear()
                raise Cancelled(f"stopped during autoencoder epoch {epoch + 1}, batch {b + 1}")
            x = X[perm[b * batch : (b + 1) * batch]]
            loss = (model(x) - x).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss += float(loss.detach())
            done = epoch * n_batches + b + 1
            elapsed = time.perf_counter() - start
            first_s = elapsed if done == 1 else first_s
            if callback is not None:
                eta = seconds_left(elapsed, first_s, done, total)
                callback(
                    Progress(
                        "embed",
                        "batch",
                        epoch + 1,
                        epochs,
                        b + 1,
                        n_batches,
                        {"reconstruction": float(loss.detach())},
                        elapsed,
                        eta,
                    )
                )
        if callback is not None:
            elapsed = time.perf_counter() - start
            callback(
                Progress(
                    "embed",
                    "epoch",
                    epoch + 1,
                    epochs,
                    n_batches,
                    n_batches,
                    {"reconstruction": epoch_loss / n_batches},
                    elapsed,
                    seconds_left(elapsed, first_s, (epoch + 1) * n_batches, total),
                )
            )
    representation = Representation(encoder, torch.empty(0, dim), torch.empty(0, dim))
    codes = representation.encode(X)
    trained = time.perf_counter() - start
    host_codes = codes.cpu().numpy()
    coords = np.concatenate(
        [
            lazy.umap()
            .UMAP(
                n_components=dim,
                n_neighbors=UMAP_NEIGHBORS,
                min_dist=0.0,
                random_state=seed + r * _MAP_SEED_STEP,
                n_jobs=1,
            )
            .fit_transform(host_codes)
            for r in range(maps)
        ],
        axis=1,
    ).astype(np.float32)
    representation.codes = codes
    representation.coords = torch.from_numpy(coords).to(X.device)
    logger.info(
        "ae-umap representation of %d x %d rows in %.1f s (autoencoder %d epochs %.1f s, "
        "reconstruction %.4f; %d UMAP map(s) to %d dimensions %.1f s)",
        n,
        d,
        time.perf_counter() - start,
        epochs,
        trained,
        epoch_loss / n_batches,
        maps,
        dim,
        time.perf_counter() - start - trained,
    )
    return representation


def mixture_labels(representation: Representation, k: int, seed: int) -> np.ndarray:
    """N2D's clustering of the training rows: a Gaussian mixture of ``k`` on the first map."""
    from kingdra.baselines import gmm_labels  # noqa: PLC0415 - sklearn's mixture, when gated

    return gmm_labels(representation.first_map.cpu().numpy(), k, seed)


def mixture_sizes(representation: Representation, k: int, seed: int) -> tuple[np.ndarray, float]:
    """:func:`mixture_labels` and the normalised entropy of their cluster sizes (1.0: equal).

    What ``embed_gate`` compares (:meth:`kingdra.engine.KingdraEngine.fit_representation`),
    and what ``benchmarks.embed_gate`` reports.
    """
    from kingdra.pilot import equal_sizes  # noqa: PLC0415 - the pilot's measure of sizes

    labels = mixture_labels(representation, k, seed)
    return labels, equal_sizes(labels[None], k)
