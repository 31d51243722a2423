"""AppTest for every page: default render, the main controls by key, the error paths.

Training runs for real in synchronous mode (``KINGDRA_APP_SYNC=1``) with a tiny ensemble;
the threaded path is covered by ``test_app_runner.py`` and the browser test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from kingdra.ui.runner import ProgressSnapshot
from kingdra.ui.train_view import progress_text

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TINY = {"n_models": 4, "hidden": [32], "epochs_base": 1, "epochs_iter": 1, "min_confidence": 0.0}
PAGES = ("home", "data", "train", "graph", "clusters", "history")


@pytest.fixture(autouse=True)
def _sync_env(monkeypatch):
    monkeypatch.setenv("KINGDRA_APP_SYNC", "1")
    monkeypatch.setenv("KINGDRA_APP_DEFAULTS", json.dumps(TINY))


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def _page(at: AppTest, name: str) -> AppTest:
    return at.switch_page(f"pages/{name}.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _train_through_the_page(overrides: dict):
    """An app trained through the Train page (base ensemble + one iteration)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("KINGDRA_APP_SYNC", "1")
    mp.setenv("KINGDRA_APP_DEFAULTS", json.dumps(overrides))
    at = _page(_app(), "train")
    at.button(key="train_start").click().run()
    _ok(at)
    assert [s.value for s in at.success][0].startswith("base ensemble trained")
    at.button(key="train_next").click().run()
    _ok(at)
    session = at.session_state["kingdra_session"]
    mp.undo()
    return session


@pytest.fixture(scope="module")
def trained():
    """One app trained through the Train page with the default preset, tiny."""
    return _train_through_the_page(TINY)


@pytest.fixture(scope="module")
def trained_overclustered():
    """The same with over-clustering (2k outputs per member, merged to k)."""
    return _train_through_the_page({**TINY, "overcluster": 2})


