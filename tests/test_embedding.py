"""The ae-umap representation (kingdra.embedding) and the engine that trains its members on it."""

import numpy as np
import pytest
import torch

from kingdra.checkpoint import run_from_bytes, run_to_bytes
from kingdra.config import KingdraConfig
from kingdra.embedding import Representation, fit_representation
from kingdra.engine import Cancelled, KingdraEngine
from kingdra.metrics import cluster_accuracy
from kingdra.pilot import EQUAL_CLASSES


def blobs(n_per=60, k=3, d=12, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 3.0, (k, d))
    X = np.concatenate([c + rng.normal(0.0, 0.5, (n_per, d)) for c in centers])
    y = np.repeat(np.arange(k), n_per)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted():
    X, y = blobs()
    seen = []
    rep = fit_representation(torch.from_numpy(X), 3, 3, seed=0, callback=seen.append)
    return X, y, rep, seen


def test_fit_gives_codes_and_coordinates_and_reports_progress(fitted):
    X, _, rep, seen = fitted
    assert rep.codes.shape == (len(X), 3) and rep.coords.shape == (len(X), 3)
    assert torch.isfinite(rep.coords).all()
    epochs = [p for p in seen if p.event == "epoch"]
    assert [p.epoch for p in epochs] == [1, 2, 3]
    assert {p.phase for p in seen} == {"embed"} and epochs[-1].eta_s == 0.0
    assert "reconstruction" in epochs[0].loss


def test_training_rows_map_to_their_own_coordinates_and_new_rows_nearby(fitted):
    X, y, rep, _ = fitted
    assert torch.equal(rep.transform(torch.from_numpy(X)), rep.coords)
    moved = torch.from_numpy(X[:5] + 0.01)
    new = rep.transform(moved)
    assert new.shape == (5, 3)
    # a slightly moved row lands among the coordinates of its own blob, not another's
    for row, label in zip(new, y[:5], strict=True):
        nearest = torch.cdist(row[None], rep.coords).argmin()
        assert y[nearest] == label


def test_state_round_trip_and_bad_input(fitted):
    X, _, rep, _ = fitted
    copy = Representation.empty(X.shape[1], 3, 3)
    copy.load_state_dict(rep.state_dict())
    probe = torch.from_numpy(X[::7] + 0.05)
    assert torch.allclose(copy.transform(probe), rep.transform(probe))
    with pytest.raises(ValueError, match="features but the representation was fitted on 12"):
        rep.transform(torch.zeros(2, 5))
    broken = rep.state_dict()
    del broken["embed.codes"]
    with pytest.raises(ValueError, match="does not fit the config"):
        Representation.empty(X.shape[1], 3, 3).load_state_dict(broken)
    with pytest.raises(ValueError, match="does not fit the config"):
        Representation.empty(X.shape[1] + 1, 3, 3).load_state_dict(rep.state_dict())
    cut = rep.state_dict()
    cut["embed.coords"] = cut["embed.coords"][:-1]  # one row short of the codes
    with pytest.raises(ValueError, match="misshapen: codes \\(180, 3\\), coordinates \\(179, 3\\)"):
        Representation.empty(X.shape[1], 3, 3).load_state_dict(cut)


def test_several_maps_sit_side_by_side_the_first_being_the_one_map_run(fitted):
    X, y, rep, _ = fitted
    two = fit_representation(torch.from_numpy(X), 3, 3, seed=0, maps=2)
    assert torch.equal(two.codes, rep.codes)  # one autoencoder
    assert two.coords.shape == (len(X), 6)
    assert torch.equal(two.first_map, rep.coords)  # map 0: the one-map run's random state
    assert not torch.allclose(two.coords[:, 3:], rep.coords)  # map 1: another layout
    for block in (two.coords[:, :3], two.coords[:, 3:]):  # each map separates the blobs
        centers = torch.stack([block[torch.from_numpy(y == c)].mean(0) for c in range(3)])
        assert cluster_accuracy(y, torch.cdist(block, centers).argmin(1).numpy()) == 1.0
    assert torch.equal(two.transform(torch.from_numpy(X)), two.coords)
    copy = Representation.empty(X.shape[1], 3, 6)
    copy.load_state_dict(two.state_dict())
    assert torch.equal(copy.coords, two.coords)
    with pytest.raises(ValueError, match="misshapen"):  # a one-map config cannot load it
        Representation.empty(X.shape[1], 3, 3).load_state_dict(two.state_dict())
    with pytest.raises(ValueError, match="maps must be at least 1, got 0"):
        fit_representation(torch.from_numpy(X), 3, 1, seed=0, maps=0)


