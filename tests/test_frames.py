"""Algorithm 1's stepper frames for slides, and the user's k on the pages (over-clustering)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from kingdra.merge import fine_note
from kingdra.ui.frames import SIZE, frame_steps, frames_gif, frames_zip, step_frame
from kingdra.ui.graph_view import build_graph_view
from kingdra.ui.pseudocode import algorithm1_lines

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TINY = {"n_models": 4, "hidden": [32], "epochs_base": 1, "epochs_iter": 1, "min_confidence": 0.0}


@pytest.fixture(scope="module")
def view():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 120)
    labels = np.stack([np.where(rng.random(120) < 0.1, rng.integers(0, 4, 120), truth)] * 5, 1)
    labels[:, 1] = (labels[:, 1] + 1) % 4  # a permuted member: same partition
    xy = rng.normal(size=(120, 2))
    return build_graph_view(labels, None, xy, t_pos=5, t_neg=4, k=4, sample_size=80, y=truth)


def test_a_frame_per_stepper_position_drawn_as_the_stepper_shows_it(view):
    steps = frame_steps(view)
    assert list(steps) == list(range(len(view.result.steps) + 1)) and len(steps) >= 3
    first, second = step_frame(view, 0), step_frame(view, 1)
    assert first.size == SIZE and first.mode == "RGB"
    pixels = np.asarray(second)
    assert (pixels == (255, 243, 176)).all(axis=2).any()  # the lit pseudocode lines
    assert not np.array_equal(np.asarray(first), pixels)
    with pytest.raises(ValueError, match="step must be in"):
        step_frame(view, len(steps))


def test_frames_as_a_zip_of_pngs_and_as_one_gif(view):
    archive = zipfile.ZipFile(io.BytesIO(frames_zip(view, 0.5)))
    names = archive.namelist()
    assert names == [f"step-{s:02d}.png" for s in frame_steps(view)]
    png = Image.open(io.BytesIO(archive.read(names[-1])))
    assert png.format == "PNG" and png.size == SIZE
    gif = Image.open(io.BytesIO(frames_gif(view, seconds=0.5)))
    assert gif.format == "GIF" and gif.n_frames == len(names) and gif.info["loop"] == 0
    assert gif.info["duration"] == 500
    with pytest.raises(ValueError, match="seconds per frame"):
        frames_gif(view, seconds=0)


def test_pseudocode_names_the_fine_count_not_k_with_over_clustering(view):
    note = fine_note(10, 2)
    code = algorithm1_lines(view.result, 1, fine=note)
    assert code.lines[0].startswith("procedure GetClusters(L, n_fine=4,")
    assert "for i = 1 … n_fine do" in code.lines[5] and "k = 10 clusters" in code.notes[0]
    plain = algorithm1_lines(view.result, 1)
    assert "k=4" in plain.lines[0] and not plain.notes[0]
    assert fine_note(10, 1) == ""


# -- the pages, over-clustered (k = 10 chosen, 20 fine clusters per member) ----------------------


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("caption", "warning", "success", "info", "markdown")
             for e in getattr(at, kind)]  # fmt: skip
    parts += [w.label for w in at.slider] + [m.label for m in at.metric]
    parts += [h.proto.body for h in at.get("html")]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def overclustered():
    mp = pytest.MonkeyPatch()
    mp.setenv("KINGDRA_APP_SYNC", "1")
    mp.setenv("KINGDRA_APP_DEFAULTS", json.dumps({**TINY, "overcluster": 2}))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at = at.switch_page("pages/train.py").run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    mp.undo()


@pytest.mark.slow
def test_the_users_k_is_the_only_k_on_train_graph_clusters_history(overclustered):
    at = overclustered
    session = at.session_state["kingdra_session"]
    assert (session.config.n_clusters, session.config.n_outputs) == (10, 20)
    text = _texts(at)
    assert "k = 10 clusters" in text and "20 mini-clusters (one per fine cluster" in text
    assert "k=20" not in text and "k = 20" not in text
    at.switch_page("pages/graph.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "k=20" not in text and "k = 20" not in text
    assert at.slider(key="graph_k").label == "mini-clusters"
    assert "k = 10 clusters. Each member has 20 fine clusters" in text
    assert "n_fine=20" in text and "2 for each of the k = 10 clusters" in text
    at.slider(key="graph_t_neg").set_value(session.config.n_models).run()
    at.slider(key="graph_min_conf").set_value(0.99).run()  # fewer than 20 mini-clusters
    warning = next(w.value for w in at.warning if w.value.startswith("Only"))
    assert "of 20 mini-clusters wanted (one per fine cluster" in warning and "k=" not in warning
    at.button(key="graph_apply").click().run()
    assert "20 mini-clusters, gate 0.99" in _texts(at)
    for page in ("clusters", "history"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert "k=20" not in _texts(at)
    table = next(d.value for d in at.dataframe if "mini-clusters wanted" in d.value.columns)
    assert "k" not in table.columns


@pytest.mark.slow
def test_graph_page_offers_the_stepper_frames_for_slides(overclustered):
    at = overclustered.switch_page("pages/graph.py").run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {d.proto.id for d in at.get("download_button")}
    assert any("graph_frames_zip" in k for k in keys) and any("graph_frames_gif" in k for k in keys)
    assert any(c.value.startswith("For slides: the ") for c in at.caption)


def test_frames_give_mini_clusters_past_the_palette_another_shape(monkeypatch):
    from PIL import ImageDraw

    from kingdra.plots import PALETTE, SYMBOLS, category_color, category_symbol
    from kingdra.ui import frames

    masks = []
    for symbol in SYMBOLS:  # every shape draws, and no two look the same
        image = Image.new("L", (40, 40), 0)
        frames.marker(ImageDraw.Draw(image), (20, 20), 8, symbol, 255)
        masks.append(np.asarray(image) > 0)
        assert masks[-1].sum() > 50
    assert all((a != b).any() for i, a in enumerate(masks) for b in masks[i + 1 :])

    k = len(PALETTE) + 4  # 25 mini-clusters: colours come round again from 21 on
    truth = np.repeat(np.arange(k), 6)
    labels = np.stack([truth] * 4, 1)
    xy = np.random.default_rng(0).normal(size=(len(truth), 2))
    many = build_graph_view(labels, None, xy, t_pos=4, t_neg=4, k=k, sample_size=len(truth))
    drawn = {}

    def spy(draw, at, r, symbol, fill):
        drawn.setdefault(fill[:3], set()).add(symbol)

    monkeypatch.setattr(frames, "marker", spy)
    frames.step_frame(many, len(many.result.steps))
    groups = range(k)
    assert len({(category_color(g), category_symbol(g)) for g in groups}) == k
    reused = frames._rgba(category_color(0), 1)[:3]  # mini-clusters 0 and 21
    assert (
        drawn[reused]
        == {category_symbol(0), category_symbol(len(PALETTE))}
        == {
            "circle",
            "square",
        }
    )


def test_the_home_picture_is_a_stepper_frame_made_from_the_lessons_votes(tmp_path):
    from kingdra.ui.make_home_picture import ASSET, make

    picture = Image.open(make(tmp_path / "home.png"))
    assert picture.size == SIZE and picture.format == "PNG"
    assert Image.open(ASSET).size == SIZE  # the committed one, made by the same script
