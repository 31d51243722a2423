"""Run files: exact round trips, and a clear ValueError for every kind of bad file."""

import io
import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save
from sklearn.datasets import load_digits

from kingdra.checkpoint import (
    FORMAT_VERSION,
    load_run,
    read_run,
    run_from_bytes,
    run_from_bytes_raw,
    run_to_bytes,
    save_run,
)
from kingdra.config import KingdraConfig
from kingdra.engine import KingdraEngine


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300]


@pytest.fixture(scope="module")
def engine(data):
    X, y = data
    config = KingdraConfig.from_preset(
        "fast",
        n_models=3,
        hidden=(32,),
        epochs_base=2,
        epochs_iter=1,
        n_iter=1,
        min_confidence=0.0,
        seed=0,
    )
    eng = KingdraEngine(X, config, y_eval=y, device="cpu")
    eng.run()
    eng.build_graph()  # current mini-clusters for the next iteration, saved with the run
    return eng


@pytest.fixture(scope="module")
def blob(engine):
    return run_to_bytes(engine, extra={"note": "test"})


def test_round_trip_gives_identical_predictions_and_state(engine, data, tmp_path):
    X, _ = data
    path = save_run(tmp_path / "sub" / "run.safetensors", engine)
    assert path.is_file() and not list(path.parent.glob("*.part"))
    loaded = load_run(path, device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(X), engine.predict_proba(X))
    np.testing.assert_array_equal(loaded.labels_, engine.labels_)
    assert loaded.config == engine.config
    assert loaded.history == json.loads(json.dumps(engine.history))
    assert [c.tolist() for c in loaded.mini_clusters] == [c.tolist() for c in engine.mini_clusters]
    assert (loaded.t_pos, loaded.t_neg, loaded.iteration) == (
        engine.t_pos,
        engine.t_neg,
        engine.iteration,
    )


def test_resumed_training_matches_uninterrupted_training(engine, data, blob):
    """Weights, Adam state and random generators all travel: the next iteration is identical."""
    X, y = data
    a = run_from_bytes(blob, X=X, y_eval=y, device="cpu")
    b = run_from_bytes(blob, X=X, y_eval=y, device="cpu")
    a.train_iteration()
    b.train_iteration()
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.iteration == engine.iteration + 1


def test_extra_and_version_are_kept(blob):
    saved = run_from_bytes_raw(blob)
    assert saved.extra == {"note": "test"}
    assert saved.kingdra_version
    assert any(k.startswith("optim.") for k in saved.tensors)


def test_without_optimizer_state_the_file_is_smaller(engine, blob):
    small = run_to_bytes(engine, include_optimizer=False)
    weights = sum(p.numel() * p.element_size() for p in engine.model.parameters())
    assert len(blob) - len(small) >= 2 * weights  # Adam keeps two moments per weight
    assert not any(k.startswith("optim.") for k in run_from_bytes_raw(small).tensors)


def _rewrite_metadata(blob: bytes, **changes) -> bytes:
    saved_tensors = run_from_bytes_raw(blob).tensors
    (size,) = struct.unpack("<Q", blob[:8])
    meta = json.loads(blob[8 : 8 + size])["__metadata__"]
    meta.update(changes)
    return st_save(saved_tensors, metadata=meta)


def _torch_save_pickle(blob: bytes) -> bytes:
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buffer)  # a pickle inside a zip: must be refused
    return buffer.getvalue()


def _flip_last_byte(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 0xFF])


