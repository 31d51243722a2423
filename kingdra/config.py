"""Hyper-parameters of a Kingdra run: each declared once, with the presets that name them.

Every field of :class:`KingdraConfig` carries metadata (:func:`setting`): a help line, its
allowed range, a group and the paper's value. The estimator's parameters, the command line's
flags, the Train page's widgets and ``docs/presets.md`` are built from it, and
:meth:`KingdraConfig.validate` checks the ranges, so none of them can drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BASES = ("ladder-im", "ladder-dot", "imsat")
EMBEDDINGS = ("none", "ae-umap")  # kingdra.embedding
STAGES = ("kingdra", "ensemble", "single")

#: Fields the caller always sets (the estimator's own parameters with their own defaults,
#: ``random_state`` for ``seed``); every other field defaults to the preset's value.
CALLER_FIELDS = ("n_clusters", "n_models", "base", "stage", "seed")


@dataclass(frozen=True)
class Range:
    """Allowed values of a number: ``low <= x <= high``; ``high`` may name another field."""

    low: float
    high: float | str | None = None
    low_open: bool = False  # low < x
    high_open: bool = False  # x < high

    def describe(self) -> str:
        left = f"> {self.low}" if self.low_open else f">= {self.low}"
        if self.high is None:
            return left
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


def setting(
    default: Any,
    help: str,
    *,
    group: str,
    range: Range | None = None,
    choices: tuple[str, ...] | None = None,
    paper: Any = dataclasses.MISSING,
    label: str | None = None,
    app: bool = True,
) -> Any:
    """A :class:`KingdraConfig` field with its one declaration of meaning.

    Parameters
    ----------
    default
        The value without a preset.
    help : str
        One line: what the value does (CLI help, widget help, the presets table).
    group : str
        ``"ensemble"``, ``"network"``, ``"loss"``, ``"extension"``, ``"training"``,
        ``"graph"`` or ``"run"``: where the Train page and the docs put it.
    range : Range, optional
        Checked by :meth:`KingdraConfig.validate`; the CLI and the widgets show it.
    choices : tuple of str, optional
        The allowed strings.
    paper
        The value of the paper / the authors' code, where it gives one.
    label : str, optional
        Widget label; default: the name with spaces.
    app : bool
        Whether the Train page has a widget for it (thresholds are set on the Graph page,
        iterations by the page's buttons).
    """
    metadata = {"help": help, "group": group, "range": range, "choices": choices, "app": app}
    metadata["label"] = label
    if paper is not dataclasses.MISSING:
        metadata["paper"] = paper
    return field(default=default, metadata=metadata)


def default_denoise_weights(n_hidden: int) -> tuple[float, ...]:
    """Denoising-cost weights from input to top: ``[1000, 10, 0.1, ..., 0.1]``."""
    return (1000.0, 10.0) + (0.1,) * n_hidden


_POS = Range(0.0)  # a non-negative weight


@dataclass
class KingdraConfig:
    """Everything that defines a Kingdra run except the data and the device.

    Defaults are the numbers of the authors' implementation; :data:`PRESETS` names complete
    settings. Invalid values raise ``ValueError`` saying what to fix.

    Examples
    --------
    >>> cfg = KingdraConfig.from_preset("fast", n_clusters=10, seed=1)
    >>> cfg.n_models
    10
    """

    n_clusters: int = setting(
        10,
        "k: clusters to find (and output units of every member)",
        group="ensemble",
        range=Range(2),
        label="clusters k",
    )
    n_models: int = setting(
        10,
        "m: ensemble size (paper: 10; accuracy saturates there, app. C.1)",
        group="ensemble",
        range=Range(1),
        paper=10,
        label="ensemble size m",
    )
    base: str = setting(
        "ladder-im",
        "unsupervised loss of every member: the paper's Ladder-IM or Ladder-Dot, or IMSAT",
        group="ensemble",
        choices=BASES,
        paper="ladder-im",
        label="base model",
    )
    embed: str = setting(
        "none",
        "what the members train on: the input ('none', paper) or an autoencoder's code "
        "mapped by UMAP ('ae-umap', N2D; kingdra.embedding)",
        group="network",
        choices=EMBEDDINGS,
        paper="none",
        label="representation",
    )
    embed_epochs: int = setting(
        100,
        "autoencoder epochs of embed='ae-umap'",
        group="network",
        range=Range(1),
        label="autoencoder epochs",
    )
    embed_maps: int = setting(
        1,
        "UMAP maps of the autoencoder's code with embed='ae-umap', each from its own random "
        "state; the members see their coordinates side by side (n_clusters each)",
        group="network",
        range=Range(1),
        label="UMAP maps",
    )
    embed_gate: float = setting(
        0.0,
        "with embed: train on the representation only where the classes look about equal in "
        "size: the mu pilot says so (kingdra.pilot.classes_look_equal) or, where it cannot "
        "tell or did not run, a Gaussian mixture of k on the representation finds clusters "
        "whose sizes' normalised entropy is at least this; else go on on the input with "
        "imsat's over-clustering and iterations. 0: always",
        group="network",
        range=Range(0.0, 1.0),
        paper=0.0,
        label="representation gate",
    )
    hidden: tuple[int, ...] = setting(
        (1200, 1200),
        "hidden widths of the MLP ladder (authors: 1200-1200-k)",
        group="network",
        range=Range(1),
        paper=(1200, 1200),
        label="hidden sizes",
    )
    noise_std: float = setting(
        0.3,
        "Gaussian noise on the input and every layer of the noisy encoder",
        group="network",
        range=_POS,
        paper=0.3,
        label="noise std",
    )
    denoise_weights: tuple[float, ...] | None = setting(
        None, "input..top; None -> [1000, 10, 0.1, ...]", group="network", range=_POS, app=False
    )
    im_weight: float = setting(
        0.1,
        "weight of H(Y|X) - mu*H(Y) (authors: 0.1, 20news 0.2)",
        group="loss",
        range=_POS,
        paper=0.1,
        label="IM weight",
    )
    mu: float = setting(
        4.0,
        "weight of the marginal entropy H(Y) inside the IM loss",
        group="loss",
        range=_POS,
        paper=4.0,
        label="IM mu (marginal entropy)",
    )
    pilot_mu: float = setting(
        0.0,
        "a second mu that a short pilot tries against mu before the base phase; the run "
        "takes the one whose members agree more (kingdra.pilot; 0 = no pilot)",
        group="loss",
        range=_POS,
        paper=0.0,
        label="pilot mu (0 = off)",
    )
    kl_weight: float = setting(
        1.0, "weight of KL(clean || noisy)", group="loss", range=_POS, paper=1.0, label="KL weight"
    )
    dot_weight: float = setting(
        10.0,
        "dot-product loss weight, ladder-dot (digits: 10 beat 1)",
        group="loss",
        range=_POS,
        label="dot weight",
    )
    vat_eps: float = setting(
        0.25,
        "imsat: VAT radius, times each row's 10th-neighbour distance (IMSAT)",
        group="loss",
        range=_POS,
        label="VAT radius (imsat)",
    )
    sup_weight: float = setting(
        1.0,
        "weight of cross-entropy on pseudo-labelled points",
        group="loss",
        range=_POS,
        label="pseudo-label weight",
    )
    neighbor_weight: float = setting(
        0.0,
        "weight of -log(p_i . p_j), j a k-NN of i (0 = off, paper)",
        group="extension",
        range=_POS,
        paper=0.0,
        label="neighbour weight",
    )
    n_neighbors: int = setting(
        10,
        "k of the input-space k-NN graph used by neighbor_weight and merging (MNIST-5k: 5 "
        "beat 10 at the paper's width)",
        group="extension",
        range=Range(1),
        label="neighbours per row",
    )
    overcluster: int = setting(
        1,
        "outputs per cluster; > 1: merge r*k fine clusters to k (1 = paper)",
        group="extension",
        range=Range(1),
        paper=1,
        label="over-clustering",
    )
    lr: float = setting(
        0.002,
        "Adam learning rate",
        group="training",
        range=Range(0.0, low_open=True),
        paper=0.002,
        label="learning rate",
    )
    batch_size: int = setting(
        64,
        "unlabelled rows per member per step (as many pseudo-labelled are added); on a GPU "
        "256 trains about 4x faster per epoch than 64",
        group="training",
        range=Range(2),
        paper=64,
        label="batch size",
    )
    epochs_base: int = setting(
        5,
        "epochs of the unsupervised start",
        group="training",
        range=Range(0),
        paper=5,
        label="epochs (base)",
    )
    epochs_iter: int = setting(
        5,
        "epochs per semi-supervised iteration",
        group="training",
        range=Range(0),
        paper=5,
        label="epochs per iteration",
    )
    n_iter: int = setting(
        10,
        "Kingdra iterations after the base ensemble",
        group="training",
        range=Range(0),
        paper=10,
        app=False,
    )
    t_pos: int | None = setting(
        None,
        "strong positive edge: >= t_pos members agree; None -> n_models",
        group="graph",
        range=Range(1, "n_models"),
        app=False,
    )
    t_neg: int | None = setting(
        None,
        "strong negative edge: >= t_neg members disagree; None -> n_models",
        group="graph",
        range=Range(1, "n_models"),
        app=False,
    )
    min_confidence: float = setting(
        0.9,
        "anchor must have max-probability above this in every member",
        group="graph",
        range=Range(0.0, 1.0, high_open=True),
        paper=0.9,
        app=False,
    )
    seed: int | None = setting(
        0,
        "seeds init, noise and batch order; None -> fresh randomness",
        group="run",
        range=Range(0, 2**31 - 1),
    )
    stage: str = setting(
        "kingdra",
        "stop after: the full method, the averaged base ensemble, or one member (Table 2)",
        group="run",
        choices=STAGES,
        app=False,
    )
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # free-form notes, JSON-safe

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.denoise_weights is not None:
            self.denoise_weights = tuple(float(w) for w in self.denoise_weights)
        self.validate()

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what to use instead.

        Each field is checked against its metadata (:func:`setting`); the thresholds through
        :class:`Thresholds`, the one place that checks them.
        """
        for f in settings():
            value = getattr(self, f.name)
            meta = f.metadata
            if f.name in ("t_pos", "t_neg", "min_confidence", "seed") or (
                value is None and f.default is None
            ):
                continue
            if meta["choices"] is not None:
                if value not in meta["choices"]:
                    raise ValueError(
                        f"unknown {f.name} {value!r}; use one of {', '.join(meta['choices'])}"
                    )
            elif f.name == "hidden":
                if len(value) < 1 or any(h < 1 for h in value):
                    raise ValueError(f"hidden must be one or more positive widths, got {value}")
            elif f.name == "denoise_weights":
                if len(value) != len(self.hidden) + 2:
                    raise ValueError(
                        f"denoise_weights needs {len(self.hidden) + 2} values (input, each "
                        f"hidden layer, top), got {len(value)}; or pass None for the defaults"
                    )
                for w in value:
                    _check_number(f.name, w, meta["range"], float)
            else:
                _check_number(f.name, value, meta["range"], field_kind(f))
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")
        self.thresholds().validated(self.n_models, self.n_outputs)

    # -- derived values ---------------------------------------------------------------------
    @property
    def resolved_t_pos(self) -> int:
        """``t_pos``, with None meaning all ``n_models`` members agree."""
        return self.n_models if self.t_pos is None else self.t_pos

    @property
    def resolved_t_neg(self) -> int:
        """``t_neg``, with None meaning all ``n_models`` members disagree."""
        return self.n_models if self.t_neg is None else self.t_neg

    @property
    def n_outputs(self) -> int:
        """Output classes of every member: ``overcluster * n_clusters``."""
        return self.overcluster * self.n_clusters

    @property
    def embed_width(self) -> int:
        """Inputs of every member with ``embed != "none"``: ``embed_maps * n_clusters``."""
        return self.embed_maps * self.n_clusters

    @property
    def resolved_denoise_weights(self) -> tuple[float, ...]:
        """Denoising weights from input to top, defaults filled in."""
        if self.denoise_weights is None:
            return default_denoise_weights(len(self.hidden))
        return self.denoise_weights

    def thresholds(self) -> Thresholds:
        """Algorithm 1's settings of this run: ``k`` = one mini-cluster per output class."""
        return Thresholds(
            self.resolved_t_pos, self.resolved_t_neg, self.n_outputs, self.min_confidence
        )

    # -- construction and (de)serialisation --------------------------------------------------
    @classmethod
    def from_preset(
        cls, name: str, n_samples: int | None = None, nonzero: float = 1.0, **overrides: Any
    ) -> KingdraConfig:
        """A preset from :data:`PRESETS` with some fields replaced.

        Parameters
        ----------
        name : str
            A key of :data:`PRESETS`, or ``"auto"``: the one :func:`resolve_preset` picks
            for ``n_samples`` rows.
        n_samples : int, optional
            Rows of the data; needed by ``"auto"`` only.
        nonzero : float
            The data's fraction of non-zero entries (:func:`nonzero_fraction`); read by
            ``"auto"`` only, which takes another preset for sparse data. 1.0: dense.
        **overrides
            Any field of :class:`KingdraConfig`, e.g. ``n_clusters=10``.

        Notes
        -----
        With ``base="ladder-dot"`` and no ``min_confidence`` override, ``min_confidence``
        becomes 0: the dot-product loss leaves outputs soft, and on digits no point reached
        0.9 in every member, so the graph found no anchor at all (measured: coverage 0).
        """
        name = resolve_preset(name, n_samples, nonzero)
        values = dict(PRESETS[name])
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; see KingdraConfig")
        values.update(overrides)
        if values.get("base") == "ladder-dot" and "min_confidence" not in overrides:
            values["min_confidence"] = 0.0
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


def resolve_preset(name: str, n_samples: int | None = None, nonzero: float = 1.0) -> str:
    """The key of :data:`PRESETS` that ``name`` stands for on ``n_samples`` rows.

    A key of :data:`PRESETS` stands for itself; ``"auto"`` for the first preset of
    :data:`AUTO_PRESETS` whose row bound exceeds ``n_samples``, or its :data:`AUTO_SPARSE`
    alternative where ``nonzero`` (:func:`nonzero_fraction` of the data; 1.0, dense, when not
    given) is below :data:`SPARSE_BELOW`.

    Raises
    ------
    ValueError
        For an unknown name, or ``"auto"`` without a positive ``n_samples``.
    """
    if not isinstance(name, str) or name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESET_NAMES)}")
    if name != AUTO:
        return name
    if not _is_int(n_samples) or n_samples < 1:
        raise ValueError(
            f"preset 'auto' picks its settings by the number of rows: give n_samples "
            f"(got {n_samples!r}), or name a preset ({', '.join(PRESETS)})"
        )
    if not _is_number(nonzero) or not 0 <= nonzero <= 1:
        raise ValueError(f"nonzero must be a fraction in [0, 1], got {nonzero!r}")
    for bound, preset in AUTO_PRESETS:
        if bound is None or n_samples < bound:
            return AUTO_SPARSE.get(preset, preset) if nonzero < SPARSE_BELOW else preset
    raise AssertionError("AUTO_PRESETS ends with an unbounded preset")


