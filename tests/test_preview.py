"""A first look while the base ensemble trains: previews every few epochs, same run at the end.

The app's worker publishes the ensemble's predictions after 2 epochs (or 20 s) and then every
tenth of the epochs (:class:`kingdra.ui.runner.PreviewSchedule`); the Train, Graph and Clusters
pages show the latest one (History waits for the base), and the run's final predictions are those
of a run without previews.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from kingdra.config import KingdraConfig
from kingdra.data import load
from kingdra.engine import KingdraEngine
from kingdra.trainer import Progress
from kingdra.ui.runner import PreviewSchedule, ProgressSnapshot, epochs_done
from kingdra.ui.session import AppSession
from kingdra.ui.train_view import newer_view, preview_text, progress_text

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _tiny(preset: str = "fast", **kw) -> KingdraConfig:
    values = dict(n_models=3, hidden=(32,), epochs_base=5, epochs_iter=1, min_confidence=0.0)
    values.update(kw)
    return KingdraConfig.from_preset(preset, n_clusters=10, seed=0, **values)


@pytest.mark.parametrize(
    "preset, overrides",
    [("fast", {}), ("imsat", {"overcluster": 2}), ("imsat", {"overcluster": 1})],
)
def test_predicting_between_epochs_leaves_the_run_unchanged(digits, preset, overrides):
    X, y = digits.X[:600], digits.y[:600]
    config = _tiny(preset, epochs_base=4, **overrides)
    plain = KingdraEngine(X, config, y_eval=y, device="cpu")
    plain.train_base()
    peeking = KingdraEngine(X, config, y_eval=y, device="cpu")
    peeks = []

    def callback(p) -> None:  # a preview after every base epoch, and one mid-epoch
        if p.phase != "base":  # imsat's mu pilot comes first; the app previews after it
            return
        if p.event == "epoch" or (p.epoch == 2 and p.batch == 1):
            peeking.predict(merge=True)
            peeks.append(peeking.labels_.copy())

    peeking.train_base(callback=callback)
    assert len(peeks) == 5
    assert np.array_equal(plain.probs, peeking.probs)
    assert np.array_equal(plain.labels_, peeking.labels_)
    assert plain.history[0]["losses"] == peeking.history[0]["losses"]
    assert plain.history[0]["acc"] == peeking.history[0]["acc"]


def _previews(schedule: PreviewSchedule, epoch_s: float, preview_s: float) -> list[float]:
    """Epochs done at each preview of a phase of 10-batch epochs of ``epoch_s`` seconds."""
    out = []
    for epoch in range(1, schedule.n_epochs + 1):
        for batch in range(1, 11):
            elapsed = (epoch - 1 + batch / 10) * epoch_s + schedule.spent_s
            for event in ("batch", "epoch") if batch == 10 else ("batch",):
                p = Progress("base", event, epoch, schedule.n_epochs, batch, 10, elapsed_s=elapsed)
                if schedule.due(p):
                    schedule.record(p, preview_s)
                    out.append(epochs_done(p))
    return out


def test_schedule_previews_early_then_every_tenth_within_its_share():
    # MNIST-5k with imsat on the 2-core CPU: epochs of about 4 s, previews of 0.6-1.7 s.
    assert _previews(PreviewSchedule(60), 4.0, 0.1) == [2, 6, 12, 18, 24, 30, 36, 42, 48, 54]
    schedule = PreviewSchedule(60)
    dear = _previews(schedule, 4.0, 2.0)
    assert dear[:2] == [2, 12] and len(dear) >= 5
    assert schedule.spent_s <= 0.05 * 60 * 4.0 + 2.0  # the share, give or take the last one
    # Never more than the share of the time, however dear a preview is (after the first).
    assert len(_previews(PreviewSchedule(60), 4.0, 20.0)) <= 2
    # 70,000 rows with imsat-large: 2 min an epoch; the first view within the first epoch.
    assert _previews(PreviewSchedule(40), 135.0, 5.0) == [0.2, *range(4, 40, 4)]
    # Never at the end (the phase predicts then), nor twice for the same weights.
    assert _previews(PreviewSchedule(1), 1.0, 0.1) == []
    assert _previews(PreviewSchedule(3), 1.0, 0.0) == [2]
    # Never during the mu pilot before the base epochs, however long it runs.
    pilot = Progress("pilot", "epoch", 3, 15, 10, 10, elapsed_s=60.0)
    assert not PreviewSchedule(60).due(pilot)


def test_the_app_publishes_previews_and_trains_the_same_ensemble(digits):
    config = _tiny(epochs_base=6)
    session = AppSession(sync=True)
    session.set_dataset(digits, "digits")
    previews = []
    publish = session._publish_preview

    def spy(engine, done, n_epochs) -> None:
        publish(engine, done, n_epochs)
        previews.append(session.preview)
        assert session.views() == [session.preview] and not session.trained

    session._publish_preview = spy
    session.start_base(config, device="cpu")
    assert session.runner.snapshot().status == "done"
    assert previews[0].epochs_done == 2
    assert all(p.is_preview and p.n_epochs == 6 and p.iteration == 0 for p in previews)
    assert previews[0].title.startswith("preview after 2 of 6 epochs (ACC ")
    assert previews[0].acc > 0.3  # two epochs already cluster digits far above chance
    assert len({p.key for p in previews} | {session.latest.key}) == len(previews) + 1
    # Done: the base ensemble replaces the preview, and it is the run without previews.
    assert session.preview is None and session.views() == session.snapshots
    plain = KingdraEngine(digits.X, config, y_eval=digits.y, device="cpu")
    plain.train_base()
    assert np.array_equal(plain.probs, session.engine.probs)
    assert np.array_equal(plain.labels_, session.latest.labels)
    assert session.latest.acc == pytest.approx(plain.history[0]["acc"])


def _paused_after_first_preview(digits, epochs_base: int = 6):
    """A threaded base run held right after its first preview; call release() to go on."""
    session = AppSession(sync=False)
    session.set_dataset(digits, "digits")
    published, go = threading.Event(), threading.Event()
    publish = session._publish_preview

    def hold(engine, done, n_epochs) -> None:
        publish(engine, done, n_epochs)
        published.set()
        go.wait(60)

    session._publish_preview = hold
    session.start_base(_tiny(epochs_base=epochs_base), device="cpu")
    assert published.wait(120), session.runner.snapshot().error

    def release() -> None:
        go.set()
        session.runner.join(120)
        assert not session.runner.is_running()

    return session, release


def test_a_preview_is_shown_while_the_base_trains_and_never_edited(digits):
    session, release = _paused_after_first_preview(digits)
    try:
        assert session.runner.is_running() and not session.trained
        (shown,) = session.views()
        assert shown is session.preview and shown.title.startswith("preview after 2 of 6 epochs")
        assert shown.embedding is None and shown.labels.shape == (1797,)
        assert session.edited_clusters([np.arange(3)])[0].tolist() == [0, 1, 2]
        with pytest.raises(ValueError, match="once the base ensemble is trained"):
            session.add_edit([np.arange(3)], {"op": "reject", "cluster": 0})
        assert newer_view(session.views(), shown) is None
        assert "Preview after 2 of 6 epochs" in preview_text(shown)
    finally:
        release()
    assert session.runner.snapshot().status == "done"
    assert session.preview is None and session.views() == session.snapshots
    assert newer_view(session.views(), shown) == "Show the base ensemble"


def test_a_stopped_base_leaves_no_preview(digits):
    session, release = _paused_after_first_preview(digits)
    session.runner.stop()
    release()
    assert session.runner.snapshot().status == "stopped"
    assert session.preview is None and session.views() == [] and not session.trained
    assert newer_view([], object()) == "Training ended before the base ensemble: refresh"


def _app_with(session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["kingdra_session"] = session
    return at.run()


def test_train_and_clusters_pages_show_the_preview(digits, monkeypatch):
    monkeypatch.setenv("KINGDRA_APP_DEFAULTS", json.dumps({"n_models": 3, "hidden": [32]}))
    session, release = _paused_after_first_preview(digits)
    try:
        at = _app_with(session).switch_page("pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        info = " ".join(i.value for i in at.info)
        assert "Preview after 2 of 6 epochs" in info and "ACC" in info
        links = {link.proto.label: link.proto.page for link in at.get("page_link")}
        assert links["See it on Clusters"] == "clusters"
        assert links["See it on Graph"] == "graph"
        (bar,) = at.get("progress")
        assert "epoch 2/6" in bar.proto.text and "left " in bar.proto.text
        # The time promises name their data, machine and load (issue 16 item 10).
        promise = at.selectbox(key="train_preset").help
        assert "MNIST-5k: base ensemble 5 min 7 s" in promise and "load 3-4" in promise
        assert "first preview of its clusters after 11 s" in promise
        at = at.switch_page("pages/clusters.py").run()
        assert not at.exception, [e.value for e in at.exception]
        info = " ".join(i.value for i in at.info)
        assert "Preview after 2 of 6 epochs" in info
        assert "Curation opens once the base ensemble is trained" in info
        assert at.caption[0].value.startswith("Preview after 2 of 6 epochs (ACC ")
    finally:
        release()
    at = at.run()  # the trained base ensemble replaces the preview
    assert not at.exception, [e.value for e in at.exception]
    assert at.caption[0].value.startswith("Base ensemble; ")
    assert not any("Preview" in i.value for i in at.info)


def test_graph_page_shows_the_preview(digits):
    session, release = _paused_after_first_preview(digits)
    try:
        at = _app_with(session).switch_page("pages/graph.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert "Preview after 2 of 6 epochs" in " ".join(i.value for i in at.info)
        options = at.selectbox(key="graph_snapshot").options
        assert len(options) == 1 and options[0].startswith("preview after 2 of 6 epochs")
        at.slider(key="graph_t_pos").set_value(2).run()
        assert not at.exception, [e.value for e in at.exception]
    finally:
        release()
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="graph_snapshot").options == ["base ensemble"]
    assert not any("Preview" in i.value for i in at.info)


def test_the_history_page_waits_for_the_base_over_a_preview(digits):
    """History lists trained steps: over a preview it says the base is training."""
    session, release = _paused_after_first_preview(digits)
    try:
        at = _app_with(session).switch_page("pages/history.py").run()
        assert not at.exception, [e.value for e in at.exception]
        info = " ".join(i.value for i in at.info)
        assert "appears when the base ensemble is done" in info and "Preview" not in info
    finally:
        release()
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) >= 1  # the history table of the trained base ensemble
    assert not any("Training is running" in i.value for i in at.info)


def test_the_time_left_says_what_it_rests_on():
    running = ProgressSnapshot(
        status="running",
        job="base ensemble",
        epoch=3,
        n_epochs=60,
        batch=10,
        n_batches=50,
        elapsed_s=12.0,
        eta_s=200.0,
    )
    assert progress_text(running).endswith("left 3 min 20 s at the speed so far")


def test_on_large_data_the_first_preview_comes_within_the_first_epoch(digits, monkeypatch):
    """As on 70,000 rows, where an epoch takes minutes: here with no wait at all."""
    import functools

    import kingdra.ui.session as session_module

    monkeypatch.setattr(
        session_module,
        "PreviewSchedule",
        functools.partial(PreviewSchedule, first_after_s=0.0),
    )
    config = _tiny(epochs_base=3)
    session = AppSession(sync=True)
    session.set_dataset(digits, "digits")
    previews = []
    publish = session._publish_preview
    session._publish_preview = lambda *a: (publish(*a), previews.append(session.preview))
    session.start_base(config, device="cpu")
    first = previews[0]
    assert 0 < first.epochs_done < 1 and first.title.startswith("preview after 0.")
    plain = KingdraEngine(digits.X, config, y_eval=digits.y, device="cpu")
    plain.train_base()
    assert np.array_equal(plain.probs, session.engine.probs)


def test_the_time_left_shows_from_the_first_batches():
    """Before 1 % of a job is done its own rate says nothing yet; a one-call job (the base
    ensemble) then shows the trainer's time left, measured from the second batch on."""
    session = AppSession(sync=True)
    board = session.runner.board
    board.reset("base ensemble")
    early = Progress("base", "batch", 1, 40, 3, 280, elapsed_s=1.5, eta_s=512.0)
    session._callback(board, 0, 1, "base ensemble")(early)
    assert board.snapshot().eta_s == 512.0
    assert "left 8 min 32 s at the speed so far" in progress_text(board.snapshot())
    session._callback(board, 0, 3, "iteration 1")(early)  # one part of three: not yet
    assert board.snapshot().eta_s is None
    unknown = Progress("base", "batch", 1, 40, 1, 280, elapsed_s=0.5, eta_s=float("nan"))
    session._callback(board, 0, 1, "base ensemble")(unknown)
    assert "estimating" in progress_text(board.snapshot())