def _with(session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["kingdra_session"] = session
    return at.run()


@pytest.mark.slow
def test_home_loads_digits_and_shows_state():
    at = _app()
    _ok(at)
    assert "kingdra" in at.title[0].value
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "digits" in side and "not trained" in side and "Device" in side


def test_home_opens_with_the_quick_start_and_a_picture_of_the_method_not_the_app():
    at = _app()
    _ok(at)
    assert [s.value for s in at.subheader] == ["Quick start", "How it works"]
    quick = " ".join(m.value for m in at.markdown[:3])
    assert "23 s" in quick and "2-core CPU, idle" in quick  # a time, its machine
    assert "about a minute" not in quick

    def walk(node):
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else ():
            yield child
            yield from walk(child)

    images = [e for e in walk(at.main) if getattr(e, "type", "") == "image"]
    assert len(images) == 1 and "Algorithm 1, step 3" in images[0].proto.imgs[0].caption
    source = (ROOT / "pages" / "home.py").read_text()
    assert "graph.png" not in source and "home.png" in source  # no screenshot of the app


@pytest.mark.parametrize("name", ["graph", "clusters", "history"])
def test_pages_before_training_point_to_train(name):
    at = _page(_app(), name)
    _ok(at)
    assert any("train the base ensemble first" in w.value for w in at.warning)


def test_data_page_loads_builtin_with_preprocessing():
    at = _page(_app(), "data")
    _ok(at)
    at.selectbox(key="builtin_preprocess").set_value("standardise")
    at.button(key="data_load").click().run()
    _ok(at)
    assert any("standardised" in s.value for s in at.success)
    assert at.metric[0].value == "1,797"


def test_data_page_bad_upload_keeps_session():
    at = _page(_app(), "data")
    at.file_uploader(key="data_upload").upload("broken.csv", b"a,b\n1,x\n2,3\n", "text/csv")
    at.run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    assert at.error and "broken.csv" in at.error[0].value
    assert at.session_state["kingdra_session"].dataset.name == "digits"


def test_data_page_damaged_builtin_says_what_the_app_can_and_cannot_do(monkeypatch, tmp_path):
    monkeypatch.setenv("KINGDRA_DATA", str(tmp_path))
    (tmp_path / "20news").mkdir()
    (tmp_path / "20news" / "20news-bydate.tar.gz").write_bytes(b"a damaged copy")
    at = _page(_app(), "data")
    at.selectbox(key="data_builtin").set_value("20news")
    at.button(key="data_load").click().run()
    _ok(at)
    message = at.error[0].value
    assert "sha256" in message and "checksums={" not in message
    assert "`--checksum 20news-bydate.tar.gz=<sha256>`" in message
    assert "the app accepts only the built-in sha256" in message
    assert at.session_state["kingdra_session"].dataset.name == "digits"


def test_data_page_good_upload():
    rng = np.random.default_rng(0)
    rows = "\n".join(",".join(f"{v:.3f}" for v in r) for r in rng.normal(size=(40, 3)))
    at = _page(_app(), "data")
    at.file_uploader(key="data_upload").upload(
        "points.csv", ("x,y,z\n" + rows).encode(), "text/csv"
    )
    at.run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    assert not at.error
    assert at.session_state["kingdra_session"].dataset.X.shape == (40, 3)


def test_train_form_rejects_bad_hidden_sizes():
    at = _page(_app(), "train")
    at.text_input(key="train_hidden").set_value("64, lots")
    at.button(key="train_start").click().run()
    _ok(at)
    assert "hidden sizes" in at.error[0].value
    assert not at.session_state["kingdra_session"].trained


def test_train_form_over_clustering_reaches_the_config():
    at = _page(_app(), "train")
    assert at.number_input(key="train_overcluster").value == 2  # the fast preset's
    at.number_input(key="train_overcluster").set_value(3)
    at.button(key="train_start").click().run()
    _ok(at)
    session = at.session_state["kingdra_session"]
    assert session.config.overcluster == 3 and session.config.n_outputs == 30
    assert session.latest.member_labels.max() < 30
    assert session.latest.labels.max() < 10
    at = _page(at, "clusters")
    _ok(at)
    assert any("30 fine clusters became 10 clusters" in e.label for e in at.expander)
    assert not at.error


def test_train_form_trains_the_members_on_the_ae_umap_representation():
    at = _page(_app(), "train")
    assert at.selectbox(key="train_embed").value == "none"  # the fast preset's
    at.selectbox(key="train_embed").set_value("ae-umap")
    at.number_input(key="train_embed_epochs").set_value(1)
    at.button(key="train_start").click().run()
    _ok(at)
    assert not at.error
    session = at.session_state["kingdra_session"]
    assert session.config.embed == "ae-umap" and session.config.embed_epochs == 1
    assert session.engine.representation.coords.shape == (1797, 10)
    assert session.latest.member_labels.shape[0] == 1797


def test_train_form_gate_sends_the_members_back_to_the_input_and_says_so():
    at = _page(_app(), "train")
    at.selectbox(key="train_embed").set_value("ae-umap")
    at.number_input(key="train_embed_epochs").set_value(1)
    at.number_input(key="train_embed_gate").set_value(1.0)  # no mixture is exactly equal
    at.button(key="train_start").click().run()
    _ok(at)
    session = at.session_state["kingdra_session"]
    assert session.engine.representation is None
    assert session.config is session.engine.config and session.config.embed == "none"
    assert session.latest.member_labels.shape[0] == 1797
    at.run()
    assert any("trained on the input, not the representation" in c.value for c in at.caption)


@pytest.mark.slow
def test_training_records_snapshots(trained):
    assert [s.iteration for s in trained.snapshots] == [0, 1]
    assert trained.latest.member_labels.shape == (1797, 4)
    assert trained.run_state() == "iteration 1"


@pytest.mark.slow
def test_graph_page_sliders_recompute_mini_clusters(trained):
    at = _page(_with(trained), "graph")
    _ok(at)
    before = [m.value for m in at.metric]
    at.slider(key="graph_t_pos").set_value(2).run()
    _ok(at)
    after = [m.value for m in at.metric]
    assert after != before
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "t_pos=2" in chart["layout"]["title"]["text"]


def test_graph_page_stepper_and_apply(trained):
    at = _page(_with(trained), "graph")
    at.slider(key="graph_t_pos").set_value(4)
    at.slider(key="graph_t_neg").set_value(3).run()
    at.slider(key="graph_step").set_value(1).run()
    _ok(at)
    assert any(i.value.startswith("Step 1: anchor sample") for i in at.info)
    at.button(key="graph_apply").click().run()
    _ok(at)
    assert trained.thresholds["t_pos"] == 4 and trained.thresholds["t_neg"] == 3


def test_graph_page_pseudocode_follows_the_step_buttons(trained):
    at = _page(_with(trained), "graph")
    _ok(at)

    def code() -> str:
        return next(h.proto.body for h in at.get("html") if "kingdra-pseudocode" in h.proto.body)

    assert at.button(key="graph_step_back").disabled
    assert code().count('class="active"') == 4 and "nodes" in code()  # building the graph
    at.button(key="graph_step_forward").click().run()
    at.button(key="graph_step_forward").click().run()
    _ok(at)
    assert at.slider(key="graph_step").value == 2
    assert any(i.value.startswith("Step 2: anchor sample") for i in at.info)
    assert "i = 2" in code() and "x_2 = sample" in code()
    at.button(key="graph_step_back").click().run()
    _ok(at)
    assert at.slider(key="graph_step").value == 1 and "x_1 = sample" in code()
    last = at.slider(key="graph_step").max
    at.slider(key="graph_step").set_value(last).run()
    _ok(at)
    assert at.button(key="graph_step_forward").disabled  # the last pick: nowhere to go
    assert "next:" in code() and not at.button(key="graph_step_back").disabled


def _select(at: AppTest, key: str, ids) -> AppTest:
    """What a click or lasso on a chart sends back (its points' customdata)."""
    points = [{"customdata": int(i)} for i in ids]
    at.session_state[key] = {"selection": {"points": points, "box": [], "lasso": []}}
    return at.run()


def test_graph_page_says_why_a_node_is_in_its_mini_cluster(trained):
    from kingdra.ui.graph_view import run_algorithm

    snap = trained.latest
    result = run_algorithm(snap.member_labels, snap.confidence, *trained.current_thresholds())
    anchor = result.steps[0].anchor
    at = _page(_with(trained), "graph")
    _ok(at)
    assert any("Click a node" in c.value for c in at.caption)
    at = _select(at, "graph_chart", [anchor])
    _ok(at)
    text = " ".join(m.value for m in at.markdown)
    assert f"Why sample {anchor} is where it is" in text
    assert "Step 1 picked it as the anchor" in text and "Pseudo-label: mini-cluster 0." in text
    tables = [d.value for d in at.dataframe]
    agreeing = next(t for t in tables if "members agreeing" in t.columns)
    assert len(agreeing) == 5 and anchor not in agreeing["sample"].tolist()
    assert any("strong negative edges among all 1,797 nodes" in c.value for c in at.caption)


def _spy_selection_csv(monkeypatch) -> list[str]:
    """Record what the pages export as a selection's CSV (the page imports it at each run)."""
    from kingdra.ui import clusters_view

    made: list[str] = []
    real = clusters_view.selection_csv

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(clusters_view, "selection_csv", spy)
    return made


def test_graph_page_exports_the_selection_as_csv(trained, monkeypatch):
    made = _spy_selection_csv(monkeypatch)
    at = _page(_with(trained), "graph")
    assert not [b for b in at.get("download_button") if "graph_export_selection" in b.proto.id]
    at = _select(at, "graph_chart", [5, 3, 5])
    _ok(at)
    button = [b for b in at.get("download_button") if "graph_export_selection" in b.proto.id]
    assert len(button) == 1 and button[0].proto.label == "Selection (CSV)"
    lines = made[-1].splitlines()
    assert lines[0] == "index,cluster,mini_cluster,pseudo_label,true_label,true_class"
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "5"]
    y = trained.dataset.y
    assert lines[1].split(",")[4] == str(y[3]) and lines[1].split(",")[1] == str(
        trained.latest.labels[3]
    )


