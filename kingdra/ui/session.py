"""One browser session's state: its dataset, its engine run, snapshots and caches.

An :class:`AppSession` lives in ``st.session_state`` (never in a global cache), so two tabs
never share a run. Training jobs run through :class:`~kingdra.ui.runner.TrainingRunner`;
after each finished step the worker stores a :class:`Snapshot` of the ensemble's predictions,
and the pages draw from snapshots only, so they never read an engine mid-update. While the
base ensemble trains, the worker also publishes a preview every few epochs
(:class:`~kingdra.ui.runner.PreviewSchedule`): a snapshot of the predictions so far, held
in :attr:`AppSession.preview` until the base ensemble is done, so a first look never waits
for the whole phase; :meth:`AppSession.views` gives the pages what to draw.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kingdra.checkpoint import run_from_bytes_raw, run_to_bytes
from kingdra.config import Thresholds
from kingdra.curation import apply_edits, edit_json
from kingdra.engine import KingdraEngine
from kingdra.metrics import cluster_accuracy
from kingdra.ui.runner import (
    PreviewSchedule,
    ProgressBoard,
    TrainingRunner,
    epochs_done,
    progress_fraction,
)

logger = logging.getLogger(__name__)

SYNC_ENV = "KINGDRA_APP_SYNC"  # "1": train in the script thread (AppTest cannot wait on threads)
EMBEDDING_SAMPLE = 5000  # rows whose learned representation is kept for the UMAP view
DEFAULTS_ENV = "KINGDRA_APP_DEFAULTS"  # JSON of config overrides for the Train form (tests, demos)


@dataclass
class Snapshot:
    """The ensemble's predictions after one finished step (0 = base ensemble), or a preview.

    A preview (``epochs_done > 0``) holds the base ensemble's predictions after that many of
    its ``n_epochs`` epochs (2.0, or 0.3 within the first), published while the phase
    trains; it has no embedding.
    """

    iteration: int
    member_labels: np.ndarray  # (n, m) int: L, each member's predicted cluster
    confidence: np.ndarray  # (n, m) float: each member's max probability
    labels: np.ndarray  # (n,) final clusters (aligned ensemble average, argmax)
    probs: np.ndarray  # (n, k) aligned ensemble-average probabilities
    params: dict[str, Any] = field(default_factory=dict)  # thresholds used for the next step
    embedding_index: np.ndarray | None = None  # rows of a sample with a stored embedding
    embedding: np.ndarray | None = None  # (s, d) learned representation (latest snapshot only)
    final_member_labels: np.ndarray | None = None  # (n, m) members' final clusters (latest only)
    epochs_done: float = 0.0  # a preview: epochs of the base phase done (0: a finished step)
    n_epochs: int = 0  # epochs of the phase a preview was taken in
    acc: float | None = None  # ACC of `labels` when the data's labels are known

    @property
    def is_preview(self) -> bool:
        return self.epochs_done > 0

    @property
    def key(self) -> tuple[int, float]:
        """What tells snapshots apart, for caches: a preview is not its finished step."""
        return (self.iteration, self.epochs_done)

    @property
    def epochs_text(self) -> str:
        """A preview's epochs done, as said: '2', '2.5', '0.3', '0.036'."""
        if self.epochs_done < 1:
            return f"{self.epochs_done:.2g}"
        return f"{self.epochs_done:.1f}".rstrip("0").rstrip(".")

    @property
    def title(self) -> str:
        """'base ensemble', 'iteration 2', 'preview after 6 of 60 epochs (ACC 71.2%)'."""
        if self.is_preview:
            acc = "" if self.acc is None else f" (ACC {self.acc:.1%})"
            return f"preview after {self.epochs_text} of {self.n_epochs} epochs{acc}"
        return f"iteration {self.iteration}" if self.iteration else "base ensemble"


def sync_mode() -> bool:
    """True when the environment asks for synchronous training."""
    return os.environ.get(SYNC_ENV, "") not in ("", "0", "false", "no")