def settings() -> tuple[dataclasses.Field, ...]:
    """The fields of :class:`KingdraConfig` declared with :func:`setting` (all but ``extra``)."""
    return tuple(f for f in dataclasses.fields(KingdraConfig) if "help" in f.metadata)


def paper_settings() -> dict[str, Any]:
    """The paper's (and the authors' code's) value of every field that has one."""
    return {f.name: f.metadata["paper"] for f in settings() if "paper" in f.metadata}


def preset_fields() -> tuple[str, ...]:
    """Fields whose default comes from the preset: the estimator's and the CLI's overrides."""
    return tuple(f.name for f in settings() if f.name not in CALLER_FIELDS)


def field_kind(f: dataclasses.Field) -> type:
    """``int``, ``float``, ``str`` or ``tuple`` from the field's annotation."""
    annotation = str(f.type)
    for kind in (tuple, int, float, str):
        if annotation.startswith(kind.__name__):
            return kind
    raise TypeError(f"no kind for {f.name}: {annotation}")


@dataclass(frozen=True)
class Thresholds:
    """Algorithm 1's settings: strong-edge thresholds, mini-clusters wanted, anchor gate.

    ``t_pos`` / ``t_neg``: a strong positive (negative) edge joins two points that at least
    ``t_pos`` members put together (``t_neg`` members keep apart); ``k``: mini-clusters to
    pick (at most the members' output classes); ``min_confidence``: an anchor needs a
    max-probability above it in every member. :meth:`validated` is the one place these are
    checked (config, engine and app all call it).
    """

    t_pos: int
    t_neg: int
    k: int
    min_confidence: float = 0.0

    def validated(self, n_models: int, n_outputs: int) -> Thresholds:
        """These thresholds as plain ``int`` / ``float``, checked against the ensemble.

        Raises
        ------
        ValueError
            Naming the bad value and its allowed range.
        """
        for name in ("t_pos", "t_neg"):
            value = getattr(self, name)
            if not _is_int(value) or not 1 <= value <= n_models:
                raise ValueError(
                    f"{name} must be an integer in 1..n_models={n_models}, got {value!r}"
                )
        if not _is_int(self.k) or not 1 <= self.k <= n_outputs:
            raise ValueError(
                f"k must be an integer in 1..{n_outputs} (output classes of each member), "
                f"got {self.k!r}"
            )
        conf = self.min_confidence
        if not _is_number(conf) or not 0.0 <= conf < 1.0:
            raise ValueError(f"min_confidence must be in [0, 1), got {conf!r}")
        return Thresholds(int(self.t_pos), int(self.t_neg), int(self.k), float(conf))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __iter__(self):
        return iter((self.t_pos, self.t_neg, self.k, self.min_confidence))

    def __getitem__(self, name: str) -> int | float:
        """``th["t_pos"]``: also readable like the dict that snapshots and checkpoints store."""
        if name not in ("t_pos", "t_neg", "k", "min_confidence"):
            raise KeyError(name)
        return getattr(self, name)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _check_number(name: str, value: Any, allowed: Range, kind: type) -> None:
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < allowed.low:
            raise ValueError(f"{name} must be an integer >= {allowed.low}, got {value!r}")
        return
    bad = not _is_number(value) or value < allowed.low
    if bad or (allowed.low_open and value == allowed.low):
        relation = ">" if allowed.low_open else ">="
        raise ValueError(f"{name} must be a finite number {relation} {allowed.low}, got {value!r}")
    high = allowed.high
    if _is_number(high) and (value > high or (allowed.high_open and value == high)):
        raise ValueError(f"{name} must be a number {allowed.describe()}, got {value!r}")