def test_graph_page_draws_every_point_and_the_edges_on_a_sample(trained, monkeypatch):
    import plotly.graph_objects as go

    built: list[int] = []
    real = go.Figure.to_html
    monkeypatch.setattr(go.Figure, "to_html", lambda *x, **k: built.append(1) or real(*x, **k))
    at = _page(_with(trained), "graph")
    _ok(at)
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    n = len(trained.latest.labels)
    assert (
        f"all {n:,} points drawn; edges among 800 sampled nodes" in chart["layout"]["title"]["text"]
    )
    assert all(t["type"] == "scattergl" for t in chart["data"])  # WebGL: 70,000 stay smooth
    # The graph's HTML (MBs at 70k) is built when its button is clicked, not at each move.
    assert any("graph_export_html" in b.proto.id for b in at.get("download_button"))
    assert built == []


def test_graph_page_past_the_edge_sample_draws_every_point():
    """More rows than the edge graph's sample (benchmarks.bench_app's synthetic votes)."""
    from benchmarks.bench_app import synthetic_session

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["kingdra_session"] = synthetic_session(2500)
    at = _page(at.run(), "graph")
    _ok(at)
    assert at.slider(key="graph_sample").max == 2000  # the edges of 3,000 cost 0.75 s at 70k
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert (
        "all 2,500 points drawn; edges among 800 sampled nodes" in chart["layout"]["title"]["text"]
    )


