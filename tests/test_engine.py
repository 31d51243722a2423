"""KingdraEngine on a small digits subset: real training, steps, cancellation, seeds, errors."""

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from kingdra.config import PRESETS, KingdraConfig
from kingdra.device import device_description, resolve_device
from kingdra.engine import Cancelled, KingdraEngine, Progress, align_members
from kingdra.metrics import cluster_accuracy


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))[:500]
    return (X[idx] / 16.0).astype(np.float32), y[idx]


def tiny(**overrides):
    values = dict(
        n_clusters=10,
        n_models=3,
        hidden=(64,),
        noise_std=0.15,
        im_weight=1.0,
        epochs_base=4,
        epochs_iter=1,
        n_iter=1,
        t_pos=3,
        t_neg=2,
        min_confidence=0.0,
        seed=0,
    )
    values.update(overrides)
    return KingdraConfig(**values)


@pytest.fixture(scope="module")
def trained(digits):
    X, y = digits
    engine = KingdraEngine(X, tiny(), y_eval=y, device="cpu")
    engine.train_base()
    return engine


def test_base_training_beats_chance(trained, digits):
    _, y = digits
    assert trained.probs.shape == (3, 500, 10)
    assert trained.member_labels.shape == (500, 3)
    assert trained.confidence.shape == (500, 3)
    record = trained.history[0]
    assert record["iteration"] == 0 and record["phase"] == "base"
    # chance is about 0.1-0.2 for 10 balanced classes
    assert cluster_accuracy(y, trained.labels_) > 0.5
    assert record["acc"] == pytest.approx(cluster_accuracy(y, trained.labels_))
    assert len(record["member_acc"]) == 3
    assert record["losses"]["im"] < 0
    json.dumps(trained.history)


def test_step_sequence_populates_history(digits):
    X, y = digits
    engine = KingdraEngine(X, tiny(), y_eval=y, device="cpu")
    engine.train_base()
    probs_before = engine.probs.copy()
    result = engine.build_graph()
    # The graph works on cached predictions: no training happened.
    np.testing.assert_array_equal(engine.probs, probs_before)
    assert len(result.clusters) == 10
    assert engine.mini_clusters is not None
    engine.train_iteration()
    record = engine.history[-1]
    assert record["iteration"] == 1 and engine.iteration == 1
    for key in ("seconds", "losses", "mini_cluster_sizes", "coverage", "pseudo_precision"):
        assert key in record
    assert 0 < record["coverage"] <= 1
    # Algorithm 1's k under a name that cannot pass for the person's k (n_clusters)
    assert record["mini_clusters_wanted"] == engine.k and "k" not in record
    assert record["losses"]["sup"] > 0
    assert record["pseudo_precision"] > 0.5
    assert engine.pseudo_labels.shape == (500, 3)
    assert not np.array_equal(engine.probs, probs_before)
    json.dumps(engine.history)


def test_thresholds_change_between_steps(trained):
    strict = trained.build_graph(t_pos=3, t_neg=3)
    loose = trained.build_graph(t_pos=2, t_neg=2)
    covered = lambda r: len(np.unique(np.concatenate(r.clusters)))  # noqa: E731
    assert covered(loose) >= covered(strict)
    trained.t_pos = 2
    assert trained.build_graph().t_pos == 2
    trained.t_pos = 3
    with pytest.raises(ValueError, match="t_pos"):
        trained.build_graph(t_pos=4)
    with pytest.raises(ValueError, match="k must"):
        trained.build_graph(k=11)


def test_incomplete_graph_keeps_last_complete_set(trained, caplog):
    trained.build_graph(t_pos=2, t_neg=2)
    complete = [c.copy() for c in trained.mini_clusters]
    assert len(complete) == 10
    # min_confidence close to 1 leaves no eligible anchors -> incomplete result
    result = trained.build_graph(t_pos=3, t_neg=3, min_confidence=0.999999)
    assert sum(len(c) > 0 for c in result.clusters) < 10
    assert all(np.array_equal(a, b) for a, b in zip(trained.mini_clusters, complete, strict=True))
    assert "keeping the last complete set" in caplog.text


