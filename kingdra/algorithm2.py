"""Algorithm 2 of the paper (Kingdra: iterative ensemble training), as the paper writes it.

::

    Input: dataset X, models M = {M_1 .. M_m}, k             KingdraEngine(X, config)
    1-4   train every M_j on loss_Ladder-* alone              base_ensemble
    5     for it in 1 .. n_iter:                              kingdra (its body: step)
    6         S = GetClusters(X, k)                           KingdraEngine.build_graph (Algorithm 1)
    7-8       pseudo-labels of S for every M_j                iteration
    9-10      train every M_j on loss_Ladder-* + loss_sup     iteration
    13    average the ensemble -> final clusters              KingdraEngine.labels_

The :class:`~kingdra.engine.KingdraEngine` holds the state between the lines (predictions,
``S`` as ``mini_clusters``, the history); its ``train_base``, ``train_iteration``, ``step``
and ``run`` call these functions, so a caller can stop after any line, move the thresholds and
go on. Each phase ends with a prediction and one :class:`~kingdra.history.Record`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from kingdra.history import Record
from kingdra.pseudo import member_pseudo_labels, pseudo_label_quality

if TYPE_CHECKING:  # the engine calls this module, never the other way round at run time
    from kingdra.engine import KingdraEngine
    from kingdra.trainer import Callback

logger = logging.getLogger(__name__)

__all__ = ["base_ensemble", "iteration", "kingdra", "step"]


def kingdra(engine: KingdraEngine, n_iter: int | None, callback: Callback | None = None) -> None:
    """Algorithm 2: the base ensemble (unless trained), then ``n_iter`` iterations.

    ``n_iter=None``: the config's, read after the base phase.
    """
    if not engine.base_trained:
        engine.train_base(callback=callback)  # lines 1-4
    if engine.config.stage != "kingdra":  # the base ensemble alone ("ensemble", "single")
        return
    if n_iter is None:
        n_iter = engine.config.n_iter
    for _ in range(n_iter):  # line 5
        step(engine, callback)


def step(engine: KingdraEngine, callback: Callback | None = None) -> None:
    """Lines 6-10, the loop's body: S = GetClusters(X, k), then `iteration` on S."""
    engine.build_graph()  # line 6: S = GetClusters(X, k)
    engine.train_iteration(callback=callback)  # lines 7-10


def base_ensemble(engine: KingdraEngine, epochs: int, callback: Callback | None = None) -> None:
    """Lines 1-4: every member minimises its unsupervised loss; then predict and record."""
    start = time.perf_counter()
    if engine.config.pilot_mu > 0:  # kingdra.pilot: IM's mu chosen by the members' agreement
        engine.choose_mu(callback)
    if engine.config.embed != "none" and engine.representation is None:
        engine.fit_representation(callback)  # kingdra.embedding: what the members train on
    losses = engine.train_members(epochs, "base", callback)
    engine.base_trained = True
    engine.predict(merge=True)  # the fine clusters' merge is fixed on the base ensemble
    _record(
        engine,
        Record(
            iteration=0,
            phase="base",
            epochs=epochs,
            seconds=round(time.perf_counter() - start, 3),
            losses=losses,
            **engine.evaluate(),
        ),
    )


def iteration(
    engine: KingdraEngine,
    epochs: int,
    callback: Callback | None = None,
    **graph: Any,
) -> None:
    """Lines 7-10 on ``S = engine.mini_clusters``; then predict and record.

    ``graph``: the thresholds that gave ``S``, ``kept_previous`` and the person's ``edits``
    of ``S`` (kingdra.curation), for the record.
    """
    start = time.perf_counter()
    S = engine.mini_clusters
    # Lines 7-8: each mini-cluster -> one output class of each member (one-to-one), (n, m).
    # Empty slots (mini-clusters a person rejected or merged away) take no class.
    used = [c for c in S if len(c)]
    pseudo = member_pseudo_labels(used, engine.member_labels, engine.config.n_outputs)
    engine.pseudo_labels = np.asarray(pseudo, dtype=np.int64)
    if not (engine.pseudo_labels >= 0).any():
        logger.warning("no pseudo-labelled points: this iteration trains unsupervised only")
    # Lines 9-10: the unsupervised loss on every point, plus cross-entropy on the labelled.
    losses = engine.train_members(epochs, "iteration", callback, engine.pseudo_labels)
    engine.iteration += 1
    engine.predict()
    n_labelled = int((engine.pseudo_labels[:, 0] >= 0).sum())
    precision = None
    if engine.y_eval is not None and S:
        precision = float(pseudo_label_quality(S, engine.y_eval).precision)
    _record(
        engine,
        Record(
            iteration=engine.iteration,
            phase="iteration",
            epochs=epochs,
            seconds=round(time.perf_counter() - start, 3),
            losses=losses,
            **graph,
            mini_cluster_sizes=[int(len(c)) for c in S],
            n_pseudo_labelled=n_labelled,
            coverage=n_labelled / engine.n_samples,
            pseudo_precision=precision,
            **engine.evaluate(),
        ),
    )


def _record(engine: KingdraEngine, record: Record) -> None:
    data = record.to_json()
    engine.history.append(data)
    keys = ("acc", "coverage", "pseudo_precision")
    brief = ", ".join(f"{k}={data[k]:.3f}" for k in keys if k in data) or "no labels"
    if record.iteration == 0:
        logger.info("base ensemble trained in %.1f s: %s", record.seconds, brief)
    else:
        logger.info("iteration %d in %.1f s: %s", record.iteration, record.seconds, brief)
