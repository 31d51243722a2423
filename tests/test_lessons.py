"""The Lessons page: prepared votes, each lesson's claim on them, the page by AppTest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import kingdra.ui.lessons_view as lv
from kingdra.ui.layout import agreement_layout

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def data():
    return lv.load_lesson_data()


def _state(data, **values):
    values = {**lv.DEFAULTS, **values}
    xy = agreement_layout(data.member_labels[values["iteration"]][:, : values["members"]], data.k)
    return lv.lesson_state(data, values, xy, sample_size=300)


def test_assets_are_small_and_made_by_the_script_in_the_repo(data):
    folder = ROOT / "assets" / "lessons"
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 5 * 2**20
    assert data.meta["command"] == lv.MAKE == "python -m kingdra.ui.make_lessons"
    assert (ROOT / "kingdra" / "ui" / "make_lessons.py").is_file()
    assert data.member_labels.shape == (6, 1797, 10) and data.k == 10
    from sklearn.datasets import load_digits

    assert np.array_equal(data.y, load_digits().target)  # the same rows as the digits


def test_at_least_five_lessons_each_with_text_control_and_what_to_look_for():
    assert len(lv.LESSONS) >= 5 and len(set(lv.LESSON_KEYS)) == len(lv.LESSONS)
    for item in lv.LESSONS:
        assert item.text and item.try_this and item.look_for
        assert item.control in lv.CONTROLS and set(item.start) <= set(lv.CONTROLS)
    with pytest.raises(ValueError, match="unknown lesson 'nope'; use one of t_pos"):
        lv.lesson("nope")


def test_t_pos_too_low_gives_impure_mini_clusters(data):
    strict, loose = _state(data, t_pos=10), _state(data, t_pos=2)
    assert strict.view.summary.precision > 0.99 > 0.8 > loose.view.summary.precision
    assert min(loose.view.summary.purity) < 0.5 < min(strict.view.summary.purity)


def test_t_neg_too_high_gives_too_few_and_too_low_repeats_a_digit(data):
    high, nine, low = _state(data, t_neg=10), _state(data, t_neg=9), _state(data, t_neg=1)
    assert len(high.view.result.clusters) == 8 < len(nine.view.result.clusters)
    assert len(low.view.result.clusters) == 10 and low.duplicated and low.digits_covered < 10


def test_two_members_against_ten(data):
    two = _state(data, members=2, t_pos=2, t_neg=1)
    ten = _state(data)
    assert two.view.summary.coverage > ten.view.summary.coverage
    assert two.view.summary.precision < ten.view.summary.precision - 0.03
    assert len(two.member_acc) == 2 and len(ten.member_acc) == 10


def test_a_mistake_every_member_shares_survives_t_pos_m(data):
    state = _state(data, t_pos=10)
    assert len(state.shared) > 0
    clusters = state.view.result.clusters
    for i in state.shared:  # all 10 members vote it with its anchor
        anchor = next(c[0] for c in clusters if i in c)
        assert (data.member_labels[0][i] == data.member_labels[0][anchor]).all()
        assert data.y[i] != data.y[anchor]


def test_pseudo_labels_lift_the_members_from_iteration_0_to_5(data):
    rows = lv.iteration_rows(data, lv.DEFAULTS)
    assert [r["iteration"] for r in rows] == list(range(6))
    assert rows[5]["mean member ACC"] > rows[0]["mean member ACC"] + 0.03
    assert rows[5]["weakest member ACC"] > rows[0]["weakest member ACC"]
    assert rows[5]["coverage"] > rows[0]["coverage"] + 0.1


def test_the_confidence_gate_lesson(data):
    assert len(_state(data, gate=0.9).view.result.clusters) == 8
    assert len(_state(data, gate=0.0).view.result.clusters) == 9


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"members": 1}, "members must be an integer in 2..10"),
        ({"members": 2, "t_pos": 3}, "t_pos must be an integer in 1..2"),
        ({"t_neg": 0}, "t_neg must be an integer in 1..10"),
        ({"iteration": 6}, "iteration must be an integer in 0..5"),
        ({"gate": 1.0}, r"confidence gate must be in \[0, 1\)"),
        ({"t_pos": 2.5}, "t_pos must be an integer"),
    ],
)
def test_bad_control_values_say_what_to_use(data, values, message):
    with pytest.raises(ValueError, match=message):
        lv.check_controls(data, {**lv.DEFAULTS, **values})


def test_missing_corrupt_or_mismatched_files_say_how_to_remake_them(tmp_path, data):
    with pytest.raises(ValueError, match="missing; make it again with `python -m kingdra"):
        lv.load_lesson_data(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not readable"):
        lv.load_lesson_data(bad)
    short = tmp_path / "short.npz"
    np.savez(
        short,
        member_labels=data.member_labels,
        confidence=data.confidence[:, :10],
        final_member_labels=data.final_member_labels,
        labels=data.labels,
        y=data.y,
        meta=np.array(json.dumps({})),
    )
    with pytest.raises(ValueError, match="mismatched shapes"):
        lv.load_lesson_data(short)


# -- the page ---------------------------------------------------------------------------------


@pytest.fixture
def lessons(monkeypatch):
    monkeypatch.setenv("KINGDRA_APP_SYNC", "1")
    at = AppTest.from_file(APP, default_timeout=120).run()
    return at.switch_page("pages/lessons.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.slow
def test_every_lesson_opens_in_under_5_s_without_training(lessons):
    at = lessons
    _ok(at)
    session = at.session_state["kingdra_session"]
    assert "Lessons" in at.title[0].value
    for key in lv.LESSON_KEYS:
        start = time.perf_counter()
        at.selectbox(key="lesson_pick").set_value(key).run()
        assert time.perf_counter() - start <= 5.0, key
        _ok(at)
        item = lv.lesson(key)
        assert any(item.try_this in i.value and item.look_for in i.value for i in at.info)
        for name, value in lv.start_values(item).items():
            assert at.session_state[f"lesson_{name}"] == value
        assert at.get("plotly_chart") and _metric(at, "mini-clusters").endswith("of 10")
    assert not session.trained and session.engine is None  # nothing was trained
    assert any("make_lessons" in c.value for c in at.caption)


@pytest.mark.slow
def test_lesson_controls_change_what_the_page_shows(lessons):
    at = lessons
    at.selectbox(key="lesson_pick").set_value("t_pos").run()
    assert _metric(at, "precision") == "99.6%"
    at.slider(key="lesson_t_pos").set_value(2).run()
    _ok(at)
    assert _metric(at, "precision") == "72.3%"
    at.button(key="lesson_reset").click().run()
    assert at.slider(key="lesson_t_pos").value == 10 and _metric(at, "precision") == "99.6%"

    at.selectbox(key="lesson_pick").set_value("members").run()
    at.slider(key="lesson_members").set_value(2).run()
    _ok(at)
    assert (at.slider(key="lesson_t_pos").value, at.slider(key="lesson_t_neg").value) == (2, 2)
    assert at.slider(key="lesson_t_pos").max == 2

    at.selectbox(key="lesson_pick").set_value("t_neg").run()
    at.slider(key="lesson_t_neg").set_value(1).run()
    assert any("majority of two or more" in w.value for w in at.warning)

    at.selectbox(key="lesson_pick").set_value("shared").run()
    shared = _table(at, "true digit")
    assert len(shared) > 0 and (shared["true digit"] != shared["mini-cluster's digit"]).all()

    at.selectbox(key="lesson_pick").set_value("iterations").run()
    before = _metric(at, "mean member ACC")
    at.slider(key="lesson_iteration").set_value(5).run()
    _ok(at)
    assert _metric(at, "mean member ACC") > before
    assert len(_table(at, "mean member ACC")) == 6


@pytest.mark.slow
@pytest.mark.parametrize(("content", "message"), [(None, "missing"), (b"PK junk", "not readable")])
def test_a_missing_or_corrupt_lessons_file_is_an_error_and_the_session_stays(
    lessons, monkeypatch, tmp_path, content, message
):
    at = lessons
    session = at.session_state["kingdra_session"]
    path = tmp_path / "digits.npz"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setattr(lv, "ASSET", path)
    at.run()
    assert any(message in e.value and "make it again with" in e.value for e in at.error)
    assert not at.exception and at.session_state["kingdra_session"] is session
    monkeypatch.undo()
    at.run()
    _ok(at)
    assert not at.error