class AppSession:
    """Everything one browser session owns."""

    def __init__(self, sync: bool | None = None) -> None:
        self.dataset = None  # kingdra.data.Dataset
        self.dataset_key: str = ""  # what was loaded ("digits", an upload's name)
        self.engine = None  # kingdra.engine.KingdraEngine
        self.config = None  # kingdra.config.KingdraConfig of the current run
        self.device: str = "auto"
        self.runner = TrainingRunner(sync=sync_mode() if sync is None else sync)
        self.snapshots: list[Snapshot] = []
        self.preview: Snapshot | None = None  # the base phase's latest preview, while it trains
        self.thresholds: Thresholds | None = None  # chosen on the Graph page
        self.cache: dict[Any, Any] = {}  # layouts, UMAPs, sweeps: keyed by snapshot + params
        self.baselines: list[dict] | None = None
        self.messages: list[str] = []
        self.previous: dict[str, Any] | None = None  # a run put aside by set_dataset
        # A person's edits of the next iteration's mini-clusters (kingdra.curation), made on
        # the set Algorithm 1 gives for `edits_on` (latest snapshot, thresholds).
        self.edits: list[dict[str, Any]] = []
        self.edits_on: tuple | None = None
        self.cluster_names: dict[int, str] = {}  # final cluster -> a person's name for it

    # -- state ------------------------------------------------------------------------------
    @property
    def latest(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    @property
    def trained(self) -> bool:
        """A step is finished (a preview does not count: nothing can be built on it)."""
        return bool(self.snapshots)

    def views(self) -> list[Snapshot]:
        """What the pages draw: the finished snapshots, else ``[preview]`` while the base
        ensemble trains, else nothing."""
        preview = self.preview  # read first: the worker sets the snapshot, then clears this
        snapshots = self.snapshots
        if snapshots:
            return snapshots
        return [preview] if preview is not None else []

    def run_state(self, finished: bool = False) -> str:
        """Short run state for the sidebar; `finished`: the last finished step, even mid-job."""
        snap = self.runner.snapshot()
        if snap.running and not finished:
            return f"training… ({snap.job})"
        if not self.snapshots:
            return "not trained"
        it = self.latest.iteration
        return "base trained" if it == 0 else f"iteration {it}"

    def set_dataset(self, dataset, key: str) -> None:
        """Switch to a new dataset; a trained run of the previous one is put aside.

        The run (engine, snapshots, thresholds, with its dataset) stays restorable with
        :meth:`restore_previous` until another trained run is put aside; the progress of the
        last job is cleared, since it belongs to the old data.

        Raises
        ------
        ValueError
            While training runs.
        """
        if self.runner.is_running():
            raise ValueError("stop the training before switching datasets")
        if self.trained:
            self.previous = self._run_state()
        self.dataset = dataset
        self.dataset_key = key
        self.reset_run()
        self.runner.clear()

    def _run_state(self) -> dict[str, Any]:
        names = ("dataset", "dataset_key", "engine", "config", "device", "snapshots")
        names += ("thresholds", "cache", "baselines", "edits", "edits_on", "cluster_names")
        return {name: getattr(self, name) for name in names}

    def previous_description(self) -> str | None:
        """One line about the run put aside by :meth:`set_dataset`, or None."""
        if self.previous is None:
            return None
        it = self.previous["snapshots"][-1].iteration
        done = "base ensemble" if it == 0 else f"{it} iteration(s)"
        return f"the run on {self.previous['dataset_key']} ({done})"

    def restore_previous(self) -> None:
        """Swap back to the run put aside (and its dataset); the current one is put aside.

        Raises
        ------
        ValueError
            When there is none, or while training runs.
        """
        if self.previous is None:
            raise ValueError("there is no earlier run to restore")
        if self.runner.is_running():
            raise ValueError("stop the training before restoring another run")
        current = self._run_state() if self.trained else None
        for name, value in self.previous.items():
            setattr(self, name, value)
        self.previous = current
        self.runner.clear()

    def reset_run(self) -> None:
        self.engine = None
        self.config = None
        self.snapshots = []
        self.preview = None
        self.thresholds = None
        self.cache = {}
        self.baselines = None
        self.edits, self.edits_on, self.cluster_names = [], None, {}

    def current_thresholds(self) -> Thresholds:
        """Thresholds for the graph: the Graph page's choice, else the run's config."""
        if self.thresholds is not None:
            return self.thresholds
        return self.config.thresholds()

    def set_thresholds(self, t_pos, t_neg, k, min_confidence) -> None:
        """Use these thresholds for the next iterations (``ValueError`` when out of range)."""
        if self.config is None:
            raise ValueError("train the base ensemble first")
        th = Thresholds(t_pos, t_neg, k, min_confidence)
        self.thresholds = th.validated(self.config.n_models, self.config.n_outputs)

    # -- curation: the next iteration's mini-clusters, and names of the final clusters ------
    def _edit_key(self) -> tuple:
        return (self.latest.iteration, tuple(sorted(self.current_thresholds().to_dict().items())))

    def pending_edits(self) -> list[dict[str, Any]]:
        """Edits for the next iteration; none once the thresholds or the snapshot changed."""
        if not self.trained or self.edits_on != self._edit_key():
            return []
        return list(self.edits)

    def edited_clusters(self, clusters) -> list[np.ndarray]:
        """``clusters`` (Algorithm 1 on the latest snapshot) after the pending edits.

        On a preview there are none: edits wait for the base ensemble.
        """
        n = len(self.latest.labels) if self.trained else None
        return apply_edits(clusters, self.pending_edits(), n, self.config.n_outputs)

    def add_edit(self, clusters, edit: dict[str, Any]) -> list[np.ndarray]:
        """Add one edit (kingdra.curation) for the next iteration; the edited set.

        Raises
        ------
        ValueError
            Saying what to fix; the edits so far are kept.
        """
        if not self.trained:
            raise ValueError(
                "the mini-clusters can be edited once the base ensemble is trained"
                + (" (this is a preview)" if self.preview is not None else ": train it first")
            )
        edit = edit_json(edit)
        pending = self.pending_edits()
        edits = pending + [edit]
        edited = apply_edits(clusters, edits, len(self.latest.labels), self.config.n_outputs)
        self.edits, self.edits_on = edits, self._edit_key()
        return edited

    def undo_edit(self) -> None:
        self.edits = self.pending_edits()[:-1]

    def name_cluster(self, cluster: int, name: str) -> None:
        """Name final cluster ``cluster`` ("" removes the name); names go into the CSVs."""
        k = self.config.n_clusters
        if not 0 <= int(cluster) < k:
            raise ValueError(f"there is no cluster {cluster}: the clusters are 0..{k - 1}")
        name = str(name).strip()
        if len(name) > 80:
            raise ValueError(f"a cluster name has at most 80 characters, got {len(name)}")
        if name:
            self.cluster_names[int(cluster)] = name
        else:
            self.cluster_names.pop(int(cluster), None)

    def cached(self, key, compute):
        """Per-session cache of results that depend only on a snapshot and some parameters."""
        if key not in self.cache:
            if len(self.cache) > 48:
                self.cache.clear()
            self.cache[key] = compute()
        return self.cache[key]

    # -- training jobs ----------------------------------------------------------------------
    def _snapshot(self, engine=None) -> None:
        # Runs in the worker right after a step, the only time the engine is not training:
        # the pages never call the engine themselves.
        engine = self.engine if engine is None else engine
        n = engine.n_samples
        index = np.arange(n)
        if n > EMBEDDING_SAMPLE:
            index = np.sort(np.random.default_rng(0).choice(n, EMBEDDING_SAMPLE, replace=False))
        embedding = engine.embedding(
            engine.X[index].cpu().numpy() if n > EMBEDDING_SAMPLE else None
        )
        for old in self.snapshots:  # only the latest snapshot's are drawn
            old.embedding = old.embedding_index = old.final_member_labels = None
        snapshot = self._predictions(engine)
        snapshot.embedding_index = index
        snapshot.embedding = np.asarray(embedding, dtype=np.float32)
        self.snapshots.append(snapshot)

    def _predictions(self, engine, **preview) -> Snapshot:
        """The engine's current predictions, copied ("preview": `Snapshot`'s preview fields)."""
        probs = engine.ensemble_probs
        labels = probs.argmax(axis=1)
        y = engine.y_eval
        return Snapshot(
            iteration=int(engine.iteration),
            member_labels=np.array(engine.member_labels, copy=True),
            confidence=np.array(engine.confidence, copy=True),
            labels=labels,
            probs=np.asarray(probs, dtype=np.float32).copy(),
            params=self.current_thresholds().to_dict(),
            # Members scored on the final clusters (merged, aligned), like the headline.
            final_member_labels=np.array(engine.final_member_labels(), copy=True),
            acc=None if y is None else float(cluster_accuracy(y, labels)),
            **preview,
        )

    def _publish_preview(self, engine, epochs_done: float, n_epochs: int) -> None:
        """Predict with the weights after ``epochs_done`` base epochs; publish :attr:`preview`.

        Runs in the worker between two batches (``train_base``'s callback may predict: the
        run stays the same). A preview that fails is logged and training goes on.
        """
        try:
            engine.predict(merge=True)  # the fine clusters' merge as it stands now
            self.preview = self._predictions(
                engine, epochs_done=round(float(epochs_done), 3), n_epochs=n_epochs
            )
        except Exception:  # a preview is a convenience: it never ends the training
            logger.exception("the preview after %.2f base epochs failed", epochs_done)

    def _callback(self, board: ProgressBoard, part: int, n_parts: int, label: str):
        started = board.snapshot().started_at  # the job's start (the board was reset for it)

        def callback(progress) -> None:
            loss = getattr(progress, "loss", None) or {}
            frac = progress_fraction(progress, part, n_parts)
            eta = _eta(started, frac)
            measured = getattr(progress, "eta_s", math.nan)  # the trainer's, from 2 batches on
            if eta is None and n_parts == 1 and math.isfinite(measured):
                eta = measured  # the job is this one call: its time left before 1 % is done
            board.update(
                phase=f"{label} · {getattr(progress, 'phase', '')}",
                epoch=int(getattr(progress, "epoch", 0)),
                n_epochs=int(getattr(progress, "n_epochs", 0)),
                batch=int(getattr(progress, "batch", 0)),
                n_batches=int(getattr(progress, "n_batches", 0)),
                fraction=frac,
                elapsed_s=_elapsed(started),
                eta_s=eta,
            )
            if loss and getattr(progress, "event", "batch") == "batch":
                board.add_loss(loss)

        return callback

    def start_base(self, config, device: str = "auto") -> None:
        """Create a fresh engine for ``config`` and train the base ensemble.

        Raises
        ------
        ValueError
            Without a dataset, or while a job runs (checked by the runner under its lock, so
            a second start from another rerun never replaces the running engine).
        """
        if self.dataset is None:
            raise ValueError("load a dataset first (Data page)")
        if self.runner.is_running():  # cheap early answer; the runner's claim decides
            raise ValueError("training is already running; stop it or wait for it to finish")
        engine = KingdraEngine(self.dataset.X, config, y_eval=self.dataset.y, device=device)

        def prepare() -> None:  # runs only once the runner is ours
            self.reset_run()
            self.config = config
            self.device = device
            self.engine = engine

        def job(board: ProgressBoard) -> str:
            progress = self._callback(board, 0, 1, "base ensemble")
            schedule = PreviewSchedule(config.epochs_base)

            def callback(p) -> None:
                progress(p)
                if schedule.due(p):
                    start = time.perf_counter()
                    self._publish_preview(engine, epochs_done(p), p.n_epochs)
                    schedule.record(p, time.perf_counter() - start)

            try:
                engine.train_base(callback=callback)
                # what trained: the pilot's mu; the gate may have changed the outputs per
                # cluster, which the graph's thresholds and curation follow
                self.config = engine.config
                self._snapshot(engine)
            finally:  # done: the snapshot replaces it; stopped or failed: nothing to show
                self.preview = None
            return "base ensemble trained"

        self.runner.start(job, "base ensemble", stop_hook=engine.request_stop, prepare=prepare)

    def start_iterations(self, n_iter: int = 1) -> None:
        """Run ``n_iter`` Kingdra iterations with the current thresholds."""
        if not self.trained or self.engine is None:
            raise ValueError("train the base ensemble first")
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise ValueError(f"number of iterations must be an integer >= 1, got {n_iter!r}")
        engine = self.engine
        edits, base = self.pending_edits(), None
        if edits:  # the set they were made on, to check that the engine's is the same
            from kingdra.ui.graph_view import run_algorithm

            snap = self.latest
            th = self.current_thresholds()
            base = run_algorithm(snap.member_labels, snap.confidence, *th).clusters
        self.edits, self.edits_on = [], None  # handed to this job

        def job(board: ProgressBoard) -> str:
            for part in range(n_iter):
                engine.build_graph(**self.current_thresholds().to_dict())
                if part == 0 and edits:
                    same = [np.asarray(c).tolist() for c in base] == [
                        c.tolist() for c in engine.mini_clusters
                    ]
                    if same:
                        engine.apply_edits(edits)
                    else:  # the graph fell short and the engine kept its last complete set
                        note = (
                            "your edits of the mini-clusters were not used: the graph fell "
                            "short and the last complete set was trained on"
                        )
                        logger.warning(note)
                        self.messages.append(note)
                it = self.latest.iteration + 1
                label = f"iteration {it} ({part + 1} of {n_iter})"
                board.update(job=label)
                engine.train_iteration(callback=self._callback(board, part, n_iter, label))
                self._snapshot(engine)
            return f"{n_iter} iteration(s) done"

        self.runner.start(job, f"{n_iter} iteration(s)", stop_hook=engine.request_stop)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint_bytes(self) -> bytes:
        """The run as a ``.safetensors`` file (kingdra.checkpoint), with the app's thresholds."""
        if self.engine is None or not self.trained:
            raise ValueError("nothing trained yet: train the base ensemble first")
        if self.runner.is_running():
            raise ValueError("wait for the training to finish (or stop it) before saving")
        thresholds = None if self.thresholds is None else self.thresholds.to_dict()
        extra = {
            "app": {
                "thresholds": thresholds,
                "dataset": self.dataset_key,
                "edits": self.pending_edits(),
                "cluster_names": {str(c): v for c, v in self.cluster_names.items()},
            }
        }
        return run_to_bytes(self.engine, extra=extra)

    def restore_bytes(self, data: bytes, device: str = "auto") -> None:
        """Resume a run from checkpoint bytes on the current dataset.

        Raises
        ------
        ValueError
            For a bad file, a run made on other data, or thresholds out of range.
        """
        if self.dataset is None:
            raise ValueError("load the dataset the run was trained on first (Data page)")
        if self.runner.is_running():
            raise ValueError("stop the training before loading a checkpoint")
        saved = run_from_bytes_raw(data, source="the uploaded file")
        engine = saved.engine(self.dataset.X, self.dataset.y, device)
        app = (saved.extra or {}).get("app") or {}
        thresholds = app.get("thresholds")
        if thresholds is not None:
            if not isinstance(thresholds, dict):
                raise ValueError("the checkpoint's app thresholds are not a mapping; re-save it")
            try:
                thresholds = Thresholds(
                    thresholds.get("t_pos"),
                    thresholds.get("t_neg"),
                    thresholds.get("k"),
                    thresholds.get("min_confidence", 0.0),
                ).validated(engine.config.n_models, engine.config.n_outputs)
            except (TypeError, ValueError) as err:
                raise ValueError(f"the checkpoint's thresholds are invalid: {err}") from None
        try:
            edits = [edit_json(e) for e in app.get("edits") or []]
            names = {int(c): str(v) for c, v in (app.get("cluster_names") or {}).items()}
        except (AttributeError, TypeError, ValueError) as err:
            raise ValueError(
                f"the checkpoint's edits or cluster names are damaged: {err}"
            ) from None
        self.reset_run()
        self.engine = engine
        self.config = engine.config
        self.device = device
        self.thresholds = thresholds
        if engine.member_labels is None:
            engine.predict()
        self._snapshot()
        self.cluster_names = names
        if edits:
            self.edits, self.edits_on = edits, self._edit_key()


def _elapsed(started_at: float) -> float:
    return max(time.time() - started_at, 0.0)


def _eta(started_at: float, fraction: float) -> float | None:
    if fraction <= 0.01:
        return None
    el = _elapsed(started_at)
    return el * (1 - fraction) / fraction