def test_progress_callbacks_and_cancel(digits):
    X, _ = digits
    engine = KingdraEngine(X, tiny(epochs_base=2), device="cpu")
    events: list[Progress] = []

    def stop_at_third_batch(p: Progress):
        events.append(p)
        if p.event == "batch" and p.epoch == 2 and p.batch == 3:
            engine.request_stop()

    with pytest.raises(Cancelled):
        engine.train_base(callback=stop_at_third_batch)
    kinds = [(p.event, p.epoch, p.batch) for p in events]
    n_batches = events[0].n_batches
    assert n_batches == 500 // 64
    assert ("epoch", 1, n_batches) in kinds
    assert kinds[-1] == ("batch", 2, 3)
    assert all(p.phase == "base" and p.n_epochs == 2 for p in events)
    assert set(events[0].loss) >= {"total", "denoise", "kl", "im"}
    assert events[-1].elapsed_s > 0 and events[-1].eta_s >= 0
    assert not engine.base_trained
    # still usable after cancelling
    engine.train_base(epochs=1)
    assert engine.base_trained and engine.probs is not None


def test_same_seed_same_labels_different_seed_differs(digits):
    X, _ = digits
    cfg = tiny(epochs_base=1, n_models=2, hidden=(32,), t_pos=2, t_neg=2)
    a = KingdraEngine(X, cfg, device="cpu")
    b = KingdraEngine(X, cfg, device="cpu")
    c = KingdraEngine(X, cfg.replace(seed=1), device="cpu")
    for engine in (a, b, c):
        engine.train_base()
        engine.step()
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert not np.allclose(a.probs, c.probs)


def test_stages_and_final_labels(digits):
    X, y = digits
    ens = KingdraEngine(X, tiny(stage="ensemble", epochs_base=1), y_eval=y, device="cpu").run()
    assert len(ens.history) == 1 and ens.iteration == 0
    single = KingdraEngine(X, tiny(stage="single", epochs_base=1), device="cpu").run()
    np.testing.assert_array_equal(single.labels_, single.member_labels[:, 0])
    # The ensemble average is over members aligned to member 0.
    order = ens._alignment
    mean = np.mean([ens.probs[j][:, order[j]] for j in range(3)], axis=0)
    np.testing.assert_allclose(ens.ensemble_probs, mean, rtol=1e-6)
    np.testing.assert_allclose(ens.predict_proba(X[:20]), mean[:20], rtol=1e-5, atol=1e-6)
    assert ens.embedding().shape == (500, 64)
    assert ens.embedding(X[:7], member=2).shape == (7, 64)


def test_align_members_recovers_permutation():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, 200)
    perm = np.array([2, 0, 3, 1])
    labels = np.stack([ref, perm[ref]], axis=1)
    order = align_members(labels, 4)
    np.testing.assert_array_equal(order[1], perm)  # member 1's class perm[a] is member 0's a


def test_align_members_medoid_ignores_a_poor_member_0():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 300)
    perms = [np.array(p) for p in ([1, 2, 3, 0], [3, 2, 1, 0], [0, 1, 3, 2])]
    noise = rng.integers(0, 4, 300)  # member 0 is random
    labels = np.stack([noise] + [p[truth] for p in perms], axis=1)
    order = align_members(labels, 4, reference=None)
    aligned = np.stack([np.argsort(order[j])[labels[:, j]] for j in range(4)], axis=1)
    # members 1..3 map onto one common labelling
    np.testing.assert_array_equal(aligned[:, 1], aligned[:, 2])
    np.testing.assert_array_equal(aligned[:, 1], aligned[:, 3])


def test_save_state_round_trip(trained, digits):
    X, y = digits
    tensors, meta = trained.state_dict_for_save()
    json.dumps(meta)
    assert all(isinstance(t, torch.Tensor) and t.device.type == "cpu" for t in tensors.values())
    again = KingdraEngine.from_saved(tensors, meta, X=X, y_eval=y, device="cpu")
    np.testing.assert_array_equal(again.labels_, trained.labels_)
    np.testing.assert_allclose(again.predict_proba(X[:50]), trained.predict_proba(X[:50]))
    assert again.history == trained.history
    without_data = KingdraEngine.from_saved(tensors, meta, device="cpu")
    np.testing.assert_array_equal(without_data.labels_, trained.labels_)
    with pytest.raises(ValueError, match="no data"):
        without_data.train_base(epochs=1)
    again.train_base(epochs=1)  # resumes training
    with pytest.raises(ValueError, match="format"):
        KingdraEngine.from_saved(tensors, {"format": "other"})
    broken = dict(tensors)
    broken["model.W.0"] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="do not match"):
        KingdraEngine.from_saved(broken, meta)