#: Named settings. ``paper``: the authors' numbers (each field's ``paper`` metadata). ``fast``: chosen by experiment
#: (docs/benchmarks.md) for sklearn digits in about a minute on 2 CPU cores (measured: 94.6 ± 0.2 %
#: ACC over 5 seeds, 59 s a seed on one thread beside another run); it adds a neighbour term and
#: over-clustering (``overcluster = 2``).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": paper_settings(),
    "fast": dict(
        n_models=10,
        hidden=(256, 256),  # 1200-wide layers cost ~20x more; 128 was ~2 points worse on digits
        noise_std=0.15,  # 0.3 was worse on 64-d digits (base ensemble ACC 0.80 vs 0.83)
        im_weight=1.0,  # the paper's eq. 11 weight; 0.1 left outputs near-uniform in few epochs
        mu=4.0,
        kl_weight=1.0,
        lr=0.002,
        batch_size=64,
        # digits seeds 0-4 (docs/benchmarks.md): 8 epochs 93.9 ± 0.5 % (worst 93.0), 16 94.3 ±
        # 0.3 (94.0), 32 94.6 ± 0.2 (94.3), 48 94.6 ± 0.3 (94.3), 64 94.5 ± 0.7 (93.0)
        epochs_base=32,
        epochs_iter=2,
        n_iter=5,
        min_confidence=0.9,
        neighbor_weight=1.0,  # extension (SCAN-style); gains in docs/benchmarks.md
        n_neighbors=10,
        overcluster=2,  # extension: 2k fine clusters merged to k (kingdra.merge)
    ),
}

