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
    # Only the latest snapshot keeps its representation and final member labels (memory).
    assert session.snapshots[0].embedding is None and session.latest.embedding is not None
    assert session.snapshots[0].final_member_labels is None
    assert session.latest.final_member_labels is not None


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


def test_two_starts_at_once_run_one_job_and_keep_its_engine():
    """A form submitted with Enter and a click: two reruns start training at the same time.

    The runner, not the buttons, refuses the second: exactly one start succeeds, the
    session keeps the engine of the job that runs, and the job ends with its snapshot.
    """
    session = AppSession(sync=False)
    session.set_dataset(load("digits"), "digits")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press() -> None:
        barrier.wait()
        try:
            session.start_base(_tiny(epochs_base=2))
            outcomes.append("started")
        except ValueError as err:
            outcomes.append(str(err))

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("started") == 1, outcomes
    assert any("already running" in o for o in outcomes), outcomes
    engine = session.engine
    with pytest.raises(ValueError, match="already running"):  # and later presses, too
        session.start_base(_tiny())
    with pytest.raises(ValueError, match="already running"):
        session.runner.start(lambda board: "x", "other")
    _wait(session.runner)
    snap = session.runner.snapshot()
    assert snap.status == "done", snap.error
    assert session.engine is engine and session.trained
    assert session.latest.member_labels.shape == (1797, 3)


def test_a_failing_prepare_releases_the_runner():
    runner = TrainingRunner(sync=True)

    def prepare():
        raise ValueError("bad config")

    with pytest.raises(ValueError, match="bad config"):
        runner.start(lambda board: "x", "job", prepare=prepare)
    assert not runner.is_running()
    runner.start(lambda board: "fine", "job")
    assert runner.snapshot().message == "fine"


def test_new_data_puts_the_trained_run_aside_and_clears_its_progress():
    session = AppSession(sync=True)
    digits = load("digits")
    session.set_dataset(digits, "digits")
    session.start_base(_tiny(n_models=2, hidden=(16,)))
    engine, snapshots = session.engine, session.snapshots
    assert session.runner.snapshot().status == "done"

    small = load(b"a,b,label\n0,0,x\n0,1,x\n5,5,y\n5,6,y\n", filename="four.csv")
    session.set_dataset(small, "four.csv")
    assert not session.trained and session.engine is None
    snap = session.runner.snapshot()
    assert snap.status == "idle" and not snap.losses and not snap.message  # nothing stale
    assert session.previous_description() == "the run on digits (base ensemble)"

    session.restore_previous()
    assert session.dataset is digits and session.engine is engine
    assert session.snapshots is snapshots and session.previous is None  # four.csv: no run
    with pytest.raises(ValueError, match="no earlier run"):
        session.restore_previous()