def test_graph_page_selection_makes_or_drops_a_pseudo_label_group(trained):
    """A box or lasso on the graph edits the next iteration's mini-clusters, as on Clusters."""
    from kingdra.ui.graph_view import run_algorithm

    saved, trained.thresholds = trained.thresholds, None  # the run's (other tests apply theirs)
    snap = trained.latest
    S = run_algorithm(snap.member_labels, snap.confidence, *trained.current_thresholds()).clusters
    sizes = [len(c) for c in S]
    assert sum(x > 0 for x in sizes) < trained.config.n_outputs  # room for a new group
    a = int(np.argmax(sizes))
    b = min((i for i in range(len(S)) if i != a and sizes[i]), key=lambda i: sizes[i])
    held = np.unique(np.concatenate(S))
    outside = [int(i) for i in np.setdiff1d(np.arange(len(snap.labels)), held)[:3]]
    try:
        at = _page(_with(trained), "graph")
        at = _select(at, "graph_chart", [int(S[a][0]), int(S[a][1]), outside[0]])
        _ok(at)
        assert at.selectbox(key="graph_cur_from").value == a  # the largest share first
        at.button(key="graph_cur_drop").click().run()
        _ok(at)
        dropped = sorted(int(i) for i in S[a][:2])
        assert trained.pending_edits() == [{"op": "drop", "cluster": a, "rows": dropped}]
        assert any(f"drop 2 row(s) from mini-cluster {a}" in x.value for x in at.success)
        # Dropping every row of a mini-cluster is refused; the session keeps its edit.
        at = _select(at, "graph_chart", S[b].tolist())
        at.selectbox(key="graph_cur_from").set_value(b).run()
        at.button(key="graph_cur_drop").click().run()
        _ok(at)
        assert f"empties mini-cluster {b}" in at.error[0].value
        assert len(trained.pending_edits()) == 1
        # Rows in no mini-cluster become a new one; the Clusters page lists both edits.
        at = _select(at, "graph_chart", outside)
        at.button(key="graph_cur_add").click().run()
        _ok(at)
        assert not at.error and trained.pending_edits()[-1] == {"op": "add", "rows": outside}
        at = _page(at, "clusters")
        _ok(at)
        table = next(d.value for d in at.dataframe if "status" in d.value.columns)
        assert table["status"][a] == "edited" and table["status"].iloc[-1] == "new"
        # Other thresholds than the training's: the page says how to curate instead.
        at = _page(at, "graph")
        t_pos = trained.current_thresholds().t_pos
        at.slider(key="graph_t_pos").set_value(t_pos - 1 if t_pos > 1 else 2).run()
        at = _select(at, "graph_chart", outside)
        _ok(at)
        assert not [x for x in at.button if x.key == "graph_cur_add"]
        assert any("Use these thresholds for training" in c.value for c in at.caption)
        at.button(key="graph_apply").click().run()  # the panel above follows at once
        _ok(at)
        assert at.button(key="graph_cur_add") and trained.pending_edits() == []  # new thresholds
    finally:
        trained.edits, trained.edits_on, trained.thresholds = [], None, saved