PRESETS["imsat"] = dict(
    base="imsat",  # MLP + VAT; digits 90.1 ± 4.5 % (overcluster 1), `fast` 94.6 ± 0.2
    n_models=10,  # digits seeds 1 / 3: 5 members (256-256) 87.7 / 81.1 %, 10 (128-128) 94.2 / 93.2
    hidden=(256, 256),  # digits seed 0: 88.2 % at 128-128, 95.5 % at 256-256
    im_weight=0.1,  # IMSAT: R_vat + 0.1 H(Y|X) - 0.4 H(Y)
    mu=4.0,
    vat_eps=0.25,  # IMSAT's quarter of the 10th neighbour's distance; MNIST-5k seed 0 base: 0.15 74.7 %
    lr=0.002,
    batch_size=100,  # digits, 5 members, seed 0: 87.3 % at IMSAT's 250, 94.3 % at 100
    epochs_base=60,
    epochs_iter=10,
    n_iter=3,
    min_confidence=0.9,  # 0.5 let impure anchors in (digits seeds 1 / 3: 88.7 / 85.5 %)
    # MNIST-5k seeds 0-4: 87.9 / 87.4 / 87.5 / 88.8 / 87.9 % with 2 outputs per cluster,
    # 88.6 / 84.8 / 88.4 / 88.4 / 85.4 with 1 (docs/benchmarks.md): the worst seed 2 points up
    overcluster=2,
    # kingdra.pilot: mu = 1 where its clusters are clearly unequal and its members agree
    # more (reuters, most seeds of long-tailed MNIST); mu = 4 stays on MNIST and on equal
    # topics (docs/benchmarks.md)
    pilot_mu=1.0,
)

