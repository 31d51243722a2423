"""Save and load a Kingdra run as one ``.safetensors`` file: no pickle, clear errors.

Format (version 1)
------------------
One standard safetensors file, so any safetensors reader can open it and nothing in it can
execute code:

- tensors: everything :meth:`KingdraEngine.state_dict_for_save` returns (``model.*``
  weights, ``optim.*`` Adam state unless left out, ``probs``, ``pseudo_labels``,
  ``alignment``, ``rng.*``);
- header metadata (strings): ``format = "kingdra-run"``, ``format_version = "1"`` and
  ``kingdra`` = a JSON document with ``engine`` (config, history, current mini-clusters,
  thresholds, ...), ``extra`` (caller's JSON, e.g. the estimator's parameters),
  ``kingdra_version`` and ``checksum`` (sha256 over every tensor's name, dtype, shape and bytes,
  so a corrupted file is caught even where the safetensors structure still parses).

A single file (rather than a zip of weights + JSON) is what the app's download and upload
buttons hand around; :func:`run_to_bytes` / :func:`run_from_bytes` are the in-memory versions.

Examples
--------
>>> from kingdra.checkpoint import save_run, load_run          # doctest: +SKIP
>>> save_run("run.safetensors", engine)                        # doctest: +SKIP
>>> engine2 = load_run("run.safetensors", X=X)                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from kingdra import __version__
from kingdra.engine import KingdraEngine

FORMAT = "kingdra-run"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
_MAX_HEADER = 100_000_000  # the safetensors library's own limit on the JSON header


@dataclass
class SavedRun:
    """The validated content of a run file, before an engine is built from it.

    Attributes
    ----------
    tensors : dict[str, torch.Tensor]
    engine_meta : dict
        JSON state for :meth:`KingdraEngine.from_saved` (config, history, mini-clusters...).
    extra : dict
        Whatever the saver passed as ``extra`` (the estimator keeps its parameters here).
    kingdra_version : str
    """

    tensors: dict[str, torch.Tensor]
    engine_meta: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    kingdra_version: str = ""

    def engine(self, X: Any = None, y_eval: Any = None, device: str = "auto"):
        """Build the :class:`~kingdra.engine.KingdraEngine` (``X`` is needed to train on)."""
        return KingdraEngine.from_saved(
            self.tensors, self.engine_meta, X=X, y_eval=y_eval, device=device
        )


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _engine_parts(engine: Any, include_optimizer: bool) -> tuple[dict, dict]:
    if not hasattr(engine, "state_dict_for_save"):
        raise ValueError(
            f"expected a KingdraEngine (or an object with state_dict_for_save()), "
            f"got {type(engine).__name__}"
        )
    tensors, meta = engine.state_dict_for_save()
    if not include_optimizer:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    # safetensors refuses tensors that share memory or are not contiguous: copy defensively.
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, meta


def run_to_bytes(
    engine: Any, extra: dict[str, Any] | None = None, include_optimizer: bool = True
) -> bytes:
    """Serialise a run to the bytes of a ``.safetensors`` file.

    Parameters
    ----------
    engine : KingdraEngine
    extra : dict, optional
        JSON-serialisable data stored beside the run (e.g. estimator parameters).
    include_optimizer : bool
        Keep Adam's state so training resumes exactly; ``False`` makes the file about
        three times smaller (resumed training then restarts Adam's moments).
    """
    tensors, meta = _engine_parts(engine, include_optimizer)
    doc = {
        "engine": meta,
        "extra": extra or {},
        "kingdra_version": __version__,
        "checksum": _checksum(tensors),
    }
    try:
        text = json.dumps(doc, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"run metadata is not JSON-serialisable: {err}") from err
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "kingdra": text}
    return save(tensors, metadata=metadata)


def save_run(
    path: str | os.PathLike,
    engine: Any,
    extra: dict[str, Any] | None = None,
    include_optimizer: bool = True,
) -> Path:
    """Write a run to ``path`` (a ``.safetensors`` file; parent folders are created).

    The file is written next to its destination and renamed into place, so an interrupted
    save never leaves a half-written checkpoint under the final name.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    data = run_to_bytes(engine, extra=extra, include_optimizer=include_optimizer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _read_header(data: bytes, source: str) -> dict[str, Any]:
    """Parse the safetensors header by hand so every failure gets a precise message."""
    not_ours = f"{source} is not a kingdra run file (expected a .safetensors file saved by kingdra)"
    if len(data) < 8:
        raise ValueError(f"{not_ours}: only {len(data)} bytes")
    (size,) = struct.unpack("<Q", data[:8])
    if size > _MAX_HEADER or size < 2:
        raise ValueError(f"{not_ours}: it does not start with a safetensors header")
    if 8 + size > len(data):
        raise ValueError(
            f"{source} is truncated: its header says {size} bytes but the file has "
            f"{len(data) - 8}; download or copy it again"
        )
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{not_ours}: unreadable header ({err})") from err
    if not isinstance(header, dict):
        raise ValueError(f"{not_ours}: unreadable header")
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__"
        and isinstance(entry, dict)
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and isinstance(entry["data_offsets"][1], int)
    ]
    have = len(data) - 8 - size
    if ends and max(ends) > have:
        raise ValueError(
            f"{source} is truncated: it should hold {max(ends)} bytes of tensors but has "
            f"{have}; download or copy it again"
        )
    return header


def run_from_bytes_raw(data: bytes, source: str = "the file") -> SavedRun:
    """Validate the bytes of a run file and return its parts (no engine built).

    Raises
    ------
    ValueError
        Not a safetensors file, a safetensors file that kingdra did not write, a file from a
        newer kingdra, a truncated file, or one whose contents fail the checksum.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected the bytes of a run file, got {type(data).__name__}")
    data = bytes(data)
    header = _read_header(data, source)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{source} is a safetensors file but not a kingdra run "
            f"(format {meta.get('format')!r}, expected {FORMAT!r})"
        )
    try:
        version = int(meta.get("format_version", ""))
    except ValueError as err:
        raise ValueError(f"{source} has an unreadable format_version") from err
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{source} was written in run format version {version}, newer than this kingdra "
            f"reads ({FORMAT_VERSION}); upgrade kingdra to load it"
        )
    if version < 1:
        raise ValueError(f"{source} has an invalid format_version {version}")
    try:
        doc = json.loads(meta["kingdra"])
        engine_meta = doc["engine"]
        checksum = doc["checksum"]
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{source} has damaged kingdra metadata ({err})") from err
    if not isinstance(engine_meta, dict):
        raise ValueError(f"{source} has damaged kingdra metadata (engine state is not a dict)")
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as err:
        raise ValueError(f"{source} is damaged or truncated: {err}") from err
    if _checksum(tensors) != checksum:
        raise ValueError(f"{source} is corrupted: its tensors do not match the saved checksum")
    extra = doc.get("extra") or {}
    return SavedRun(tensors, engine_meta, extra, str(doc.get("kingdra_version", "")))


def read_run(path: str | os.PathLike) -> SavedRun:
    """Read and validate a run file; see :func:`run_from_bytes_raw` for the errors."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist or is not a file")
    return run_from_bytes_raw(path.read_bytes(), source=f"{str(path)!r}")


def run_from_bytes(data: bytes, X: Any = None, y_eval: Any = None, device: str = "auto"):
    """Engine from the bytes of a run file (the app's upload button)."""
    return run_from_bytes_raw(data, source="the uploaded file").engine(X, y_eval, device)


def load_run(path: str | os.PathLike, X: Any = None, y_eval: Any = None, device: str = "auto"):
    """Load a run saved by :func:`save_run` as a :class:`~kingdra.engine.KingdraEngine`.

    Parameters
    ----------
    path : str or path-like
    X : array-like, optional
        Training data, needed to continue training (must be the same rows when the run
        saved predictions). Without it the engine still gives the saved ``labels_``,
        ``history``, ``mini_clusters`` and ``predict_proba(X_new)``.
    y_eval : array-like, optional
        Ground truth for evaluation only.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``; weights are moved there.
    """
    return read_run(path).engine(X, y_eval, device)