def test_history_page_moves_recompute_nothing(trained, monkeypatch):
    """The scrubbers rerun the page: member scores and Algorithm 1 are cached per snapshot."""
    from kingdra.ui import graph_view, history_view

    at = _page(_with(trained), "history")
    at.select_slider(key="history_graph_iteration").set_value(0).run()
    at.select_slider(key="history_graph_iteration").set_value(1).run()
    _ok(at)
    calls: list[str] = []
    for module, name in (
        (history_view, "agreement_matrix"),
        (history_view, "member_accuracies"),
        (graph_view, "run_algorithm"),
    ):
        real = getattr(module, name)
        spy = lambda *x, _real=real, _name=name, **k: calls.append(_name) or _real(*x, **k)  # noqa: E731
        monkeypatch.setattr(module, name, spy)
    at.select_slider(key="history_graph_iteration").set_value(0).run()
    at.select_slider(key="history_timeline_iteration").set_value(0).run()
    _ok(at)
    assert calls == []


def test_clusters_page_exports_the_umap_selection_as_csv(trained, monkeypatch):
    made = _spy_selection_csv(monkeypatch)
    snap = trained.latest
    key = ("umap-embedding", snap.iteration)
    rng = np.random.default_rng(0)  # stands in for UMAP (seconds): the page reads the cache
    trained.cache[key] = rng.normal(size=(len(snap.embedding_index), 2)).astype(np.float32)
    try:
        at = _page(_with(trained), "clusters")
        _ok(at)
        assert any("Box- or lasso-select" in c.value for c in at.caption)
        at = _select(at, "clusters_umap_chart", [0, 2])
        _ok(at)
        keys = [b.proto.id for b in at.get("download_button")]
        assert any("clusters_export_selection" in k for k in keys)
        rows = made[-1].splitlines()[1:]
        assert [r.split(",")[0] for r in rows] == [str(snap.embedding_index[i]) for i in (0, 2)]
    finally:
        del trained.cache[key]


def test_graph_page_sweep(trained):
    at = _page(_with(trained), "graph")
    at.button(key="graph_sweep").click().run()
    _ok(at)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(t.get("type") == "heatmap" for s in specs for t in s["data"])


def test_clusters_page_gallery_confusion_and_export(trained):
    at = _page(_with(trained), "clusters")
    _ok(at)
    assert len(at.get("image")) >= 4
    at.radio(key="clusters_kind").set_value("mini-clusters").run()
    _ok(at)
    keys = [b.proto.id for b in at.get("download_button")]
    assert any("clusters_export_csv" in k for k in keys)


@pytest.mark.slow
def test_history_page_and_baselines(trained):
    at = _page(_with(trained), "history")
    _ok(at)
    table = at.dataframe[0].value
    assert list(table.index) == [0, 1] and table["acc"].between(0, 1).all()
    at.button(key="history_baselines").click().run()
    _ok(at)
    assert {r["name"] for r in trained.baselines} == {"kmeans", "agglomerative"}


def test_history_table_shows_the_runs_own_records(trained):
    """Every figure of the table is the engine's record of that iteration: its ACC, and the
    pseudo-labels it trained on (once Algorithm 1 rerun per snapshot: one iteration off)."""
    at = _page(_with(trained), "history")
    _ok(at)
    table = next(d.value for d in at.dataframe if "mini-clusters wanted" in d.value.columns)
    records = {r["iteration"]: r for r in trained.engine.history}
    assert list(table.index) == sorted(records) == [0, 1]
    base = table.loc[0]
    assert base["acc"] == pytest.approx(records[0]["acc"])
    assert base[["precision", "n_labelled", "coverage", "n_mini_clusters"]].isna().all()
    row, record = table.loc[1], records[1]
    assert row["acc"] == pytest.approx(record["acc"])
    assert row["precision"] == pytest.approx(record["pseudo_precision"])
    assert row["n_labelled"] == record["n_pseudo_labelled"]
    assert row["coverage"] == pytest.approx(record["coverage"])
    assert row["n_mini_clusters"] == sum(s > 0 for s in record["mini_cluster_sizes"])
    assert (row["t_pos"], row["t_neg"]) == (record["t_pos"], record["t_neg"])
    assert row["mini-clusters wanted"] == record["mini_clusters_wanted"]