PRESETS["imsat-large"] = dict(
    PRESETS["imsat"],
    # Full MNIST (70,000) on the 2-core CPU (benchmarks/results/curve-mnist-imsat*-seed*.json):
    # seeds 0 / 1 98.7 / 98.7 % after two iterations in 1,605 / 1,030 s; seeds 2 / 3 98.5 /
    # 98.7 after two, 98.7 / 98.7 after three in 1,728 / 1,755 s (one thread, two runs side by
    # side). 10 members at batch 100 would take about 4x as long.
    n_models=5,
    overcluster=1,  # as measured; over-clustering is not measured on full MNIST
    batch_size=250,  # IMSAT's
    epochs_base=40,
    epochs_iter=5,
    # n_iter: imsat's 3; the third iteration: seed 2 98.47 -> 98.68 %, seed 3 98.71 -> 98.73,
    # 11 % more time
)

PRESETS["unequal"] = dict(
    PRESETS["imsat"],
    # For classes of very unequal sizes; not auto's choice for any data (docs/benchmarks.md).
    # reuters (7,309 stories, the largest topic 51 %), seeds 0-2: 65.4 ± 0.5 % against
    # imsat's 34.0 ± 3.3 (IMSAT's mu = 4 pulls the clusters to equal sizes). But on a
    # synthetic tf-idf set with 20 equal topics, imsat-large with mu = 1 gave a base ensemble
    # of 34.0 % against 87.5 with mu = 4: a weak pull to equal sizes can merge classes.
    mu=1.0,
    overcluster=1,  # the merge pairs two fine clusters per cluster: equal sizes again
    pilot_mu=0.0,  # mu = 1 is already chosen
)

