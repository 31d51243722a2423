"""The background training runner: real engine in a worker thread, progress, stop, errors."""

from __future__ import annotations

import threading
import time

import pytest

from kingdra.config import KingdraConfig
from kingdra.data import load
from kingdra.ui.runner import TrainingRunner, progress_fraction
from kingdra.ui.session import AppSession


def _session() -> AppSession:
    session = AppSession(sync=False)
    session.set_dataset(load("digits"), "digits")
    return session


def _tiny(**kw) -> KingdraConfig:
    values = dict(n_models=3, hidden=(32,), epochs_base=1, epochs_iter=1, min_confidence=0.0)
    values.update(kw)
    return KingdraConfig.from_preset("fast", **values)


def _wait(runner: TrainingRunner, timeout: float = 120) -> None:
    runner.join(timeout)
    assert not runner.is_running()


@pytest.mark.slow
def test_threaded_base_training_reports_progress_and_snapshots():
    session = _session()
    session.start_base(_tiny())
    assert session.runner.is_running() and "training" in session.run_state()
    seen = []
    while session.runner.is_running():
        seen.append(session.runner.snapshot().fraction)
        time.sleep(0.05)
    _wait(session.runner)
    snap = session.runner.snapshot()
    assert snap.status == "done", snap.error
    assert snap.losses and "total" in snap.losses[0]
    assert seen == sorted(seen)  # progress never goes back
    assert session.run_state() == "base trained"
    assert session.latest.member_labels.shape == (1797, 3)
    assert session.latest.embedding.shape[0] == 1797

    # Iterations on top, synchronously, with thresholds chosen on the Graph page.
    with pytest.raises(ValueError, match="integer >= 1"):
        session.start_iterations(0)
    session.runner.sync = True
    session.set_thresholds(2, 2, 10, 0.0)
    session.start_iterations(2)
    assert session.runner.snapshot().status == "done"
    assert [s.iteration for s in session.snapshots] == [0, 1, 2]
    assert session.engine.history[-1]["t_pos"] == 2
    # Only the latest snapshot keeps its representation (memory).
    assert session.snapshots[0].embedding is None and session.latest.embedding is not None


def test_iterations_need_a_base():
    with pytest.raises(ValueError, match="base ensemble first"):
        _session().start_iterations(1)


@pytest.mark.slow
def test_stop_cancels_between_batches_and_keeps_last_step():
    session = _session()
    session.start_base(_tiny(epochs_base=50))
    while session.runner.snapshot().batch < 2:
        time.sleep(0.02)
    session.runner.stop()
    _wait(session.runner, 60)
    snap = session.runner.snapshot()
    assert snap.status == "stopped" and "stopped during base" in snap.message
    assert snap.epoch <= 2  # within a batch or so of the request, not 50 epochs later
    assert not session.trained and session.run_state() == "not trained"


def test_second_job_while_running_is_refused():
    runner = TrainingRunner()
    release = threading.Event()
    runner.start(lambda board: release.wait(10) and "ok", "waiting")
    with pytest.raises(ValueError, match="already running"):
        runner.start(lambda board: "x", "second")
    release.set()
    _wait(runner)
    assert runner.snapshot().status == "done"


def test_failing_job_reports_error_instead_of_dying():
    runner = TrainingRunner(sync=True)

    def job(board):
        raise RuntimeError("out of memory")

    runner.start(job, "bad")
    snap = runner.snapshot()
    assert snap.status == "error" and "out of memory" in snap.error


def test_progress_fraction_uses_one_based_epochs():
    class P:
        epoch, n_epochs, batch, n_batches = 2, 4, 5, 10

    assert progress_fraction(P()) == pytest.approx(1.5 / 4)
    assert progress_fraction(P(), part=1, n_parts=2) == pytest.approx((1 + 1.5 / 4) / 2)