def test_too_few_rows_and_stop():
    with pytest.raises(ValueError, match="needs more than 20 rows"):
        fit_representation(torch.zeros(15, 4), 2, 1, seed=0)
    stop = __import__("threading").Event()
    stop.set()
    with pytest.raises(Cancelled, match="autoencoder epoch 1"):
        fit_representation(torch.zeros(40, 4), 2, 1, seed=0, stop=stop)
    assert not stop.is_set()  # cleared, so the next call runs


def test_config_checks_embed():
    with pytest.raises(ValueError, match="unknown embed 'pca'"):
        KingdraConfig(embed="pca")
    with pytest.raises(ValueError, match="embed_epochs must be an integer >= 1"):
        KingdraConfig(embed_epochs=0)
    with pytest.raises(ValueError, match="embed_maps must be an integer >= 1"):
        KingdraConfig(embed_maps=0)
    assert KingdraConfig(n_clusters=4, embed_maps=3).embed_width == 12
    assert KingdraConfig().embed == "none"  # the paper's members see the input


@pytest.mark.parametrize("maps", [1, 2])
def test_engine_trains_members_on_the_representation_and_saves_it(maps):
    X, y = blobs(n_per=50)
    cfg = KingdraConfig.from_preset(
        "imsat",
        n_clusters=3,
        n_models=3,
        hidden=(16,),
        batch_size=50,
        epochs_base=40,
        epochs_iter=1,
        n_iter=1,
        overcluster=1,
        pilot_mu=0.0,
        embed="ae-umap",
        embed_epochs=2,
        embed_maps=maps,
        seed=0,
    )
    engine = KingdraEngine(X, cfg, y_eval=y)
    with pytest.raises(ValueError, match="representation is not fitted yet"):
        engine.member_probs()
    phases = []
    engine.run(callback=lambda p: phases.append(p.phase))
    assert phases[0] == "embed" and "base" in phases
    # members built for the maps' 3 coordinates each, not the 12 inputs
    assert engine.model.state_dict()["W.0"].shape == (3, 3 * maps, 16)
    assert engine.representation.coords.shape == (len(X), 3 * maps)
    assert cluster_accuracy(y, engine.labels_) > 0.9  # three far blobs
    # the training rows through predict_proba: the labels of the run
    assert np.array_equal(engine.predict_proba(X).argmax(1), engine.labels_)
    loaded = run_from_bytes(run_to_bytes(engine))
    probe = X[::5] + 0.02
    assert np.allclose(loaded.predict_proba(probe), engine.predict_proba(probe), atol=1e-5)
    with pytest.raises(ValueError, match="4 features but the model was trained on 12"):
        engine.predict_proba(np.zeros((2, 4), np.float32))


def _gated(X, gate, **overrides):
    values = dict(n_clusters=3, n_models=2, hidden=(16,), batch_size=50, epochs_base=2)
    values.update(embed_epochs=20, embed_gate=gate, pilot_mu=0.0, seed=0)
    values.update(overrides)
    return KingdraEngine(X, KingdraConfig.from_preset("imsat-ae-umap", **values))


def test_the_gate_keeps_the_representation_of_equal_clusters():
    X, _ = blobs(n_per=60)
    engine = _gated(X, 0.9)
    engine.train_base()
    record = engine.config.extra["embed_gate"]
    assert record["kept"] and record["sizes"] > 0.95 and record["gate"] == 0.9
    assert engine.representation is not None and engine.config.embed == "ae-umap"
    assert (engine.config.overcluster, engine.config.n_iter) == (1, 0)  # imsat-ae-umap's