PRESETS["imsat-ae-umap"] = dict(
    PRESETS["imsat"],
    # The members train on an autoencoder's code mapped by UMAP (kingdra.embedding). MNIST-5k
    # seeds 0-4: 92.7 ± 1.0 % (worst 90.8) against imsat's 87.9 ± 0.5; N2D's mixture on the
    # same representations gives 90.2 (docs/benchmarks.md). auto's choice for dense inputs;
    # on Reuters' tf-idf it gives 44.3 % (53.4 with mu = 1) against imsat's 65.1.
    embed="ae-umap",
    # On unequal classes the members lose on the embedding, with either mu (long-tailed MNIST:
    # LT5 seed 0 68.1 % against imsat's 81.5, LT10 seeds 0-2 82.4 / 77.0 / 63.8 against 85.0 /
    # 87.3 / 71.9). The gate (KingdraEngine.fit_representation) asks the mu pilot first
    # (kingdra.pilot.classes_look_equal): it found MNIST-5k's classes equal on 13 of 15 seeds
    # and long-tailed MNIST's never (28 seeds; no autoencoder where it took mu = 1). Where it
    # cannot tell, a Gaussian mixture on the representation sizes the clusters
    # (benchmarks.embed_gate): MNIST-5k 0.966-1.000, long-tailed MNIST 0.934-0.972, a reading
    # that moves with package versions. Refused, the run goes on on the input as imsat.
    embed_gate=0.98,
    # Four UMAP maps of the one code side by side: one map's layout is one random draw, and
    # the members' ensemble followed it. MNIST-5k seeds 0-9, the default: 91.6 ± 2.7 %
    # (worst 85.9) against 90.2 ± 2.9 (worst 86.2) with one map; seeds 5 and 6 gain 4.2 and
    # 6.6 points, none loses more than 0.3 (docs/benchmarks.md). The four maps took 42-78 s
    # of UMAP in those runs (two or three side by side), one map 31-35 s in earlier ones.
    embed_maps=4,
    # the embedding's clusters are compact, a split in two arbitrary: 2 outputs per cluster
    # gave base ensembles of 90.2 / 87.7 % against 93.6 / 93.6 (seeds 0 / 1, an exploratory run)
    overcluster=1,
    n_iter=0,  # the iterations lose on it: MNIST-5k seed 0 93.1 -> 78.0 % after three
    # pilot_mu: imsat's 1. The pilot runs on the inputs, before the representation: its cut
    # was set there, and on the embedding mu = 1 sizes are 0.79-0.85 even for equal classes.
)