BAD_FILES = {
    "empty": (lambda b: b"", "only 0 bytes"),
    "text": (lambda b: b"hello, this is a text file\n" * 3, "not a kingdra run file"),
    "truncated data": (lambda b: b[: len(b) // 2], "is truncated"),
    "truncated header": (lambda b: b[:40], "is truncated"),
    "foreign safetensors": (
        lambda b: st_save({"weight": torch.zeros(3, 3)}),
        "safetensors file but not a kingdra run",
    ),
    "newer version": (
        lambda b: _rewrite_metadata(b, format_version=str(FORMAT_VERSION + 1)),
        "newer than this kingdra reads",
    ),
    "damaged metadata": (lambda b: _rewrite_metadata(b, kingdra="{not json"), "damaged"),
    "torch.save pickle": (_torch_save_pickle, "not a kingdra run file"),
    "corrupted tensor bytes": (_flip_last_byte, "corrupted"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_value_error_saying_what_is_wrong(case, blob, tmp_path):
    make, message = BAD_FILES[case]
    bad = make(blob)
    with pytest.raises(ValueError, match=message):
        run_from_bytes(bad)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(bad)
    with pytest.raises(ValueError, match=message):
        load_run(path)


def test_missing_path_and_wrong_objects(tmp_path, engine):
    with pytest.raises(ValueError, match="does not exist"):
        read_run(tmp_path / "nope.safetensors")
    with pytest.raises(ValueError, match="expected the bytes"):
        run_from_bytes("a string")
    with pytest.raises(ValueError, match="expected a KingdraEngine"):
        save_run(tmp_path / "x.safetensors", object())


def test_file_is_plain_safetensors(blob):
    """Readable by the safetensors library alone: a JSON header, then raw tensor bytes."""
    from safetensors.torch import load

    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    assert header["__metadata__"]["format"] == "kingdra-run"
    assert set(load(blob)) == set(header) - {"__metadata__"}


# Records as the first kingdra (793294f) wrote them: a base record, an iteration resumed from a
# checkpoint (no thresholds recorded), and one trained without labels (no ACC, no precision).
OLD_HISTORY = [
    {"iteration": 0, "phase": "base", "epochs": 2, "seconds": 1.5, "losses": {"im": -1.2},
     "acc": 0.8, "nmi": 0.7, "ari": 0.6, "member_acc": [0.8, 0.7, 0.75]},
    {"iteration": 1, "phase": "iteration", "epochs": 1, "seconds": 0.5,
     "losses": {"im": -1.3, "sup": 0.4}, "kept_previous": False,
     "mini_cluster_sizes": [10, 12], "n_pseudo_labelled": 22, "coverage": 0.07,
     "pseudo_precision": 1.0, "acc": 0.82, "nmi": 0.71, "ari": 0.62},
    {"iteration": 2, "phase": "iteration", "epochs": 1, "seconds": 0.5, "losses": {},
     "t_pos": 3, "t_neg": 2, "k": 20, "min_confidence": 0.0, "kept_previous": True,
     "mini_cluster_sizes": [], "n_pseudo_labelled": 0, "coverage": 0.0},
]  # fmt: skip


def _with_history(blob: bytes, history) -> bytes:
    (size,) = struct.unpack("<Q", blob[:8])
    doc = json.loads(json.loads(blob[8 : 8 + size])["__metadata__"]["kingdra"])
    doc["engine"]["history"] = history
    return _rewrite_metadata(blob, kingdra=json.dumps(doc))


def test_old_history_records_keep_loading(blob):
    loaded = run_from_bytes(_with_history(blob, OLD_HISTORY), device="cpu")
    renamed = {**OLD_HISTORY[2], "mini_clusters_wanted": 20}  # Algorithm 1's k, "k" before
    del renamed["k"]
    assert loaded.history == [*OLD_HISTORY[:2], renamed]


def test_damaged_history_record_says_which(blob):
    damaged = [OLD_HISTORY[0], {**OLD_HISTORY[1], "acc": "high"}]
    with pytest.raises(ValueError, match="record 1 is damaged: 'acc' must be a float"):
        run_from_bytes(_with_history(blob, damaged), device="cpu")
    with pytest.raises(ValueError, match="record 0 is damaged: .* needs an 'iteration'"):
        run_from_bytes(_with_history(blob, [{"phase": "base"}]), device="cpu")