def test_history_timeline_scrubs_algorithm_2(trained):
    at = _page(_with(trained), "history")
    _ok(at)
    scrub = at.select_slider(key="history_timeline_iteration")
    assert scrub.options == ["0", "1"] and scrub.value == 1

    def metrics() -> dict[str, str]:
        return {m.label: m.value for m in at.metric}

    def chart() -> dict:
        return next(
            s
            for s in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
            if "Algorithm 2" in s["layout"].get("title", {}).get("text", "")
        )

    one = trained.engine.history[-1]
    assert metrics()["pseudo-labels"] == f"{one['n_pseudo_labelled']:,}"
    assert metrics()["ACC"] == f"{one['acc']:.1%}"
    assert chart()["data"][0]["y"] == one["mini_cluster_sizes"]
    scrub.set_value(0).run()
    _ok(at)
    assert metrics()["pseudo-labels"] == "–" and metrics()["ACC"] != "–"
    assert "iteration 0 of 1" in chart()["layout"]["title"]["text"]
    assert any("no pseudo-labels yet" in a["text"] for a in chart()["layout"]["annotations"])


def test_checkpoint_round_trip_and_bad_upload(trained):
    data = trained.checkpoint_bytes()
    at = _page(_app(), "train")
    at.file_uploader(key="train_ckpt_upload").upload("run.safetensors", data)
    at.run()
    at.button(key="train_ckpt_load").click().run()
    _ok(at)
    assert any("Resumed at iteration 1" in s.value for s in at.success)

    at = _page(_app(), "train")
    at.file_uploader(key="train_ckpt_upload").upload("junk.safetensors", b"not a checkpoint")
    at.run()
    at.button(key="train_ckpt_load").click().run()
    _ok(at)
    assert at.error and "Could not load the checkpoint" in at.error[0].value
    assert not at.session_state["kingdra_session"].trained


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_after_training(trained, name):
    _ok(_page(_with(trained), name))


# ---- a newcomer's own small files: every page for n = 4, 12, 150, uploads, nothing lost

SMALL = {"n_models": 2, "hidden": [16], "epochs_base": 1, "epochs_iter": 1, "min_confidence": 0.0}


def _blobs_csv(n: int) -> bytes:
    """n rows of 4 features around 2 (n < 150) or 3 centres, with a `label` column."""
    k = 2 if n < 150 else 3
    rng = np.random.default_rng(n)
    y = np.arange(n) % k
    X = np.eye(k, 4)[y] * 5 + rng.normal(scale=0.3, size=(n, 4))
    rows = [",".join([*(f"{v:.3f}" for v in x), "abc"[c]]) for x, c in zip(X, y, strict=True)]
    return ("a,b,c,d,label\n" + "\n".join(rows) + "\n").encode()


def _image_zip(n: int = 4) -> bytes:
    import io
    import zipfile

    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(n):
            group = ("cats", "dogs")[i % 2]
            img = Image.new("L", (8, 8), 40 if group == "cats" else 220)
            png = io.BytesIO()
            img.save(png, format="PNG")
            zf.writestr(f"pets/{group}/{i}.png", png.getvalue())
    return buf.getvalue()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at = _page(at, "data")
    at.file_uploader(key="data_upload").upload(name, data, "application/octet-stream")
    at.run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    return at


@pytest.mark.parametrize(
    "name, data, n, k",
    [
        ("four.csv", _blobs_csv(4), 4, 2),
        ("twelve.csv", _blobs_csv(12), 12, 2),
        ("blobs.csv", _blobs_csv(150), 150, 3),
        ("pets.zip", _image_zip(4), 4, 2),
    ],
    ids=["csv-4", "csv-12", "csv-150", "zip-4"],
)
def test_every_page_works_on_small_uploads(monkeypatch, name, data, n, k):
    monkeypatch.setenv("KINGDRA_APP_DEFAULTS", json.dumps(SMALL))
    at = _upload(_app(), name, data)
    session = at.session_state["kingdra_session"]
    assert session.dataset.X.shape[0] == n and session.dataset.n_classes == k
    if name.endswith(".csv"):
        assert session.dataset.X.shape[1] == 4  # the label column is not a feature
        loaded = at.success[0].value
        assert "'a', 'b', 'c', 'd'; labels from column 'label' (found by its name" in loaded
        assert "label column '(none)' makes it a feature" in loaded
    captions = " ".join(c.value for c in at.caption) + " ".join(
        str(i.proto.imgs[0].caption) for i in at.get("imgs")
    )
    assert "40 random samples" not in captions

    at = _page(at, "train")
    assert at.number_input(key="train_k").value == k  # from the data's labels
    at.button(key="train_start").click().run()
    _ok(at)
    assert [s.value for s in at.success][0].startswith("base ensemble trained")
    at.button(key="train_next").click().run()
    _ok(at)
    assert at.session_state["kingdra_session"].latest.iteration == 1

    for page in PAGES:
        at = _page(at, page)
        _ok(at)
    at = _page(at, "graph")
    if n <= 200:
        assert any(f"All {n:,} nodes drawn" in c.value for c in at.caption)
    at.slider(key="graph_t_pos").set_value(1).run()
    _ok(at)
    at.slider(key="graph_step").set_value(1).run()
    _ok(at)
    at = _page(at, "history")
    _ok(at)


