"""The mu pilot (kingdra.pilot): its measures, its rule, real pilots on blobs, the engine hook."""

import numpy as np
import pytest
import torch

import kingdra.pilot as pilot
from kingdra.config import KingdraConfig
from kingdra.engine import Cancelled, KingdraEngine
from kingdra.pilot import agreement, choose, equal_sizes, run_pilot


@pytest.fixture
def short_pilot(monkeypatch):
    """Five pilot epochs instead of fifteen: the same code, a tenth of the time."""
    monkeypatch.setattr(pilot, "PILOT_EPOCHS", 5)


def blobs(sizes, seed=0, d=10):
    """Well separated Gaussian blobs of the given sizes, (n, d) float32."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 4.0, (len(sizes), d))
    parts = [c + rng.normal(0.0, 1.0, (s, d)) for c, s in zip(centers, sizes, strict=True)]
    return np.concatenate(parts).astype(np.float32)


def config(k, **overrides):
    values = dict(n_clusters=k, hidden=(32,), batch_size=50, pilot_mu=1.0, seed=0)
    values.update(overrides)
    return KingdraConfig.from_preset("imsat", **values)


def test_agreement_and_equal_sizes():
    same = np.array([[0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1]])  # one partition, renamed
    assert agreement(same) == pytest.approx(1.0)
    assert agreement(same[:1]) == 1.0
    assert agreement(np.array([[0, 0, 1, 1], [0, 1, 0, 1]])) < 0
    assert equal_sizes(same, 3) == pytest.approx(1.0)
    assert equal_sizes(np.array([[0, 0, 0, 1]]), 2) == pytest.approx(0.811, abs=1e-3)
    assert equal_sizes(np.array([[0, 0, 0, 0]]), 4) == 0.0


@pytest.mark.parametrize(
    "agreements, sizes, chosen",
    [
        ((0.68, 0.76), (0.99, 0.80), 1.0),  # unequal sizes and more agreement: the second
        ((0.68, 0.70), (0.99, 0.80), 4.0),  # within the margin: the first
        ((0.25, 0.01), (0.99, 0.60), 4.0),  # less agreement
        ((0.72, 0.78), (0.99, 0.92), 4.0),  # the second's clusters are about equal anyway
        ((0.792, 0.823), (0.997, 0.913), 4.0),  # MNIST-5k seed 2: mu = 1 would lose 6 points
        ((0.673, 0.818), (0.982, 0.893), 1.0),  # long-tailed MNIST seed 0: mu = 4 loses 21
    ],
)
def test_rule(agreements, sizes, chosen):
    assert choose((4.0, 1.0), agreements, sizes) == chosen


@pytest.mark.parametrize("seed", [0, 1])
def test_pilot_follows_unequal_blobs_and_keeps_mu_on_equal_ones(short_pilot, seed):
    """mu = 4 cuts the large blob in each member's own place; mu = 1 keeps the blobs."""
    unequal = run_pilot(torch.from_numpy(blobs([600, 100, 100], seed)), config(3, seed=seed), seed)
    assert unequal.mu == 1.0, unequal.describe()
    assert unequal.agreement[1] > unequal.agreement[0] + pilot.MARGIN
    equal = run_pilot(torch.from_numpy(blobs([270, 270, 260], seed)), config(3, seed=seed), seed)
    assert equal.mu == 4.0, equal.describe()
    assert equal.candidates == (4.0, 1.0) and equal.rows == 800
    assert "-> mu = 4" in equal.describe()


def test_pilot_samples_large_data(short_pilot, monkeypatch):
    monkeypatch.setattr(pilot, "PILOT_ROWS", 300)
    result = run_pilot(torch.from_numpy(blobs([270, 270, 260])), config(3), 0)
    assert result.rows == 300 and result.seconds > 0


def test_pilot_needs_a_second_mu():
    with pytest.raises(ValueError, match="pilot_mu is 0"):
        run_pilot(torch.zeros(10, 2), config(2, pilot_mu=0.0), 0)
    with pytest.raises(ValueError, match="pilot_mu"):
        config(2, pilot_mu=-1.0)


def test_engine_runs_the_pilot_once_and_otherwise_the_same_run(short_pilot):
    X = blobs([270, 270, 260])
    settings = dict(n_models=3, epochs_base=2, n_iter=0)
    with_pilot = KingdraEngine(X, config(3, **settings), device="cpu")
    events = []
    with_pilot.train_base(callback=events.append)
    record = with_pilot.config.extra["mu_pilot"]
    assert record["candidates"] == [4.0, 1.0] and record["mu"] == with_pilot.config.mu
    assert with_pilot.config.pilot_mu == 0.0  # chosen once; the config says what trains now
    assert [p.phase for p in events][0] == "pilot" and events[-1].phase == "base"
    # the pilot's progress is one span over both values of mu: epochs 1-10 of 10
    epochs = [(p.epoch, p.n_epochs) for p in events if p.phase == "pilot" and p.event == "epoch"]
    assert epochs == [(e, 2 * pilot.PILOT_EPOCHS) for e in range(1, 2 * pilot.PILOT_EPOCHS + 1)]
    timed = [p for p in events if p.phase == "pilot" and not np.isnan(p.eta_s)]
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(timed, timed[1:], strict=False))
    first_value = [p for p in timed if p.epoch <= pilot.PILOT_EPOCHS]
    assert all(p.eta_s > p.elapsed_s * 0.5 for p in first_value)  # the second value counted
    plain = KingdraEngine(X, config(3, pilot_mu=0.0, mu=record["mu"], **settings), device="cpu")
    plain.train_base()
    np.testing.assert_array_equal(with_pilot.labels_, plain.labels_)
    np.testing.assert_array_equal(with_pilot.probs, plain.probs)
    assert "mu_pilot" not in plain.config.extra


def test_the_pilot_runs_on_the_inputs_before_the_representation(short_pilot):
    """embed="ae-umap": the pilot sees the input (its cut was set there), then the embedding."""
    X = blobs([150, 150, 150])
    settings = dict(n_models=2, epochs_base=2, n_iter=0, overcluster=1)
    settings.update(embed="ae-umap", embed_epochs=2)
    with_pilot = KingdraEngine(X, config(3, **settings), device="cpu")
    events = []
    with_pilot.train_base(callback=events.append)
    phases = list(dict.fromkeys(p.phase for p in events))
    assert phases == ["pilot", "embed", "base"]
    record = with_pilot.config.extra["mu_pilot"]
    assert record["rows"] == len(X)
    direct = run_pilot(torch.from_numpy(X), config(3, **settings), seed=0)
    assert (direct.agreement, direct.mu) == (tuple(record["agreement"]), record["mu"])
    plain = KingdraEngine(X, config(3, pilot_mu=0.0, mu=record["mu"], **settings), device="cpu")
    plain.train_base()
    np.testing.assert_array_equal(with_pilot.probs, plain.probs)  # the same run after it


def test_stop_during_the_pilot(short_pilot):
    engine = KingdraEngine(blobs([270, 270, 260]), config(3, n_models=2), device="cpu")

    def stop_in_pilot(p):
        if p.phase == "pilot" and p.batch == 2:
            engine.request_stop()

    with pytest.raises(Cancelled):
        engine.train_base(callback=stop_in_pilot)
    assert not engine.base_trained and engine.config.pilot_mu == 1.0  # nothing chosen yet
    engine.train_base(epochs=1)  # the stop was consumed: the next call runs
    assert engine.base_trained and "mu_pilot" in engine.config.extra
