"""The state of the Kingdra loop (paper Algorithm 2, run by :mod:`kingdra.algorithm2`).

::

    engine = KingdraEngine(X, KingdraConfig.from_preset("fast", n_clusters=10), y_eval=y)
    engine.train_base()          # unsupervised Ladder-* ensemble (lines 1-4)
    engine.build_graph()         # agreement graph + Algorithm 1 -> engine.mini_clusters
    engine.reject(3)             # optional: a person edits the mini-clusters (kingdra.curation)
    engine.train_iteration()     # pseudo-labels per member + semi-supervised epochs
    engine.labels_               # aligned ensemble average, argmax

Between steps everything is plain state (``probs``, ``member_labels``, ``confidence``,
``graph``, ``mini_clusters``, ``history``) and ``t_pos``, ``t_neg``, ``k``,
``min_confidence``, ``epochs_iter`` may be changed. Moving thresholds only re-runs
:meth:`build_graph`, never training. Between :meth:`build_graph` and :meth:`train_iteration`
the mini-clusters may be edited (:meth:`reject`, :meth:`drop`, :meth:`merge`,
:meth:`add_group`); the iteration trains on the edited set and its history record lists the
edits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from typing import Any

import numpy as np
import torch

from kingdra import algorithm2, engine_state
from kingdra.alignment import align_members, aligned_mean
from kingdra.bases import build_members, build_objective, predict_chunks
from kingdra.config import KingdraConfig, Thresholds, embed_fallback
from kingdra.curation import apply_edits, describe, edit_json
from kingdra.device import resolve_device
from kingdra.embedding import Representation, fit_representation, mixture_sizes
from kingdra.graph import get_clusters
from kingdra.merge import OverClustering
from kingdra.metrics import ari, cluster_accuracy, nmi
from kingdra.neighbors import nearest_neighbors
from kingdra.pilot import PilotResult, classes_look_equal, run_pilot
from kingdra.trainer import Callback, Cancelled, Progress, Trainer

logger = logging.getLogger(__name__)

__all__ = ["Callback", "Cancelled", "KingdraEngine", "Progress", "align_members", "check_data"]


def check_data(X: Any, n_clusters: int) -> np.ndarray:
    """Validate ``X`` as a finite 2-D array with at least ``n_clusters`` rows; float32 copy."""
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be a numeric 2-D array (n_samples, n_features): {err}") from err
    if arr.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}; "
            "flatten images with X.reshape(len(X), -1)"
        )
    if arr.shape[1] < 1:
        raise ValueError("X has no features (0 columns)")
    finite = np.isfinite(arr)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        raise ValueError(
            f"X contains {rows.size} value(s) that are NaN or infinity, the first at row {rows[0]}, "
            f"column {cols[0]} (rows {sorted(set(rows.tolist()))[:5]}); impute or drop those "
            "rows first (kingdra.load(..., drop_nonfinite=True) drops them)"
        )
    if arr.shape[0] < n_clusters:
        raise ValueError(
            f"X has {arr.shape[0]} samples but n_clusters={n_clusters}; "
            "need at least as many samples as clusters"
        )
    return arr


class KingdraEngine:
    """Kingdra training state machine; see the module docstring for the steps.

    Parameters
    ----------
    X : array-like (n_samples, n_features)
        Data to cluster (float; scale it to about [0, 1] or unit variance first).
    config : KingdraConfig
    y_eval : array-like (n_samples,), optional
        Ground truth used only to report ACC / NMI / ARI / pseudo-label precision in
        :attr:`history`; never used for training.
    device : str or torch.device
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.

    Attributes
    ----------
    probs : (m, n, k) float32 array or None
        Clean-encoder probabilities of every member from the last :meth:`predict`.
    member_labels, confidence : (n, m) arrays or None
        Argmax and max-probability of each member (the graph's ``L`` and anchor confidence).
    graph : GetClustersResult or None
        Result of the last :meth:`build_graph`.
    mini_clusters : list of int arrays or None
        The mini-clusters the next :meth:`train_iteration` uses (last complete set), after
        the pending :attr:`edits`; a rejected or merged-away one stays as an empty slot.
    edits : list of dict
        Edits of :attr:`mini_clusters` since the last :meth:`build_graph`, not yet trained on
        (:mod:`kingdra.curation`); the next :meth:`train_iteration` records and clears them.
    history : list of dict
        One :class:`kingdra.history.Record` per trained phase (iteration 0 is the base
        ensemble), in its JSON form.
    representation : kingdra.embedding.Representation or None
        What the members train on when ``config.embed != "none"``, fitted by
        :meth:`train_base`; new rows pass through it in :meth:`predict_proba`.
    overclustering : kingdra.merge.OverClustering or None
        The fine -> final cluster map when ``config.overcluster > 1``.
    """

    def __init__(
        self,
        X: Any,
        config: KingdraConfig,
        y_eval: Any = None,
        device: str | torch.device = "auto",
    ) -> None:
        if not isinstance(config, KingdraConfig):
            raise ValueError(f"config must be a KingdraConfig, got {type(config).__name__}")
        config.validate()
        arr = check_data(X, config.n_clusters)
        self._setup(config, arr.shape[1], device)
        self._attach(arr, y_eval)

    # -- construction -----------------------------------------------------------------------
    def _setup(
        self,
        config: KingdraConfig,
        n_features: int,
        device: str | torch.device,
        stop: threading.Event | None = None,
    ) -> None:
        """Members, trainer and empty state for ``config``; ``stop``: the trainer's stop event
        (default a new one; the representation's gate keeps the run's)."""
        self.config = config
        self.device = resolve_device(device)
        self.n_features = int(n_features)
        self.seed = int(config.seed) if config.seed is not None else int(torch.seed() % (2**31 - 1))
        init_gen = torch.Generator().manual_seed(self.seed)
        # embed="ae-umap": the members see the representation's coordinates.
        width = self.n_features if config.embed == "none" else config.embed_width
        self.model = build_members(config, width, init_gen).to(self.device)
        self.objective = build_objective(config)
        self.trainer = Trainer(self.model, self.objective, config, self.seed, self.device, stop)
        self.optimizer = self.trainer.optimizer
        # Batch order and pseudo-label sampling on the CPU, noise on the device: both seeded.
        self._cpu_gen = self.trainer.cpu_gen
        self._dev_gen = self.trainer.dev_gen
        # Changeable between steps.
        self.t_pos: int = config.resolved_t_pos
        self.t_neg: int = config.resolved_t_neg
        self.k: int = config.n_outputs  # mini-clusters per Algorithm 1 run
        self.min_confidence: float = config.min_confidence
        self.epochs_iter: int = config.epochs_iter
        # State.
        self.X: torch.Tensor | None = None
        self.representation: Representation | None = None  # config.embed's, once fitted
        self._embedded: torch.Tensor | None = None  # X in the representation
        self._neighbors: torch.Tensor | None = None
        self.y_eval: np.ndarray | None = None
        self.probs: np.ndarray | None = None
        self.member_labels: np.ndarray | None = None
        self.confidence: np.ndarray | None = None
        self.graph: Any = None
        self.mini_clusters: list[np.ndarray] | None = None
        self.edits: list[dict[str, Any]] = []
        self._unedited: list[np.ndarray] | None = None  # mini_clusters before the edits
        self.pseudo_labels: np.ndarray | None = None
        self.history: list[dict[str, Any]] = []
        self.iteration = 0
        self.base_trained = False
        self._alignment: np.ndarray | None = None
        self.overclustering = (
            OverClustering(config.n_clusters, config.overcluster, self.seed)
            if config.overcluster > 1
            else None
        )
        self._kept_previous = False
        self._mini_clusters_complete = False

    def set_data(self, X: Any, y_eval: Any = None) -> None:
        """Attach (new) training data; clears cached predictions of the old data."""
        arr = check_data(X, self.config.n_clusters)
        if arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has {arr.shape[1]} features but the model was built for {self.n_features}"
            )
        self._attach(arr, y_eval)

    def _attach(self, arr: np.ndarray, y_eval: Any) -> None:
        """`set_data` on ``arr`` already checked by `check_data` (the constructor's)."""
        self.X = torch.from_numpy(arr).to(self.device)
        self._embedded = None
        self._neighbors = None
        self.y_eval = None
        if y_eval is not None:
            y = np.asarray(y_eval).reshape(-1)
            if len(y) != len(arr):
                raise ValueError(f"y_eval has {len(y)} labels but X has {len(arr)} rows")
            self.y_eval = y
        self.probs = self.member_labels = self.confidence = None
        # Mini-clusters and pseudo-labels are row indices of the old data.
        self.graph = self.mini_clusters = self.pseudo_labels = None
        self._mini_clusters_complete = False
        self.edits, self._unedited = [], None

    @property
    def n_samples(self) -> int:
        """Rows of the attached data (0 when none)."""
        return 0 if self.X is None else int(self.X.shape[0])

    # -- control ----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask a running ``train_*`` to stop after the current batch (raises :class:`Cancelled`).

        Safe to call from another thread (e.g. a Streamlit stop button). The engine stays
        usable: weights keep the updates made so far; call :meth:`predict` to refresh.
        """
        self.trainer.request_stop()

    # -- training ---------------------------------------------------------------------------
    def _require_data(self) -> torch.Tensor:
        if self.X is None:
            raise ValueError("this engine has no data; pass X to from_saved() or set_data()")
        return self.X

    def _inputs(self, X: torch.Tensor | None = None) -> torch.Tensor:
        """What the members see of ``X`` (default: the attached data): X, or its representation."""
        if self.config.embed == "none":
            return self._require_data() if X is None else X
        if self.representation is None:
            raise ValueError(
                f"embed={self.config.embed!r}: the representation is not fitted yet; "
                "train_base() fits it first"
            )
        if X is not None:
            return self.representation.transform(X.to(self.device))
        if self._embedded is None:  # data attached after the fit (a loaded run)
            self._embedded = self.representation.transform(self._require_data())
        return self._embedded

    def fit_representation(self, callback: Callback | None = None) -> None:
        """Fit ``config.embed``'s representation on the attached data (:mod:`kingdra.embedding`).

        Done once, by :meth:`train_base`, after the ``mu`` pilot; :meth:`request_stop`
        stops it too. With ``config.embed_gate > 0`` the representation may be refused
        (:meth:`_gate`): then the config says ``embed = "none"`` and the members train on the
        input.
        """
        if self.config.embed == "none":
            return
        pilot = self.config.extra.get("mu_pilot")
        verdict = classes_look_equal(pilot) if self.config.embed_gate > 0 and pilot else None
        if verdict is False:  # no autoencoder for a representation that would be refused
            self._gate({"pilot": "unequal", "sizes": None}, False, time.perf_counter())
            return
        representation = fit_representation(
            X=self._require_data(),
            dim=self.config.n_clusters,
            epochs=self.config.embed_epochs,
            seed=self.seed,
            maps=self.config.embed_maps,
            callback=callback,
            stop=self.trainer.stop_event,
        )
        if self.config.embed_gate > 0:
            start = time.perf_counter()
            if verdict:
                kept = self._gate({"pilot": "equal", "sizes": None}, True, start)
            else:
                _, sizes = mixture_sizes(representation, self.config.n_clusters, self.seed)
                record = {"pilot": "unsure" if pilot else None, "sizes": round(sizes, 4)}
                kept = self._gate(record, sizes >= self.config.embed_gate, start)
            if not kept:
                return
        self.representation = representation
        self._embedded = representation.coords.to(self.device)
        self._neighbors = None

    def _gate(self, record: dict, kept: bool, start: float) -> bool:
        """``config.embed_gate``: keep the representation (``kept``), or go on on the input.

        The classes' sizes decide: on the representation IMSAT's pull to equal sizes loses on
        unequal classes (docs/benchmarks.md). The ``mu`` pilot tells first
        (:func:`kingdra.pilot.classes_look_equal`: ``record["pilot"]`` is ``"equal"``,
        ``"unequal"`` or ``"unsure"``, ``None`` without a pilot); where it cannot, a
        Gaussian mixture of ``n_clusters`` on the representation (N2D's clustering) sizes
        its clusters (``record["sizes"]``, the normalised entropy of their sizes), and the
        representation is kept when they reach the gate. Refused, the members train on the
        input with :func:`kingdra.config.embed_fallback`'s config. The record goes to
        ``config.extra["embed_gate"]``.
        """
        record = {
            **record,
            "gate": self.config.embed_gate,
            "kept": bool(kept),
            "seconds": round(time.perf_counter() - start, 3),
        }
        reason = (
            f"the mu pilot found the classes {record['pilot']}"
            if record["sizes"] is None
            else f"mixture cluster sizes {record['sizes']:.3f} of equal, gate "
            f"{self.config.embed_gate:.3f}"
        )
        logger.info(
            "representation gate: %s -> members train on the %s",
            reason,
            "representation" if kept else "input",
        )
        config = self.config if kept else embed_fallback(self.config)
        config = config.replace(extra={**self.config.extra, "embed_gate": record})
        if kept:
            self.config = self.trainer.config = config
            return True
        X, y_eval = self.X, self.y_eval
        # members for the input's width; a Stop pressed meanwhile still stops the run
        self._setup(config, self.n_features, self.device, self.trainer.stop_event)
        self.X, self.y_eval = X, y_eval
        return False

    def train_members(self, epochs, phase, callback=None, pseudo=None) -> dict[str, float]:
        """Train every member ``epochs`` epochs on the attached data; mean loss parts.

        ``phase``: "base" or "iteration"; ``pseudo``: (n, m) pseudo-labels, -1 for none. The
        model is left in eval mode. Predictions and history are not updated (see
        :mod:`kingdra.algorithm2`).
        """
        neighbors = self._neighbor_table() if self.config.neighbor_weight > 0 else None
        return self.trainer.train_epochs(
            self._inputs(), epochs, phase, callback, pseudo, neighbors, self.iteration
        )

    def _neighbor_table(self) -> torch.Tensor:
        """(n, n_neighbors) input-space nearest neighbours of every row (cached)."""
        X = self._inputs()
        if self._neighbors is None:
            start = time.perf_counter()
            self._neighbors = nearest_neighbors(X, self.config.n_neighbors)
            logger.info(
                "%d nearest neighbours of %d rows in %.1f s",
                self._neighbors.shape[1],
                X.shape[0],
                time.perf_counter() - start,
            )
        return self._neighbors

    def train_base(self, epochs: int | None = None, callback: Callback | None = None) -> None:
        """Unsupervised phase: train every member with its Ladder-* loss, then :meth:`predict`.

        Parameters
        ----------
        epochs : int, optional
            Defaults to ``config.epochs_base``.
        callback : callable, optional
            Receives a :class:`Progress` per batch and per epoch. It may call
            :meth:`predict` (``merge=True``) for a preview of the ensemble so far (the app
            does every few epochs): that changes neither the weights nor the generators, and
            the phase ends with its own prediction, so the run stays the same.
        """
        epochs = self.config.epochs_base if epochs is None else _check_epochs(epochs)
        algorithm2.base_ensemble(self, epochs, callback)

    def choose_mu(self, callback: Callback | None = None) -> PilotResult:
        """Run :func:`kingdra.pilot.run_pilot` and train with the ``mu`` it chooses.

        Done once, by :meth:`train_base` when ``config.pilot_mu > 0``: the config then holds
        the chosen ``mu``, ``pilot_mu = 0`` and the pilot's measurements in
        ``extra["mu_pilot"]``. :meth:`request_stop` stops the pilot too.
        """
        # On the input, also where the members train on a representation: the pilot's cut
        # was measured there (on UMAP's compact clusters mu = 1 looks unequal on equal classes).
        result = run_pilot(
            self._require_data(), self.config, self.seed, callback, self.trainer.stop_event
        )
        extra = {**self.config.extra, "mu_pilot": result.to_dict()}
        self.config = self.config.replace(mu=result.mu, pilot_mu=0.0, extra=extra)
        self.objective = build_objective(self.config)
        self.trainer.objective, self.trainer.config = self.objective, self.config
        return result

    @torch.no_grad()
    def member_probs(self, X: Any | None = None) -> np.ndarray:
        """Clean probabilities of every member, (m, n, k); ``X=None`` uses the training data."""
        data = self._inputs(None if X is None else self._new_rows(X))
        chunks = [probs.float().cpu() for probs, _ in predict_chunks(self.model, data)]
        return torch.cat(chunks, dim=1).numpy()

    def _new_rows(self, X: Any) -> torch.Tensor:
        """``X`` checked as rows of the training data's width, on the device."""
        arr = check_data(X, 1)
        if arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has {arr.shape[1]} features but the model was trained on {self.n_features}"
            )
        return torch.from_numpy(arr).to(self.device)

    def predict(self, merge: bool = False) -> np.ndarray:
        """Cache ``probs`` (m, n, k), ``member_labels`` and ``confidence`` (n, m); return labels.

        ``merge``: fit :attr:`overclustering`'s map again (done once, after the base phase,
        and kept for the rest of the run).
        """
        self.probs = self.member_probs()
        self.member_labels = self.probs.argmax(axis=2).T.astype(np.int64)  # (n, m)
        self.confidence = self.probs.max(axis=2).T  # (n, m)
        self._alignment = align_members(
            self.member_labels, self.config.n_outputs, reference=None, probs=self.probs, refine=3
        )
        over = self.overclustering
        if over is not None and (merge or over.groups is None):
            neighbors = self._neighbor_table().cpu().numpy()
            over.fit(self._members(self.probs), self._alignment, neighbors)
        return self.member_labels

    def merge_summary(self) -> dict[str, np.ndarray]:
        """:meth:`kingdra.merge.OverClustering.summary` on the current predictions."""
        if self.overclustering is None:
            raise ValueError("no merge in this run: it needs overcluster > 1 and train_base()")
        neighbors = self._neighbor_table().cpu().numpy()
        return self.overclustering.summary(self._members(self.probs), self._alignment, neighbors)

    def _members(self, probs: np.ndarray) -> np.ndarray:
        """The members whose probabilities make the final clusters (member 0 for "single")."""
        return probs[:1] if self.config.stage == "single" else probs

    def build_graph(
        self,
        t_pos: int | None = None,
        t_neg: int | None = None,
        k: int | None = None,
        min_confidence: float | None = None,
    ) -> Any:
        """Agreement graph and Algorithm 1 on the cached predictions (no training).

        Arguments override the engine's ``t_pos``, ``t_neg``, ``k``, ``min_confidence`` for
        this call only. If the result has fewer than ``k`` mini-clusters or an empty one,
        the last complete set stays in :attr:`mini_clusters` (DESIGN.md) and a warning is
        logged; the new result is still returned and kept in :attr:`graph`.

        Returns
        -------
        kingdra.graph.GetClustersResult
        """
        if self.member_labels is None:
            raise ValueError("no predictions yet: call train_base() (or predict()) first")
        if self.edits:  # they were made on the set this graph replaces
            logger.warning(
                "build_graph() discards %d untrained edit(s) of the mini-clusters (%s); "
                "edit after build_graph(), then train_iteration()",
                len(self.edits),
                "; ".join(describe(e) for e in self.edits),
            )
            self.mini_clusters, self.edits, self._unedited = self._unedited, [], None
        m = self.config.n_models
        t_pos = self.t_pos if t_pos is None else t_pos
        t_neg = self.t_neg if t_neg is None else t_neg
        k = self.k if k is None else k
        min_conf = self.min_confidence if min_confidence is None else min_confidence
        t_pos, t_neg, k, min_conf = Thresholds(t_pos, t_neg, k, min_conf).validated(
            m, self.config.n_outputs
        )
        with _quiet_graph():  # its warning counts fine clusters as k; ours below does not
            result = get_clusters(
                self.member_labels,
                int(k),
                int(t_pos),
                int(t_neg),
                confidence=self.confidence,
                min_confidence=float(min_conf),
            )
        self.graph = result
        clusters = [np.asarray(c, dtype=np.int64) for c in result.clusters]
        complete = len(clusters) == k and all(len(c) > 0 for c in clusters)
        self._graph_params = {
            "t_pos": int(t_pos),
            "t_neg": int(t_neg),
            "mini_clusters_wanted": int(k),
            "min_confidence": float(min_conf),
        }
        self._kept_previous = False
        fine_note = "" if self.overclustering is None else self.overclustering.note()
        if complete:
            self.mini_clusters = clusters
            self._mini_clusters_complete = True
        elif self.mini_clusters is not None and self._mini_clusters_complete:
            self._kept_previous = True
            logger.warning(
                "graph gave %d non-empty mini-clusters of %d wanted%s (t_pos=%d, t_neg=%d); "
                "keeping the last complete set",
                sum(len(c) > 0 for c in clusters),
                k,
                fine_note,
                t_pos,
                t_neg,
            )
        else:
            self.mini_clusters = [c for c in clusters if len(c) > 0]
            self._mini_clusters_complete = False
            logger.warning(
                "graph gave %d non-empty mini-clusters of %d wanted%s and there is no earlier "
                "complete set: the iteration trains on those and leaves the rest unlabelled "
                "(lower t_neg or min_confidence for more)",
                len(self.mini_clusters),
                k,
                fine_note,
            )
        return result

    def train_iteration(self, epochs: int | None = None, callback: Callback | None = None) -> None:
        """One semi-supervised iteration: pseudo-labels per member, train, predict, record.

        Uses :attr:`mini_clusters` (calls :meth:`build_graph` first if there are none).
        """
        if not self.base_trained:
            raise ValueError("call train_base() before train_iteration()")
        epochs = self.epochs_iter if epochs is None else _check_epochs(epochs)
        if self.member_labels is None:  # new data since the last prediction
            self.predict()
        if self.mini_clusters is None:
            self.build_graph()
        graph = getattr(self, "_graph_params", {})  # the last build_graph's thresholds
        edits = list(self.edits) or None
        algorithm2.iteration(
            self, epochs, callback, **graph, kept_previous=bool(self._kept_previous), edits=edits
        )
        self.edits, self._unedited = [], None  # trained on: the edited set is the set now

    # -- curation (kingdra.curation): a person's edits before the next iteration ------------
    def reject(self, cluster: int) -> list[np.ndarray]:
        """Reject mini-cluster ``cluster``: its rows go unlabelled in the next iteration.

        Returns the edited :attr:`mini_clusters`. Numbers stay those of the graph (the
        rejected one is left as an empty slot).

        Raises
        ------
        ValueError
            No mini-clusters yet, a number out of range, an empty mini-cluster, the last one.
        """
        return self.apply_edits([{"op": "reject", "cluster": cluster}])

    def drop(self, cluster: int, rows: Any) -> list[np.ndarray]:
        """Drop ``rows`` (row numbers of X, all in the mini-cluster) from mini-cluster ``cluster``."""
        return self.apply_edits([{"op": "drop", "cluster": cluster, "rows": _as_list(rows)}])

    def merge(self, i: int, j: int) -> list[np.ndarray]:
        """Merge mini-cluster ``j`` into ``i``: one pseudo-label for both; ``j`` is left empty."""
        return self.apply_edits([{"op": "merge", "clusters": [i, j]}])

    def add_group(self, rows: Any) -> list[np.ndarray]:
        """Make ``rows`` (e.g. a selection) a new mini-cluster; they leave any that held them."""
        return self.apply_edits([{"op": "add", "rows": _as_list(rows)}])

    def apply_edits(self, edits: list[dict[str, Any]]) -> list[np.ndarray]:
        """Apply edits (:mod:`kingdra.curation` dicts) in order, all or none; the edited set.

        Raises
        ------
        ValueError
            Before :meth:`build_graph`, or for an edit that does not fit (the message says
            which edit and what to fix); then nothing is changed.
        """
        if self.mini_clusters is None:
            raise ValueError("no mini-clusters to edit yet: call build_graph() first")
        if not isinstance(edits, (list, tuple)):
            raise ValueError(f"edits must be a list of edit dicts, got {type(edits).__name__}")
        checked = [edit_json(e) for e in edits]
        edited = apply_edits(
            self.mini_clusters, checked, self.n_samples or None, self.config.n_outputs
        )
        if self._unedited is None:
            self._unedited = self.mini_clusters
        self.mini_clusters = edited
        self.edits.extend(checked)
        return self.mini_clusters

    def step(self, callback: Callback | None = None) -> None:
        """One Kingdra iteration: :meth:`build_graph` then :meth:`train_iteration`."""
        if not self.base_trained:
            raise ValueError("call train_base() before step()")
        algorithm2.step(self, callback)

    def run(self, n_iter: int | None = None, callback: Callback | None = None) -> KingdraEngine:
        """Base ensemble (if not trained yet), then ``n_iter`` steps when ``stage="kingdra"``.

        ``n_iter=None``: ``config.n_iter`` as it stands after the base phase (the
        representation's gate may change it, :meth:`fit_representation`).
        """
        if n_iter is not None:
            n_iter = _check_epochs(n_iter, "n_iter")
        algorithm2.kingdra(self, n_iter, callback)
        return self

    # -- results ----------------------------------------------------------------------------
    def _final_probs(self, probs: np.ndarray) -> np.ndarray:
        """(m, n, n_outputs) member probabilities -> (n, n_clusters): their aligned average,
        or with over-clustering each member merged first (:attr:`overclustering`)."""
        if self.overclustering is not None:
            return self.overclustering.final_probs(self._members(probs))
        if self.config.stage == "single":
            return probs[0]
        if self._alignment is None:
            raise ValueError("no alignment yet: call train_base() or predict() first")
        return aligned_mean(probs, self._alignment)

    def final_member_labels(self) -> np.ndarray:
        """(n, m) each member's labels as final clusters (aligned, and merged if over-clustered)."""
        if self.member_labels is None or self._alignment is None:
            raise ValueError("no predictions yet: call train_base() (or predict()) first")
        if self.overclustering is not None:
            return self.overclustering.final_labels(self.member_labels)
        groups = np.argsort(self._alignment, axis=1)  # member class -> aligned class
        return groups[np.arange(len(groups)), self.member_labels]

    @property
    def ensemble_probs(self) -> np.ndarray:
        """(n, k) final probabilities: aligned average over members (member 0 for "single").

        Members are matched (Hungarian on label co-occurrence) to the medoid member, the one
        agreeing most with the others, then re-matched to the consensus three times. With
        ``overcluster > 1`` each member's fine classes are first merged to the ``k`` clusters
        fixed after the base phase (:attr:`overclustering`), then averaged.
        """
        if self.probs is None:
            raise ValueError("no predictions yet: call train_base() (or predict()) first")
        return self._final_probs(self.probs)

    @property
    def labels_(self) -> np.ndarray:
        """(n,) final cluster of every training row (argmax of :attr:`ensemble_probs`)."""
        return self.ensemble_probs.argmax(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) final probabilities for new rows, with the members aligned as in training."""
        return self._final_probs(self.member_probs(X))

    @torch.no_grad()
    def embedding(self, X: Any | None = None, member: int = 0) -> np.ndarray:
        """(n, d_top) clean top hidden layer of one member (default member 0).

        Members' hidden units are not comparable (only their output classes can be aligned),
        so averaging hidden layers over members would mix unrelated features: one member's
        representation is returned instead.
        """
        if not 0 <= member < self.config.n_models:
            raise ValueError(f"member must be in 0..{self.config.n_models - 1}, got {member}")
        data = self._inputs(None if X is None else self._new_rows(X))
        out = [hidden[member].float().cpu() for _, hidden in predict_chunks(self.model, data)]
        return torch.cat(out).numpy()

    def evaluate(self) -> dict[str, Any]:
        """ACC / NMI / ARI of the ensemble and of each member against ``y_eval``."""
        if self.y_eval is None or self.probs is None:
            return {}
        y = self.y_eval
        pred = self.labels_
        members = self.final_member_labels()
        return {
            "acc": float(cluster_accuracy(y, pred)),
            "nmi": float(nmi(y, pred)),
            "ari": float(ari(y, pred)),
            "member_acc": [
                float(cluster_accuracy(y, members[:, j])) for j in range(members.shape[1])
            ],
            "member_nmi": [float(nmi(y, members[:, j])) for j in range(members.shape[1])],
            "member_ari": [float(ari(y, members[:, j])) for j in range(members.shape[1])],
        }

    # -- state export (kingdra.engine_state; checkpoint.py writes it as safetensors + JSON) --
    def state_dict_for_save(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to resume or inspect the run: :func:`kingdra.engine_state.export`."""
        return engine_state.export(self)

    @classmethod
    def from_saved(
        cls,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        X: Any = None,
        y_eval: Any = None,
        device: str | torch.device = "auto",
    ) -> KingdraEngine:
        """An engine from :meth:`state_dict_for_save` output: :func:`kingdra.engine_state.restore`."""
        return engine_state.restore(cls, tensors, meta, X, y_eval, device)


@contextlib.contextmanager
def _quiet_graph():
    """Drop ``kingdra.graph``'s own warning for one Algorithm 1 run.

    Its "found 6 of k=6" counts the members' fine clusters as k; :meth:`KingdraEngine.build_graph`
    says the same in the caller's terms (``n_clusters``), once.
    """
    graph_logger = logging.getLogger("kingdra.graph")
    quiet = logging.Filter()
    quiet.filter = lambda record: record.levelno < logging.WARNING  # type: ignore[method-assign]
    graph_logger.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        graph_logger.removeFilter(quiet)


def _as_list(rows: Any) -> Any:
    """Row numbers as a plain list where they are an array (the edit dicts are JSON)."""
    return np.asarray(rows).tolist() if isinstance(rows, (np.ndarray, range)) else rows


def _check_epochs(value: Any, name: str = "epochs") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)
