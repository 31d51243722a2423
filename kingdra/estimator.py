"""``KingdraCluster``: the Kingdra method as a scikit-learn clustering estimator."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from kingdra.checkpoint import read_run, run_from_bytes_raw, run_to_bytes, save_run
from kingdra.config import (
    AUTO,
    PRESETS,
    KingdraConfig,
    describe_auto,
    field_kind,
    nonzero_fraction,
    preset_fields,
    resolve_preset,
    settings,
)
from kingdra.device import resolve_device
from kingdra.engine import KingdraEngine

logger = logging.getLogger(__name__)

# Estimator parameters that override the preset's KingdraConfig field of the same name when
# not None: every field except those the estimator always sets (kingdra.config.CALLER_FIELDS).
_CONFIG_OVERRIDES = preset_fields()


def _preset_parameter_docs() -> str:
    """Numpydoc lines for the preset overrides, from the config's field metadata."""
    presets = {name: KingdraConfig.from_preset(name) for name in PRESETS}
    lines = []
    for f in settings():
        if f.name in _CONFIG_OVERRIDES:
            kind = {tuple: "tuple", int: "int", float: "float", str: "str"}[field_kind(f)]
            defaults = ", ".join(f"{p} {getattr(c, f.name)!r}" for p, c in presets.items())
            lines += [
                f"    {f.name} : {kind}, optional",
                f"        {f.metadata['help']}.",
                f"        None: the preset's ({defaults}).",
            ]
    return "\n".join(lines).lstrip()


