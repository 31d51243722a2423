"""Hyper-parameters of a Kingdra run, with the two named presets ``paper`` and ``fast``."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

BASES = ("ladder-im", "ladder-dot", "imsat")
STAGES = ("kingdra", "ensemble", "single")


def default_denoise_weights(n_hidden: int) -> tuple[float, ...]:
    """Denoising-cost weights from input to top: ``[1000, 10, 0.1, ..., 0.1]`` (DESIGN.md)."""
    return (1000.0, 10.0) + (0.1,) * n_hidden


@dataclass
class KingdraConfig:
    """Everything that defines a Kingdra run except the data and the device.

    Defaults are the numbers of the authors' implementation (``../shared/DESIGN.md``);
    :data:`PRESETS` names two complete settings. Invalid values raise ``ValueError``
    saying what to fix.

    Examples
    --------
    >>> cfg = KingdraConfig.from_preset("fast", n_clusters=10, seed=1)
    >>> cfg.n_models
    10
    """

    n_clusters: int = 10  # k: clusters to find (and output units of every member)
    n_models: int = 10  # m: ensemble size (paper: 10; accuracy saturates there, app. C.1)
    base: str = "ladder-im"  # "ladder-im", "ladder-dot" (the paper's) or "imsat" (VAT + IM)
    hidden: tuple[int, ...] = (1200, 1200)  # hidden widths of the MLP ladder (authors: 1200-1200-k)
    noise_std: float = 0.3  # Gaussian noise on the input and every layer of the noisy encoder
    denoise_weights: tuple[float, ...] | None = None  # input..top; None -> [1000, 10, 0.1, ...]
    im_weight: float = 0.1  # weight of H(Y|X) - mu*H(Y) (authors: 0.1, 20news 0.2)
    mu: float = 4.0  # weight of the marginal entropy H(Y) inside the IM loss
    kl_weight: float = 1.0  # weight of KL(clean || noisy)
    dot_weight: float = 10.0  # dot-product loss weight, ladder-dot (digits: 10 beat 1)
    vat_eps: float = 0.25  # imsat: VAT radius, times each row's 10th-neighbour distance (IMSAT)
    sup_weight: float = 1.0  # weight of cross-entropy on pseudo-labelled points
    neighbor_weight: float = 0.0  # weight of -log(p_i . p_j), j a k-NN of i (0 = off, paper)
    n_neighbors: int = 10  # k of the input-space k-NN graph used by neighbor_weight (and merging)
    overcluster: int = 1  # outputs per cluster; > 1: merge r*k fine clusters to k (1 = paper)
    lr: float = 0.002  # Adam learning rate
    batch_size: int = 64  # unlabelled samples per member per step (and as many pseudo-labelled)
    epochs_base: int = 5  # epochs of the unsupervised start
    epochs_iter: int = 5  # epochs per semi-supervised iteration
    n_iter: int = 10  # Kingdra iterations after the base ensemble
    t_pos: int | None = None  # strong positive edge: >= t_pos members agree; None -> n_models
    t_neg: int | None = None  # strong negative edge: >= t_neg members disagree; None -> n_models
    min_confidence: float = 0.9  # anchor must have max-probability above this in every member
    seed: int | None = 0  # seeds init, noise and batch order; None -> fresh randomness
    stage: str = "kingdra"  # "single" (member 0), "ensemble" (averaged base), "kingdra" (full)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # free-form notes, JSON-safe

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.denoise_weights is not None:
            self.denoise_weights = tuple(float(w) for w in self.denoise_weights)
        self.validate()

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what to use instead."""
        _int_at_least("n_clusters", self.n_clusters, 2)
        _int_at_least("n_models", self.n_models, 1)
        if self.base not in BASES:
            raise ValueError(f"unknown base {self.base!r}; use one of {', '.join(BASES)}")
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; use one of {', '.join(STAGES)}")
        if len(self.hidden) < 1 or any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be one or more positive widths, got {self.hidden}")
        if self.denoise_weights is not None and len(self.denoise_weights) != len(self.hidden) + 2:
            raise ValueError(
                f"denoise_weights needs {len(self.hidden) + 2} values (input, each hidden layer, "
                f"top), got {len(self.denoise_weights)}; or pass None for the defaults"
            )
        for name in (
            "noise_std",
            "im_weight",
            "mu",
            "kl_weight",
            "dot_weight",
            "sup_weight",
            "neighbor_weight",
            "vat_eps",
        ):
            _float_at_least(name, getattr(self, name), 0.0)
        for w in self.denoise_weights or ():
            _float_at_least("denoise_weights", w, 0.0)
        _float_at_least("lr", self.lr, 0.0, strict=True)
        _int_at_least("batch_size", self.batch_size, 2)
        _int_at_least("n_neighbors", self.n_neighbors, 1)
        _int_at_least("overcluster", self.overcluster, 1)
        _int_at_least("epochs_base", self.epochs_base, 0)
        _int_at_least("epochs_iter", self.epochs_iter, 0)
        _int_at_least("n_iter", self.n_iter, 0)
        for name in ("t_pos", "t_neg"):
            check_threshold(name, getattr(self, name), self.n_models)
        if not (isinstance(self.min_confidence, (int, float)) and 0.0 <= self.min_confidence < 1.0):
            raise ValueError(f"min_confidence must be in [0, 1), got {self.min_confidence!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")

    # -- derived values ---------------------------------------------------------------------
    @property
    def resolved_t_pos(self) -> int:
        """``t_pos``, with None meaning all ``n_models`` members agree."""
        return self.n_models if self.t_pos is None else int(self.t_pos)

    @property
    def resolved_t_neg(self) -> int:
        """``t_neg``, with None meaning all ``n_models`` members disagree."""
        return self.n_models if self.t_neg is None else int(self.t_neg)

    @property
    def n_outputs(self) -> int:
        """Output classes of every member: ``overcluster * n_clusters``."""
        return self.overcluster * self.n_clusters

    @property
    def resolved_denoise_weights(self) -> tuple[float, ...]:
        """Denoising weights from input to top, defaults filled in."""
        if self.denoise_weights is None:
            return default_denoise_weights(len(self.hidden))
        return self.denoise_weights

    # -- construction and (de)serialisation --------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> KingdraConfig:
        """A preset from :data:`PRESETS` with some fields replaced.

        Parameters
        ----------
        name : {"paper", "fast"}
        **overrides
            Any field of :class:`KingdraConfig`, e.g. ``n_clusters=10``.

        Notes
        -----
        ``fast`` sets ``t_neg = n_models - 1`` unless ``t_neg`` is given
        (:data:`PRESET_T_NEG_MARGIN`).

        With ``base="ladder-dot"`` and no ``min_confidence`` override, ``min_confidence``
        becomes 0: the dot-product loss leaves outputs soft, and on digits no point reached
        0.9 in every member, so the graph found no anchor at all (measured: coverage 0).
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
        values = dict(PRESETS[name])
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; see KingdraConfig")
        values.update(overrides)
        if values.get("base") == "ladder-dot" and "min_confidence" not in overrides:
            values["min_confidence"] = 0.0
        margin = PRESET_T_NEG_MARGIN.get(name, 0)
        if "t_neg" not in overrides and values.get("t_neg") is None and margin:
            values["t_neg"] = max(1, int(values.get("n_models", cls.n_models)) - margin)
        return cls(**values)

    def replace(self, **changes: Any) -> KingdraConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        if self.denoise_weights is not None:
            out["denoise_weights"] = list(self.denoise_weights)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KingdraConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"config must be a dict, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; see KingdraConfig")
        return cls(**data)


def check_threshold(name: str, value: int | None, n_models: int) -> None:
    """``t_pos`` / ``t_neg`` must be None or an integer in ``1..n_models``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n_models:
        raise ValueError(
            f"{name} must be an integer in 1..n_models={n_models} (or None), got {value!r}"
        )