def test_data_page_label_column_control_and_drop_nonfinite(monkeypatch):
    data = _blobs_csv(12).replace(b"\n", b"\n", 1)
    lines = data.decode().splitlines()
    lines[3] = ",".join(["", *lines[3].split(",")[1:]])  # a missing value in row 2
    data = ("\n".join(lines) + "\n").encode()
    at = _page(_app(), "data")
    at.file_uploader(key="data_upload").upload("gappy.csv", data, "text/csv")
    at.run()
    assert at.selectbox(key="upload_label_gappy.csv").value == "auto: label"  # by its name
    at.button(key="data_load_upload").click().run()
    _ok(at)
    assert "0-based rows 2" in at.error[0].value and "drop rows with NaN/inf" in at.error[0].value
    assert "drop_nonfinite" not in at.error[0].value
    at.checkbox(key="upload_drop_nonfinite").check().run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    assert at.session_state["kingdra_session"].dataset.X.shape == (11, 4)
    # No label column: the labels are then text in the features, and the message says which
    # control fixes it.
    at.selectbox(key="upload_label_gappy.csv").set_value("(none)").run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    assert "'label'" in at.error[0].value and "label column" in at.error[0].value
    at.multiselect(key="upload_ignore_gappy.csv").set_value(["label"]).run()
    at.button(key="data_load_upload").click().run()
    _ok(at)
    ds = at.session_state["kingdra_session"].dataset
    assert ds.X.shape == (11, 4) and ds.y is None


def test_new_data_asks_nothing_but_keeps_the_trained_run(monkeypatch):
    monkeypatch.setenv("KINGDRA_APP_DEFAULTS", json.dumps(SMALL))
    at = _upload(_app(), "twelve.csv", _blobs_csv(12))
    at = _page(at, "train")
    at.button(key="train_start").click().run()
    session = at.session_state["kingdra_session"]
    trained_engine = session.engine
    at = _upload(at, "four.csv", _blobs_csv(4))
    assert any("put aside, not lost" in i.value for i in at.info)
    at = _page(at, "train")
    _ok(at)
    assert not at.success  # no "base ensemble trained" of the old run beside the new data
    assert not at.get("plotly_chart")  # nor its loss curve
    assert any("Not trained yet" in i.value for i in at.info)
    at = _page(at, "data")
    at.button(key="data_restore_previous").click().run()
    _ok(at)
    session = at.session_state["kingdra_session"]
    assert session.engine is trained_engine and session.dataset.name == "twelve.csv"
    assert session.trained


def test_progress_text_never_says_epoch_0_of_0():
    starting = ProgressSnapshot(status="running", job="base ensemble", elapsed_s=1.0)
    text = progress_text(starting)
    assert "0/0" not in text and "starting" in text
    running = ProgressSnapshot(
        status="running", phase="base", epoch=1, n_epochs=3, batch=2, n_batches=10, eta_s=None
    )
    text = progress_text(running)
    assert "epoch 1/3 · batch 2/10" in text and "estimating" in text


