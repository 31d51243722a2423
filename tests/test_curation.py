"""Curated pseudo-labels: reject / drop / merge / add before the next iteration (issue 14.6)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from kingdra.checkpoint import run_from_bytes, run_to_bytes
from kingdra.config import KingdraConfig
from kingdra.curation import apply_edit, apply_edits, describe, edit_json
from kingdra.engine import KingdraEngine
from kingdra.history import Record, load


def S():
    return [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6, 7])]


def test_edits_keep_the_graph_numbering():
    out = apply_edits(S(), [{"op": "reject", "cluster": 1}])
    assert [c.tolist() for c in out] == [[0, 1, 2], [], [5, 6, 7]]
    out = apply_edit(out, {"op": "drop", "cluster": 2, "rows": [7]}, 8)
    assert out[2].tolist() == [5, 6]
    out = apply_edit(out, {"op": "merge", "clusters": [2, 0]}, 8)
    assert [c.tolist() for c in out] == [[], [], [0, 1, 2, 5, 6]]
    out = apply_edit(out, {"op": "add", "rows": [6, 3]}, 8)
    assert [c.tolist() for c in out] == [[], [], [0, 1, 2, 5], [3, 6]]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"op": "reject", "cluster": 5}, "no mini-cluster 5: the numbers are 0..2"),
        ({"op": "drop", "cluster": 0, "rows": [3]}, r"rows \[3\] are not in mini-cluster 0"),
        ({"op": "drop", "cluster": 1, "rows": [3, 4]}, "empties mini-cluster 1; reject it"),
        ({"op": "drop", "cluster": 1, "rows": []}, "no rows given"),
        ({"op": "drop", "cluster": 1, "rows": [99]}, "outside the data"),
        ({"op": "merge", "clusters": [1, 1]}, "with itself"),
        ({"op": "add", "rows": [3, 4]}, "all of mini-cluster 1"),
        ({"op": "split"}, "op must be one of"),
        ({"op": "merge", "clusters": [1]}, "missing or mistypes"),
    ],
)
def test_bad_edits_say_what_to_fix(edit, message):
    with pytest.raises(ValueError, match=message):
        apply_edit(S(), edit, 8)


def test_empty_slot_last_cluster_and_too_many():
    out = apply_edits(S(), [{"op": "reject", "cluster": 1}])
    with pytest.raises(ValueError, match="mini-cluster 1 is empty"):
        apply_edit(out, {"op": "merge", "clusters": [0, 1]}, 8)
    with pytest.raises(ValueError, match="the last one"):
        apply_edits([np.array([0, 1])], [{"op": "reject", "cluster": 0}])
    with pytest.raises(ValueError, match="reject or merge one first"):
        apply_edit(S(), {"op": "add", "rows": [2]}, 8, max_clusters=3)
    with pytest.raises(ValueError, match=r"edit 2 \(reject mini-cluster 1\)"):
        apply_edits(S(), [{"op": "reject", "cluster": 1}, {"op": "reject", "cluster": 1}])


def test_describe_and_record_round_trip():
    edits = [
        edit_json({"op": "merge", "clusters": [4, 1]}),
        {"op": "drop", "cluster": 0, "rows": [1]},
    ]
    assert describe(edits[0]) == "merge mini-cluster 1 into 4"
    r = Record(iteration=1, phase="iteration", edits=edits)
    assert Record.from_json(r.to_json()) == r
    assert load([{"iteration": 1}]) == [{"iteration": 1, "phase": "iteration"}]  # old records
    with pytest.raises(ValueError, match="record 0 is damaged"):
        load([{"iteration": 1, "edits": [{"op": "nope"}]}])


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(X))[:300]
    return (X[idx] / 16.0).astype(np.float32), y[idx]


def engine_with_graph(data):
    X, y = data
    cfg = KingdraConfig(
        n_clusters=10,
        n_models=3,
        hidden=(32,),
        epochs_base=2,
        epochs_iter=1,
        n_iter=1,
        t_pos=3,
        t_neg=2,
        min_confidence=0.0,
        seed=0,
    )
    engine = KingdraEngine(X, cfg, y_eval=y, device="cpu")
    engine.train_base()
    engine.build_graph()
    return engine


def test_iteration_trains_on_the_edited_pseudo_labels(data):
    engine = engine_with_graph(data)
    S0 = [c.copy() for c in engine.mini_clusters]
    big = [i for i, c in enumerate(S0) if len(c) >= 2]
    a, b, c = big[:3]
    with pytest.raises(ValueError, match="not in mini-cluster"):
        engine.drop(a, S0[b][:1])
    assert engine.edits == []  # a refused edit changes nothing
    engine.reject(a)
    engine.merge(b, c)
    engine.drop(b, S0[b][:1])
    engine.train_iteration()
    pl = engine.pseudo_labels
    assert (pl[S0[a]] == -1).all()  # rejected: unlabelled in every member
    assert (pl[S0[b][:1]] == -1).all()  # dropped
    merged = np.concatenate([S0[b][1:], S0[c]])
    for j in range(pl.shape[1]):  # merged: one class per member for both
        assert len(np.unique(pl[merged, j])) == 1 and pl[merged[0], j] >= 0
    record = engine.history[-1]
    assert [e["op"] for e in record["edits"]] == ["reject", "merge", "drop"]
    assert record["mini_cluster_sizes"][a] == 0
    assert record["n_pseudo_labelled"] == int((pl[:, 0] >= 0).sum())
    assert engine.edits == []


def test_pending_edits_survive_save_and_load_and_build_graph_discards_them(data):
    engine = engine_with_graph(data)
    S0 = [c.copy() for c in engine.mini_clusters]
    engine.reject(0)
    engine.add_group(S0[1][:2])
    loaded = run_from_bytes(run_to_bytes(engine), X=data[0], y_eval=data[1], device="cpu")
    assert loaded.edits == engine.edits
    assert [c.tolist() for c in loaded.mini_clusters] == [c.tolist() for c in engine.mini_clusters]
    loaded.build_graph()
    assert loaded.edits == [] and len(loaded.mini_clusters[0]) > 0
    engine.train_iteration()
    again = run_from_bytes(run_to_bytes(engine), X=data[0], device="cpu")
    assert again.history[-1]["edits"] == [
        {"op": "reject", "cluster": 0},
        {"op": "add", "rows": S0[1][:2].tolist()},
    ]
    assert (engine.pseudo_labels[S0[0]] == -1).all()


def test_old_checkpoints_without_edits_still_load(data):
    engine = engine_with_graph(data)
    tensors, meta = engine.state_dict_for_save()
    for key in ("edits", "mini_clusters_unedited"):
        meta.pop(key)
    old = KingdraEngine.from_saved(tensors, meta, X=data[0], device="cpu")
    assert old.edits == []
    old.reject(1)
    assert len(old.mini_clusters[1]) == 0


def test_edit_before_build_graph_is_refused(data):
    X, _ = data
    engine = KingdraEngine(X, KingdraConfig(n_clusters=10, n_models=2, seed=0), device="cpu")
    with pytest.raises(ValueError, match="call build_graph"):
        engine.reject(0)