def _int_at_least(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _float_at_least(name: str, value: Any, low: float, strict: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {relation} {low}, got {value!r}")


#: Named settings. ``paper``: the authors' numbers (DESIGN.md). ``fast``: chosen by experiment
#: (docs/benchmarks.md) for sklearn digits in about a minute on 2 CPU cores (measured: 94.1 %
#: ACC over 3 seeds, 48 s end to end); it adds a neighbour term, ``t_neg = m - 1`` and
#: over-clustering (``overcluster = 2``).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(
        n_models=10,
        hidden=(1200, 1200),
        noise_std=0.3,
        im_weight=0.1,
        mu=4.0,
        kl_weight=1.0,
        lr=0.002,
        batch_size=64,
        epochs_base=5,
        epochs_iter=5,
        n_iter=10,
        min_confidence=0.9,
    ),
    "fast": dict(
        n_models=10,
        hidden=(256, 256),  # 1200-wide layers cost ~20x more; 128 was ~2 points worse on digits
        noise_std=0.15,  # 0.3 was worse on 64-d digits (base ensemble ACC 0.80 vs 0.83)
        im_weight=1.0,  # the paper's eq. 11 weight; 0.1 left outputs near-uniform in few epochs
        mu=4.0,
        kl_weight=1.0,
        lr=0.002,
        batch_size=64,
        epochs_base=8,
        epochs_iter=2,
        n_iter=5,
        min_confidence=0.9,
        neighbor_weight=1.0,  # extension (SCAN-style); gains in docs/benchmarks.md
        n_neighbors=10,
        overcluster=2,  # extension: 2k fine clusters merged to k (kingdra.merge)
    ),
}

PRESETS["default"] = dict(
    base="imsat",  # VAT self-augmentation beats the ladders' Gaussian noise (docs/benchmarks.md)
    n_models=5,
    hidden=(256, 256),
    im_weight=0.1,  # IMSAT: R_vat + 0.1 H(Y|X) - 0.4 H(Y)
    mu=4.0,
    vat_eps=0.25,
    lr=0.002,
    batch_size=100,
    epochs_base=60,
    epochs_iter=10,
    n_iter=3,
    min_confidence=0.9,
)

#: Presets whose ``t_neg`` defaults to ``n_models - margin`` instead of ``n_models``. With
#: t_neg = m, one shared mistake (digits: every member splits the 1s) lets Algorithm 1 find
#: only 7-9 of 10 mini-clusters; m - 1 found 10 of 10 (docs/benchmarks.md). The authors' code removes a node
#: that agrees with the picked mini-cluster in 2 or more models, i.e. also m - 1.
PRESET_T_NEG_MARGIN: dict[str, int] = {"fast": 1, "default": 1}