def test_history_scores_members_on_the_final_clusters(trained_overclustered):
    """With over-clustering the members output 2k fine clusters; their ACC must be on the k
    final clusters, the numbers in the engine's history, not on the fine outputs."""
    trained = trained_overclustered
    assert trained.config.overcluster == 2
    at = _page(_with(trained), "history")
    _ok(at)
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    (spec,) = [v for k, v in charts.items() if "history_members" in k]
    shown = [float(t) for t in spec["data"][0]["text"]]  # the bars' labels, "0.912"
    expected = trained.engine.history[-1]["member_acc"]
    np.testing.assert_allclose(shown, expected, atol=5e-4)


def test_clusters_page_curates_the_next_iteration_and_names_clusters(monkeypatch):
    """Reject, merge, drop typed rows; bad rows say so; names reach the CSV; then train."""
    from kingdra.ui import clusters_view
    from kingdra.ui.graph_view import run_algorithm

    session = _train_through_the_page(TINY)
    snap = session.latest
    S = run_algorithm(snap.member_labels, snap.confidence, *session.current_thresholds()).clusters
    big = [i for i, c in enumerate(S) if len(c) >= 2]
    a, b = big[:2]
    at = _page(_with(session), "clusters")
    _ok(at)
    at.selectbox(key="clusters_cur_pick").set_value(a).run()
    at.button(key="clusters_cur_reject").click().run()
    _ok(at)
    assert session.pending_edits() == [{"op": "reject", "cluster": a}]
    at.selectbox(key="clusters_cur_pick").set_value(b).run()
    at.text_input(key="clusters_cur_rows").set_value("banana").run()
    at.button(key="clusters_cur_drop").click().run()
    _ok(at)
    assert "'banana' is not a row number" in at.error[0].value
    at.text_input(key="clusters_cur_rows").set_value(str(S[a][0])).run()
    at.button(key="clusters_cur_drop").click().run()
    assert "not in mini-cluster" in at.error[0].value  # S[a][0] is not in b
    assert len(session.pending_edits()) == 1  # the session is kept
    at.text_input(key="clusters_cur_rows").set_value(str(S[b][0])).run()
    at.button(key="clusters_cur_drop").click().run()
    _ok(at)
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert table["status"][a] == "rejected" and table["status"][b] == "edited"
    assert table["size"][b] == len(S[b]) - 1
    assert "1. reject mini-cluster" in " ".join(m.value for m in at.markdown)
    made: list[str] = []
    real = clusters_view.labels_csv
    monkeypatch.setattr(
        clusters_view, "labels_csv", lambda *x, **k: made.append(real(*x, **k)) or made[-1]
    )
    at.text_input(key="clusters_name_0").set_value("zeros, round").run()
    _ok(at)
    assert session.cluster_names == {0: "zeros, round"}
    lines = made[-1].splitlines()
    assert lines[0] == "index,cluster,pseudo_label,true_label,cluster_name"
    row = next(r for r in lines[1:] if r.split(",")[1] == "0")
    assert row.endswith('"zeros, round"')
    assert lines[1 + int(S[a][0])].split(",")[2] == "-1"  # the rejected mini-cluster's row
    # Pending edits and names survive the checkpoint.
    from kingdra.ui.session import AppSession

    copy = AppSession(sync=True)
    copy.dataset, copy.dataset_key = session.dataset, session.dataset_key
    copy.restore_bytes(session.checkpoint_bytes(), device="cpu")
    assert copy.pending_edits() == session.pending_edits()
    assert copy.cluster_names == {0: "zeros, round"}
    # The next iteration trains on the edited set and records the edits.
    at = _page(_with(session), "train")
    assert any("2 edit(s) of yours" in c.value for c in at.caption)
    at.button(key="train_next").click().run()
    _ok(at)
    engine = session.engine
    assert [e["op"] for e in engine.history[-1]["edits"]] == ["reject", "drop"]
    assert (engine.pseudo_labels[S[a]] == -1).all() and (engine.pseudo_labels[S[b][0]] == -1).all()
    assert session.pending_edits() == []
    # The History page lists the edits on the iteration that trained on them.
    at = _page(_with(session), "history")
    _ok(at)
    table = at.dataframe[0].value
    said = f"reject mini-cluster {a}; drop 1 row(s) from mini-cluster {b}"
    assert table["your edits before it"].tolist() == ["", "", said]
    assert any(said in c.value for c in at.caption)  # the timeline, at the last iteration
