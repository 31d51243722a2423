"""An engine's state as tensors and JSON, and back: what :mod:`kingdra.checkpoint` writes.

:func:`export` splits a :class:`~kingdra.engine.KingdraEngine` into tensors (weights, Adam
state, predictions, pseudo-labels, the representation, generator states) and a JSON-safe
dict (config, history, mini-clusters, thresholds, pending edits); :func:`restore` builds an
engine from the two and checks that they fit. ``KingdraEngine.state_dict_for_save`` and
``KingdraEngine.from_saved`` call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from kingdra.config import KingdraConfig
from kingdra.curation import edit_json
from kingdra.embedding import Representation
from kingdra.history import load as load_history

if TYPE_CHECKING:
    from kingdra.engine import KingdraEngine

SAVE_FORMAT = "kingdra-engine"
SAVE_VERSION = 1


def export(engine: KingdraEngine) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything needed to resume or inspect the run, split into tensors and JSON.

    Returns
    -------
    tensors : dict[str, torch.Tensor]
        ``model.*`` weights and buffers, ``optim.<i>.exp_avg|exp_avg_sq|step`` Adam
        state, ``probs`` (m, n, k) when predicted, ``pseudo_labels`` (n, m) when set,
        ``alignment`` (m, k), ``embed.*`` the fitted representation (encoder, training
        codes and coordinates), ``rng.cpu`` / ``rng.device`` generator states. All on CPU,
        contiguous.
    meta : dict
        JSON-safe: ``format``, ``version``, ``config``, ``n_features``, ``n_samples``,
        ``seed``, ``iteration``, ``base_trained``, ``t_pos``, ``t_neg``, ``k``,
        ``min_confidence``, ``epochs_iter``, ``history``, ``mini_clusters`` (lists).
    """
    tensors = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in engine.model.state_dict().items()
    }
    params = list(engine.model.parameters())
    for i, p in enumerate(params):
        st = engine.optimizer.state.get(p)
        if st:
            tensors[f"optim.{i}.exp_avg"] = st["exp_avg"].detach().cpu().contiguous()
            tensors[f"optim.{i}.exp_avg_sq"] = st["exp_avg_sq"].detach().cpu().contiguous()
            tensors[f"optim.{i}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    if engine.probs is not None:
        tensors["probs"] = torch.from_numpy(np.ascontiguousarray(engine.probs))
    if engine.pseudo_labels is not None:
        tensors["pseudo_labels"] = torch.from_numpy(np.ascontiguousarray(engine.pseudo_labels))
    if engine._alignment is not None:
        tensors["alignment"] = torch.from_numpy(np.ascontiguousarray(engine._alignment))
    if engine.overclustering is not None:
        for name, value in engine.overclustering.state_dict().items():
            tensors[name] = torch.from_numpy(np.ascontiguousarray(value))
    if engine.representation is not None:
        tensors.update(engine.representation.state_dict())
    tensors["rng.cpu"] = engine._cpu_gen.get_state()
    tensors["rng.device"] = engine._dev_gen.get_state().cpu()
    meta = {
        "format": SAVE_FORMAT,
        "version": SAVE_VERSION,
        "config": engine.config.to_dict(),
        "n_features": engine.n_features,
        "n_samples": engine.n_samples,
        "seed": engine.seed,
        "iteration": engine.iteration,
        "base_trained": engine.base_trained,
        "t_pos": engine.t_pos,
        "t_neg": engine.t_neg,
        "k": engine.k,
        "min_confidence": engine.min_confidence,
        "epochs_iter": engine.epochs_iter,
        "history": engine.history,
        "mini_clusters": _clusters_json(engine.mini_clusters),
        "edits": list(engine.edits),  # pending (not yet trained on)
        "mini_clusters_unedited": _clusters_json(engine._unedited),
    }
    return tensors, meta


def restore(
    cls: type[KingdraEngine],
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    X: Any = None,
    y_eval: Any = None,
    device: str | torch.device = "auto",
) -> KingdraEngine:
    """Rebuild an engine of class ``cls`` from :func:`export` output.

    Without ``X`` the engine can still give ``labels_``/``probs`` of the saved run,
    ``predict_proba(X_new)``, ``embedding(X_new)`` and the graph on the saved
    predictions; training needs ``X`` (same rows as when saved, if ``probs`` were saved).

    Raises
    ------
    ValueError
        If ``meta`` is not from this format/version or the tensors do not fit the config.
    """
    if not isinstance(meta, dict) or meta.get("format") != SAVE_FORMAT:
        raise ValueError("not a kingdra engine state: meta['format'] is missing or different")
    if meta.get("version") != SAVE_VERSION:
        raise ValueError(
            f"engine state version {meta.get('version')!r} is not supported "
            f"(this kingdra reads version {SAVE_VERSION})"
        )
    try:
        config = KingdraConfig.from_dict(meta["config"])
        n_features = int(meta["n_features"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"engine state is missing a field: {err}") from err
    engine = cls.__new__(cls)
    engine._setup(config, n_features, device)
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        engine.model.load_state_dict(model_state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"saved weights do not match the saved config: {err}") from err
    params = list(engine.model.parameters())
    if any(k.startswith("optim.") for k in tensors):
        state = {}
        for i in range(len(params)):
            if f"optim.{i}.exp_avg" in tensors:
                state[i] = {
                    "step": tensors[f"optim.{i}.step"].reshape(()).clone(),
                    "exp_avg": tensors[f"optim.{i}.exp_avg"].to(engine.device),
                    "exp_avg_sq": tensors[f"optim.{i}.exp_avg_sq"].to(engine.device),
                }
        opt_state = engine.optimizer.state_dict()
        opt_state["state"] = state
        engine.optimizer.load_state_dict(opt_state)
    if "rng.cpu" in tensors:
        engine._cpu_gen.set_state(tensors["rng.cpu"])
    if "rng.device" in tensors:
        engine._dev_gen.set_state(tensors["rng.device"].to(engine._dev_gen.device))
    if config.embed != "none" and "embed.codes" in tensors:
        k = config.n_clusters
        engine.representation = Representation.empty(n_features, k, config.embed_width)
        engine.representation.load_state_dict(tensors)
        engine.representation.encoder.to(engine.device)
    if X is not None:
        engine.set_data(X, y_eval)
    if "probs" in tensors:
        probs = tensors["probs"].numpy()
        if X is not None and probs.shape[1] != engine.n_samples:
            raise ValueError(
                f"saved predictions are for {probs.shape[1]} rows but X has {engine.n_samples}"
            )
        engine.probs = probs
        engine.member_labels = probs.argmax(axis=2).T.astype(np.int64)
        engine.confidence = probs.max(axis=2).T
    if "alignment" in tensors:
        engine._alignment = tensors["alignment"].numpy().astype(np.int64)
    if engine.overclustering is not None:
        engine.overclustering.load_state_dict(tensors)
    if "pseudo_labels" in tensors:
        engine.pseudo_labels = tensors["pseudo_labels"].numpy().astype(np.int64)
    engine.iteration = int(meta.get("iteration", 0))
    engine.base_trained = bool(meta.get("base_trained", False))
    engine.t_pos = int(meta.get("t_pos", engine.t_pos))
    engine.t_neg = int(meta.get("t_neg", engine.t_neg))
    engine.k = int(meta.get("k", engine.k))
    engine.min_confidence = float(meta.get("min_confidence", engine.min_confidence))
    engine.epochs_iter = int(meta.get("epochs_iter", engine.epochs_iter))
    engine.history = load_history(meta.get("history", []))
    engine.mini_clusters = _clusters_from_json(meta.get("mini_clusters"))
    try:
        engine.edits = [edit_json(e) for e in meta.get("edits") or []]
    except ValueError as err:
        raise ValueError(f"the saved edits of the mini-clusters are damaged: {err}") from None
    engine._unedited = _clusters_from_json(meta.get("mini_clusters_unedited"))
    if engine.edits and engine._unedited is None:
        engine._unedited = engine.mini_clusters
    return engine


def _clusters_json(clusters: list[np.ndarray] | None) -> list[list[int]] | None:
    return None if clusters is None else [[int(i) for i in c] for c in clusters]


def _clusters_from_json(clusters: Any) -> list[np.ndarray] | None:
    return None if clusters is None else [np.asarray(c, dtype=np.int64) for c in clusters]