class KingdraCluster(ClusterMixin, BaseEstimator):
    """Cluster with an ensemble of ladder networks and graph pseudo-labels (Kingdra).

    Trains ``n_models`` Ladder-IM (or Ladder-Dot) networks without labels, builds the
    agreement graph of their predictions, takes Algorithm 1's high-precision mini-clusters
    as pseudo-labels and retrains semi-supervised, ``n_iter`` times (ICLR 2020).

    Parameters
    ----------
    n_clusters : int, default=10
        Number of clusters ``k``.
    n_models : int or None, default=None
        Ensemble size ``m``; None: the preset's (10, ``imsat-large``: 5).
    base : {"ladder-im", "ladder-dot", "imsat"} or None, default=None
        Base model of every member: the paper's ladder networks with the information
        maximisation or the dot-product loss, or IMSAT's MLP with virtual adversarial
        self-augmentation; None: the preset's.
    preset : str, default="auto"
        Named settings (a key of ``kingdra.config.PRESETS``, see ``docs/presets.md``) for
        every parameter below left at None. ``"auto"`` picks one by the number of rows
        of ``X``: {auto_rule}.
    {preset_parameters}
    stage : {"kingdra", "ensemble", "single"}, default="kingdra"
        Stop after the full method, after the plain (averaged) base ensemble, or use one
        base model only (the rows of the paper's Table 2).
    device : {"auto", "cpu", "cuda", "mps"}, default="auto"
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU.
    random_state : int, RandomState or None, default=None
        An int seeds the run directly (repeatable on CPU); a RandomState draws a seed.
    verbose : bool, default=False
        Log one line per epoch at INFO level (through :mod:`logging`).
    callback : callable, optional
        Called with a :class:`kingdra.engine.Progress` per batch and per epoch.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of every training row.
    n_features_in_ : int
    engine_ : KingdraEngine
        The trained engine: ``history``, ``mini_clusters``, ``probs``, ...
    history_ : list of dict
        ``engine_.history``: one :class:`kingdra.history.Record` per phase in its JSON form
        (losses, mini-cluster sizes, coverage, and metrics when evaluated).
    mini_clusters_ : list of ndarray
        The last mini-clusters (indices of training rows).

    Notes
    -----
    Scale features to about [0, 1] (images: divide by 255) or to unit variance first: the
    ladder's noise level (std 0.3) assumes that scale.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> model = KingdraCluster(n_clusters=10, n_models=3, hidden=(64,), n_iter=1,
    ...                        epochs_base=1, epochs_iter=1, random_state=0)
    >>> labels = model.fit_predict(X[:300] / 16.0)
    >>> labels.shape
    (300,)
    """

    def __init__(
        self,
        n_clusters=10,
        *,
        n_models=None,
        base=None,
        preset="auto",
        embed=None,
        embed_epochs=None,
        embed_maps=None,
        embed_gate=None,
        hidden=None,
        noise_std=None,
        denoise_weights=None,
        im_weight=None,
        mu=None,
        pilot_mu=None,
        kl_weight=None,
        dot_weight=None,
        vat_eps=None,
        sup_weight=None,
        neighbor_weight=None,
        n_neighbors=None,
        overcluster=None,
        lr=None,
        batch_size=None,
        epochs_base=None,
        epochs_iter=None,
        n_iter=None,
        t_pos=None,
        t_neg=None,
        min_confidence=None,
        stage="kingdra",
        device="auto",
        random_state=None,
        verbose=False,
        callback=None,
    ):
        self.n_clusters = n_clusters
        self.n_models = n_models
        self.base = base
        self.preset = preset
        self.embed = embed
        self.embed_epochs = embed_epochs
        self.embed_maps = embed_maps
        self.embed_gate = embed_gate
        self.hidden = hidden
        self.noise_std = noise_std
        self.denoise_weights = denoise_weights
        self.im_weight = im_weight
        self.mu = mu
        self.pilot_mu = pilot_mu
        self.kl_weight = kl_weight
        self.dot_weight = dot_weight
        self.vat_eps = vat_eps
        self.sup_weight = sup_weight
        self.neighbor_weight = neighbor_weight
        self.n_neighbors = n_neighbors
        self.overcluster = overcluster
        self.lr = lr
        self.batch_size = batch_size
        self.epochs_base = epochs_base
        self.epochs_iter = epochs_iter
        self.n_iter = n_iter
        self.t_pos = t_pos
        self.t_neg = t_neg
        self.min_confidence = min_confidence
        self.stage = stage
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # -- configuration ----------------------------------------------------------------------
    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, (int, np.integer)) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state must be >= 0, got {rs}")
            return int(rs) % (2**31 - 1)
        return int(check_random_state(rs).randint(2**31 - 1))

    def make_config(self, n_samples: int | None = None, nonzero: float = 1.0) -> KingdraConfig:
        """The validated :class:`~kingdra.config.KingdraConfig` these parameters give.

        The preset's values (``"auto"``: the preset for ``n_samples`` rows whose fraction of
        non-zero entries is ``nonzero``, :func:`~kingdra.config.resolve_preset`), replaced by
        every parameter that is not None. Raises ``ValueError`` saying what to fix, before
        any data is read or anything trained.
        """
        preset = resolve_preset(self.preset, n_samples, nonzero)
        overrides: dict[str, Any] = {}
        for name in ("n_clusters", "n_models", "base", *_CONFIG_OVERRIDES):
            value = getattr(self, name)
            if value is not None:
                overrides[name] = _plain(name, value)
        return KingdraConfig.from_preset(preset, stage=self.stage, seed=self._seed(), **overrides)

    def _callback(self):
        user = self.callback
        if user is not None and not callable(user):
            raise ValueError(f"callback must be callable or None, got {type(user).__name__}")
        if not self.verbose:
            return user

        def log_epochs(progress):
            if progress.event == "epoch":
                loss = ", ".join(f"{k}={v:.4g}" for k, v in progress.loss.items())
                logger.info(
                    "%s %d epoch %d/%d: %s",
                    progress.phase,
                    progress.iteration,
                    progress.epoch,
                    progress.n_epochs,
                    loss,
                )
            if user is not None:
                user(progress)

        return log_epochs

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train the ensemble and run Kingdra on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
            Present for scikit-learn API compatibility; labels are never used.

        Returns
        -------
        self
        """
        if self.preset != AUTO:  # parameter errors first: they say what to fix
            config = self.make_config()
        # scikit-learn's conventions (2-D, not sparse, 2+ rows) here; the engine checks the
        # rest once (NaN / inf with their row and column, at least n_clusters rows).
        X = check_array(X, dtype=np.float32, ensure_min_samples=2, ensure_all_finite=False)
        if self.preset == AUTO:  # its settings depend on the rows and their sparsity
            config = self.make_config(X.shape[0], nonzero_fraction(X))
        engine = KingdraEngine(X, config, device=self.device)
        engine.run(callback=self._callback())
        self.set_engine(engine)
        return self

    def set_engine(self, engine: KingdraEngine) -> KingdraCluster:
        """Take a trained (or stopped) engine as this estimator's fit; returns ``self``.

        For callers that drive the engine themselves (the CLI: evaluation labels, Ctrl-C);
        :meth:`fit` ends with it. The engine's config is not checked against the parameters.
        """
        if engine.probs is None:
            raise ValueError("the engine has no predictions yet: train its base ensemble first")
        self.engine_ = engine
        self.n_features_in_ = int(engine.n_features)
        raw = np.asarray(engine.labels_, dtype=np.int64)
        # Number the clusters 0..c-1 over the ones that are not empty (scikit-learn's
        # convention); empty output classes come last, so predict() can still reach them.
        used = np.unique(raw)
        unused = np.setdiff1d(np.arange(engine.config.n_clusters), used)
        self._class_order = np.concatenate([used, unused])
        self.labels_ = np.argsort(self._class_order)[raw]
        self.history_ = engine.history
        self.mini_clusters_ = engine.mini_clusters
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def _check_X(self, X) -> np.ndarray:
        # scikit-learn's conventions (fitted, 2-D, not sparse, its n_features_in_ message)
        # here; the engine checks the values once (NaN / inf with their row and column).
        check_is_fitted(self, "engine_")
        X = check_array(X, dtype=np.float32, ensure_all_finite=False)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but KingdraCluster is expecting "
                f"{self.n_features_in_} features as input (the number it was fitted on)"
            )
        return X

    def predict_proba(self, X):
        """Cluster probabilities of new rows: the aligned ensemble average, (n_samples, k)."""
        X = self._check_X(X)
        return self.engine_.predict_proba(X)[:, self._class_order]

    def predict(self, X):
        """Cluster of new rows (argmax of :meth:`predict_proba`)."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    # -- pickling: the engine travels as a safetensors run (it holds a lock and a generator) --
    def __getstate__(self):
        state = super().__getstate__()
        if "engine_" in state:
            state = dict(state)
            state["engine_"] = run_to_bytes(self.engine_, extra=self._extra())
        return state

    def __setstate__(self, state):
        engine = state.get("engine_")
        if isinstance(engine, (bytes, bytearray)):
            try:
                device = resolve_device(state.get("device", "auto"))
            except ValueError:  # pickled on a GPU machine, unpickled without one
                device = resolve_device("cpu")
            state = dict(state)
            state["engine_"] = run_from_bytes_raw(engine, "the pickled estimator").engine(
                device=device
            )
        super().__setstate__(state)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, include_optimizer: bool = True):
        """Save the fitted model to one ``.safetensors`` file (see :mod:`kingdra.checkpoint`)."""
        check_is_fitted(self, "engine_")
        return save_run(
            path, self.engine_, extra=self._extra(), include_optimizer=include_optimizer
        )

    def to_bytes(self, include_optimizer: bool = True) -> bytes:
        """The bytes :meth:`save` would write (for a download button)."""
        check_is_fitted(self, "engine_")
        return run_to_bytes(self.engine_, extra=self._extra(), include_optimizer=include_optimizer)

    def _extra(self) -> dict[str, Any]:
        params = {}
        for key, value in self.get_params(deep=False).items():
            if key == "callback":
                continue
            if key == "random_state" and not (value is None or isinstance(value, int)):
                value = None  # a RandomState object is not JSON; the seed is in the config
            params[key] = list(value) if isinstance(value, tuple) else value
        return {"estimator": "KingdraCluster", "params": params}

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> KingdraCluster:
        """Load a model saved by :meth:`save` (or any kingdra run file)."""
        return cls._from_saved(read_run(path), device)

    @classmethod
    def from_bytes(cls, data: bytes, device: str = "auto") -> KingdraCluster:
        """Inverse of :meth:`to_bytes` (for an upload button)."""
        return cls._from_saved(run_from_bytes_raw(data, source="the uploaded file"), device)

    @classmethod
    def _from_saved(cls, saved, device: str) -> KingdraCluster:
        engine = saved.engine(device=device)
        if engine.probs is None:
            raise ValueError("the run file holds an untrained model (no predictions saved)")
        config = engine.config
        params = dict(saved.extra.get("params", {})) if isinstance(saved.extra, dict) else {}
        if not params:  # a run saved from the engine or the CLI: rebuild from its config
            params = {
                "n_clusters": config.n_clusters,
                "n_models": config.n_models,
                "base": config.base,
                "stage": config.stage,
                "random_state": config.seed,
            }
        known = cls._get_param_names()
        params = {k: v for k, v in params.items() if k in known}
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        params["device"] = device
        return cls(**params).set_engine(engine)


def _plain(name: str, value: Any) -> Any:
    """A parameter as the config wants it: numpy scalars as Python numbers, widths a tuple."""
    if name in ("hidden", "denoise_weights"):
        cast = int if name == "hidden" else float
        if isinstance(value, (int, float, np.integer, np.floating)):
            value = (value,)
        try:
            return tuple(cast(v) for v in value)
        except (TypeError, ValueError) as err:
            example = "(256, 256)" if name == "hidden" else "(1000, 10, 0.1, 0.1)"
            raise ValueError(
                f"{name} must be a tuple of {'layer widths' if name == 'hidden' else 'weights'} "
                f"like {example}, got {value!r}"
            ) from err
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


KingdraCluster.__doc__ = KingdraCluster.__doc__.replace(
    "{preset_parameters}", _preset_parameter_docs()
).replace("{auto_rule}", describe_auto())