def test_config_presets_and_round_trip():
    for name in PRESETS:
        cfg = KingdraConfig.from_preset(name, n_clusters=5)
        assert cfg.n_clusters == 5
        again = KingdraConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg
    assert KingdraConfig(n_models=7).resolved_t_pos == 7
    assert KingdraConfig.from_preset("fast", base="ladder-dot").min_confidence == 0.0
    dot = KingdraConfig.from_preset("fast", base="ladder-dot", min_confidence=0.5)
    assert dot.min_confidence == 0.5
    assert KingdraConfig(hidden=(10, 10, 10)).resolved_denoise_weights == (1000, 10, 0.1, 0.1, 0.1)


def test_presets_leave_t_neg_to_every_member():
    # t_neg = m - 1 was ablated and removed (docs/benchmarks.md): every preset uses the paper's m.
    for name in ("fast", "imsat", "paper"):
        assert KingdraConfig.from_preset(name).t_neg is None
        assert KingdraConfig.from_preset(name, n_models=5).resolved_t_neg == 5
    assert KingdraConfig.from_preset("fast", t_neg=9).resolved_t_neg == 9
    assert KingdraConfig.from_preset("paper").resolved_t_neg == 10
    assert KingdraConfig.from_preset("paper").neighbor_weight == 0.0


def test_neighbor_term_trains_and_its_table_follows_the_data(digits):
    X, y = digits
    engine = KingdraEngine(X, tiny(neighbor_weight=1.0, n_neighbors=4), y_eval=y, device="cpu")
    engine.train_base(epochs=1)
    table = engine._neighbors
    assert table.shape == (len(X), 4)
    # nearest first: the table's first column is each row's true nearest neighbour
    d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (d[np.arange(len(X)), table[:, 0].numpy()] <= d.min(axis=1) + 1e-4).all()
    record = engine.history[-1]
    assert record["losses"]["neighbor"] > 0
    engine.step()
    assert "neighbor" in engine.history[-1]["losses"]
    engine.set_data(X[:100], y[:100])
    assert engine._neighbors is None  # recomputed for the new rows on the next epoch
    engine.train_iteration(epochs=1)
    assert engine._neighbors.shape == (100, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_clusters=1), "n_clusters"),
        (dict(n_models=0), "n_models"),
        (dict(n_models=3, t_pos=4), "t_pos"),
        (dict(n_models=3, t_neg=0), "t_neg"),
        (dict(base="ladder-xyz"), "unknown base"),
        (dict(stage="half"), "unknown stage"),
        (dict(hidden=(10,), denoise_weights=(1.0, 2.0)), "denoise_weights"),
        (dict(lr=0.0), "lr"),
        (dict(min_confidence=1.5), "min_confidence"),
        (dict(neighbor_weight=-1.0), "neighbor_weight"),
        (dict(n_neighbors=0), "n_neighbors"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KingdraConfig(**kwargs)


def test_config_unknown_preset_or_field():
    with pytest.raises(ValueError, match="unknown preset"):
        KingdraConfig.from_preset("slow")
    with pytest.raises(ValueError, match="unknown config field"):
        KingdraConfig.from_preset("fast", n_cluster=3)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((10, 2, 2)), "2-D"),
        (np.array([[0.0, np.nan]] * 10), "NaN"),
        (np.array([[0.0, np.inf]] * 10), "NaN or inf"),
        (np.zeros((3, 4)), "at least as many samples"),
        ([["a", "b"]] * 10, "numeric"),
    ],
)
def test_bad_data(X, message):
    with pytest.raises(ValueError, match=message):
        KingdraEngine(X, tiny(n_clusters=5), device="cpu")


def test_bad_y_eval_and_order_of_steps(digits):
    X, y = digits
    with pytest.raises(ValueError, match="y_eval"):
        KingdraEngine(X, tiny(), y_eval=y[:10], device="cpu")
    engine = KingdraEngine(X[:50], tiny(), device="cpu")
    with pytest.raises(ValueError, match="train_base"):
        engine.build_graph()
    with pytest.raises(ValueError, match="train_base"):
        engine.train_iteration()
    with pytest.raises(ValueError, match="features"):
        engine.member_probs(np.zeros((4, 3)))


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert device_description("cpu").startswith("CPU (")