def test_the_gate_sends_unequal_clusters_back_to_the_input_as_imsat_would():
    X = _unequal_blobs()
    engine = _gated(X, 0.9)
    stop = engine.trainer.stop_event
    phases = []
    engine.run(callback=lambda p: phases.append(p.phase))
    assert engine.trainer.stop_event is stop  # a Stop during the gate still reaches the run
    record = engine.config.extra["embed_gate"]
    assert not record["kept"] and record["sizes"] < 0.8 and record["pilot"] is None
    assert engine.representation is None and engine.config.embed == "none"
    assert (engine.config.overcluster, engine.config.n_iter) == (2, 3)  # imsat's
    assert engine.iteration == 3  # run() read n_iter after the gate
    assert list(dict.fromkeys(phases))[:2] == ["embed", "base"]
    assert engine.model.state_dict()["W.0"].shape[1] == 12  # members for the input's width
    # the same run as one configured on the input from the start
    plain = _gated(X, 0.0, embed="none", overcluster=2, n_iter=3)
    plain.run()
    np.testing.assert_array_equal(engine.probs, plain.probs)
    # a field set by the caller stays
    assert _gated(X, 0.9, n_iter=1).run().config.n_iter == 1


def _unequal_blobs():
    rng = np.random.default_rng(1)
    centers = rng.normal(0.0, 3.0, (3, 12))
    sizes = (240, 40, 20)
    X = np.concatenate(
        [c + rng.normal(0.0, 0.5, (s, 12)) for c, s in zip(centers, sizes, strict=True)]
    )
    return X.astype(np.float32)


def test_the_pilot_that_finds_equal_classes_keeps_the_representation_without_a_mixture():
    X, _ = blobs(n_per=60)
    engine = _gated(X, 0.9, pilot_mu=1.0, batch_size=20)  # the mu pilot runs first, on the input
    engine.train_base()
    pilot = engine.config.extra["mu_pilot"]
    assert pilot["mu"] == 4.0 and pilot["equal_sizes"][0] >= EQUAL_CLASSES
    record = engine.config.extra["embed_gate"]
    assert record["pilot"] == "equal" and record["sizes"] is None and record["kept"]
    assert engine.representation is not None and engine.config.embed == "ae-umap"


def test_the_pilot_that_took_the_weaker_mu_sends_the_run_to_the_input_before_the_autoencoder():
    X = _unequal_blobs()
    # what choose_mu leaves in the config when the pilot took mu = 1
    pilot = {"mu": 1.0, "candidates": [4.0, 1.0], "agreement": [0.6, 0.9]}
    pilot.update(equal_sizes=[0.95, 0.7], rows=len(X), seconds=1.0)
    engine = _gated(X, 0.9, mu=1.0, extra={"mu_pilot": pilot})
    phases = []
    engine.run(callback=lambda p: phases.append(p.phase))
    assert "embed" not in phases  # no autoencoder trained
    record = engine.config.extra["embed_gate"]
    assert record["pilot"] == "unequal" and record["sizes"] is None and not record["kept"]
    assert engine.representation is None and engine.config.embed == "none"
    assert (engine.config.overcluster, engine.config.n_iter) == (2, 3)  # imsat's
    plain = _gated(X, 0.0, mu=1.0, embed="none", overcluster=2, n_iter=3)
    plain.run()
    np.testing.assert_array_equal(engine.probs, plain.probs)


def test_where_the_pilot_cannot_tell_the_mixture_decides():
    X = _unequal_blobs()
    pilot = {"mu": 4.0, "candidates": [4.0, 1.0], "agreement": [0.8, 0.8]}
    pilot.update(equal_sizes=[EQUAL_CLASSES - 0.01, 0.95], rows=len(X), seconds=1.0)
    engine = _gated(X, 0.9, extra={"mu_pilot": pilot})
    engine.train_base()
    record = engine.config.extra["embed_gate"]
    assert record["pilot"] == "unsure" and record["sizes"] < 0.8 and not record["kept"]
    assert engine.representation is None


def test_the_gate_is_a_fraction():
    with pytest.raises(ValueError, match=r"embed_gate must be a number in \[0.0, 1.0\]"):
        KingdraConfig(embed_gate=1.5)