#: Fields that a run whose representation fails ``embed_gate`` takes from ``imsat`` when they
#: still hold ``imsat-ae-umap``'s value: it goes on on the input as ``imsat`` would.
EMBED_FALLBACK: tuple[str, ...] = ("overcluster", "n_iter")


def embed_fallback(config: KingdraConfig) -> KingdraConfig:
    """``config`` for the input instead of the representation (``embed_gate`` not met).

    >>> cfg = KingdraConfig.from_preset("imsat-ae-umap")
    >>> fallback = embed_fallback(cfg)
    >>> (fallback.embed, fallback.overcluster, fallback.n_iter)
    ('none', 2, 3)
    """
    changes: dict[str, Any] = {"embed": "none", "embed_gate": 0.0}
    for name in EMBED_FALLBACK:
        if getattr(config, name) == PRESETS["imsat-ae-umap"][name]:
            changes[name] = PRESETS["imsat"][name]
    return config.replace(**changes)


#: The name of the default preset: it picks one of :data:`PRESETS` by the data's size.
AUTO = "auto"

#: ``auto``'s choice: ``(rows below which, preset)`` in order, the last one unbounded.
#: Measured (docs/benchmarks.md): digits (1,797 rows) ``fast`` 94.6 ± 0.2 % against
#: ``imsat`` 86.7 ± 3.5; MNIST-5k ``imsat-ae-umap`` 92.5 ± 2.2 (seeds 0-4; seeds 5-9 90.7 ±
#: 2.9) against ``imsat`` 87.9 ± 0.5 and ``fast`` 74.0 / 75.6; full MNIST ``imsat-large`` 98.7 %
#: on seeds 0-3 (0 and 1 after two iterations, 2 and 3 after the preset's three) in 17-29
#: minutes. The bounds lie between the sizes measured: 3,000 between 1,797 and 5,000; 20,000
#: where ``imsat`` (4.9 minutes on MNIST-5k, idle) would take about 20 minutes and
#: ``imsat-large`` a quarter.
AUTO_PRESETS: tuple[tuple[int | None, str], ...] = (
    (3000, "fast"),
    (20000, "imsat-ae-umap"),
    (None, "imsat-large"),
)

#: Below this fraction of non-zero entries the data counts as sparse (tf-idf text: Reuters
#: 0.020; MNIST's pixels 0.193, digits 0.511).
SPARSE_BELOW = 0.10

#: What ``auto`` takes instead on sparse data: the autoencoder learns little from rows that
#: are 98 % zeros (Reuters seed 0: 44.3 %, 53.4 with ``mu = 1``, against ``imsat``'s 65.1).
AUTO_SPARSE: dict[str, str] = {"imsat-ae-umap": "imsat"}


def nonzero_fraction(X: Any) -> float:
    """The fraction of entries of ``X`` that are not zero (1.0 for an empty array).

    >>> nonzero_fraction(np.array([[0.0, 1.0], [0.0, 0.0]]))
    0.25
    """
    arr = np.asarray(X)
    return float(np.count_nonzero(arr) / arr.size) if arr.size else 1.0


def describe_auto() -> str:
    """``auto``'s rule in words, e.g. for help texts."""
    parts, low = [], 0
    for bound, preset in AUTO_PRESETS:
        rows = f"from {low:,} rows" if bound is None else f"below {bound:,}"
        sparse = AUTO_SPARSE.get(preset)
        if sparse is not None:
            rows += (
                f" (``{sparse}`` where under {SPARSE_BELOW * 100:g} % of the entries are non-zero, "
                "as in tf-idf text)"
            )
        parts.append(f"``{preset}`` {rows}")
        low = bound
    return ", ".join(parts)


#: Every name a caller may give: ``auto`` and the keys of :data:`PRESETS`.
PRESET_NAMES: tuple[str, ...] = (AUTO, *PRESETS)
