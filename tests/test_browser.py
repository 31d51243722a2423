"""End to end in a real headless Chromium: the app as a user drives it.

Starts ``streamlit run app.py`` on 127.0.0.1 with a tiny training setting, trains the base
ensemble in the background thread (progress bar shown), moves t_pos and checks the graph and
counts change, steps through Algorithm 1, stops a running job, opens the cluster gallery and
downloads the labels; then walks a newcomer's own small CSV and a 4-image zip through every
page in a fresh session. Screenshots go to ``test-artifacts/``. Skipped when Debian's chromium
is missing, unless ``KINGDRA_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TINY = {"n_models": 4, "hidden": [32], "epochs_base": 1, "epochs_iter": 1, "min_confidence": 0.0}

CHART = ".st-key-graph_chart[data-stale=false]"  # the graph as drawn by the latest run

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _require_browser() -> None:
    missing = not CHROMIUM.exists()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("KINGDRA_REQUIRE_BROWSER") == "1":
            pytest.fail("KINGDRA_REQUIRE_BROWSER=1 but /usr/bin/chromium or playwright is missing")
        pytest.skip("needs Debian's chromium at /usr/bin/chromium and playwright")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _require_browser()
    port = _free_port()
    env = dict(os.environ, KINGDRA_APP_DEFAULTS=json.dumps(TINY), PYTHONUNBUFFERED="1")
    env.pop("KINGDRA_APP_SYNC", None)  # the threaded path is what this test checks
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail("streamlit did not become healthy; see test-artifacts/streamlit.log")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1100})
        pg.set_default_timeout(60_000)
        pg.goto(server)
        yield pg
        browser.close()


def _goto(page, name: str) -> None:
    """Navigate inside the session (a new URL would open a new session)."""
    page.locator("[data-testid=stSidebarNav] a", has_text=name).click()
    page.wait_for_function(
        "n => document.querySelector('h1') && document.querySelector('h1').innerText.includes(n)",
        arg={"Graph": "Agreement graph"}.get(name, name),
    )


def _settled(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished running the script (no running indicator)."""
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=timeout * 1000)


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]", has_text=label)
    return box.locator("[data-testid=stMetricValue]").inner_text()


def _slide_to(pg, key: str, target: int) -> None:
    """Move slider ``key`` to ``target`` a key press at a time, reading its value after each.

    Streamlit's slider is a react-aria slider around a visually hidden range input. A press
    made while a rerun re-mounts the slider is lost (seen under load), so the presses are
    counted by the value the slider shows, not by the keys sent.
    """
    slider = pg.locator(f".st-key-{key} input[type=range]")
    for _ in range(4 * abs(target) + 20):
        _settled(pg)
        value = int(float(slider.input_value()))
        if value == target:
            return
        slider.focus()
        pg.keyboard.press("ArrowRight" if value < target else "ArrowLeft")
    raise AssertionError(f"slider {key} did not reach {target}: it shows {value}")


def test_sidebar_shows_dataset_and_state(page):
    page.wait_for_selector("[data-testid=stSidebar] >> text=Device:")
    _settled(page)
    side = page.locator("[data-testid=stSidebar]").inner_text()
    assert "digits" in side and "not trained" in side and "CPU" in side


def test_train_base_ensemble_in_background(page):
    _goto(page, "Train")
    page.locator(".st-key-train_start button").click()
    # The progress bar is drawn by a fragment while the worker thread trains; on a quick
    # machine the training can end before the first redraw, so either state will do.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stProgress]') !== null"
        " || document.body.innerText.includes('base ensemble trained')",
        timeout=60_000,
    )
    page.wait_for_selector("[data-testid=stSidebar] >> text=/training|base trained/")
    # The fragment redraws the bar every second: epoch counter or, if quick, the end.
    page.wait_for_selector("text=/epoch 1\\/1|base ensemble trained/", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "train-progress.png"))
    page.wait_for_selector("text=base ensemble trained", timeout=300_000)
    page.screenshot(path=str(ARTIFACTS / "train-done.png"), full_page=True)
    page.wait_for_selector("[data-testid=stSidebar] >> text=base trained")


def test_graph_moves_with_t_pos_and_steps_algorithm_1(page):
    _goto(page, "Graph")
    page.wait_for_selector(".st-key-graph_t_pos [data-testid=stSlider]")
    _settled(page)
    page.wait_for_selector(".st-key-graph_chart .main-svg")
    title_before = page.locator(f"{CHART} .gtitle").text_content()
    legend_before = page.locator(f"{CHART} .legend").text_content()
    labelled_before = _metric(page, "pseudo-labelled")
    assert "t_pos=4" in title_before
    page.screenshot(path=str(ARTIFACTS / "graph.png"), full_page=True)

    _slide_to(page, "graph_t_pos", 2)  # t_pos 4 -> 2: more positive edges
    page.wait_for_function(
        "s => (document.querySelector(s)?.textContent ?? '').includes('t_pos=2')",
        arg=f"{CHART} .gtitle",
    )
    _settled(page)
    legend = page.locator(f"{CHART} .legend").text_content()
    edge_counts = re.compile(r"positive edges[a-z ]*\(([0-9,]+)\)")
    assert int(edge_counts.search(legend)[1].replace(",", "")) > int(
        edge_counts.search(legend_before)[1].replace(",", "")
    )
    assert _metric(page, "pseudo-labelled") != labelled_before

    step_info = page.locator("[data-testid=stAlert]", has_text="Initial graph")
    assert step_info.count() == 1
    _slide_to(page, "graph_step", 2)
    page.wait_for_selector("text=/Step 2: anchor sample [0-9]+/")
    _settled(page)  # the step chart is drawn again beside the pseudocode
    # a rerun may still hold the previous chart (data-stale="true") beside the new one
    page.locator(
        '.st-key-graph_step_chart:not([data-stale="true"])'
    ).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "graph-step.png"), full_page=True)


def _active_code(page) -> str:
    """The highlighted lines of Algorithm 1's pseudocode."""
    return "\n".join(page.locator(".kingdra-pseudocode .active").all_inner_texts())


def test_pseudocode_beside_the_stepper_follows_its_buttons(page):
    # Continues on the Graph page where the previous test left the stepper at step 2.
    code = page.locator(".kingdra-pseudocode")
    code.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.kingdra-pseudocode .active')]"
        ".some(e => e.innerText.includes('x_2 = sample'))"
    )
    assert code.locator(".active").count() == 5  # the loop line and the four of the pick
    page.locator(".st-key-graph_step_back button").click()
    page.wait_for_selector(".kingdra-pseudocode .active >> text=/x_1 = sample [0-9]+/")
    _settled(page)
    assert "i = 1" in _active_code(page)
    assert page.locator("[data-testid=stAlert]", has_text="Step 1: anchor sample").count() == 1
    page.locator(".st-key-graph_step_back button").click()
    page.wait_for_selector(".kingdra-pseudocode .active >> text=/[0-9,]+ nodes/")
    _settled(page)
    assert page.locator(".st-key-graph_step_back button").is_disabled()
    assert "Initial graph" in page.locator("[data-testid=stAlert]", has_text="graph").inner_text()
    page.locator(".st-key-graph_step_forward button").click()
    page.wait_for_selector(".kingdra-pseudocode .active >> text=/x_1 = sample/")
    _settled(page)
    # a rerun may still hold the previous chart (data-stale="true") beside the new one
    page.locator(
        '.st-key-graph_step_chart:not([data-stale="true"])'
    ).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "graph-pseudocode.png"), full_page=True)


def test_stop_a_running_job(page):
    _goto(page, "Train")
    page.locator(".st-key-train_run_n button").click()
    page.wait_for_selector("[data-testid=stProgress]", timeout=60_000)
    page.locator(".st-key-train_stop button").click()
    page.wait_for_selector("text=/Training stopped|iteration\\(s\\) done/", timeout=120_000)
    _settled(page)


def test_cluster_gallery_and_label_export(page):
    _goto(page, "Clusters")
    page.wait_for_selector("[data-testid=stImage] img")
    assert page.locator("[data-testid=stImage] img").count() >= 5
    page.screenshot(path=str(ARTIFACTS / "clusters.png"), full_page=True)
    with page.expect_download() as info:
        page.locator(".st-key-clusters_export_csv button").click()
    path = info.value.path()
    lines = Path(path).read_text().splitlines()
    assert lines[0] == "index,cluster,pseudo_label,true_label"
    assert len(lines) == 1797 + 1


def test_curate_the_next_iteration_and_name_a_cluster(page):
    _goto(page, "Clusters")
    _settled(page)
    page.locator(".st-key-clusters_cur_rows input").fill("banana")
    page.locator(".st-key-clusters_cur_rows input").press("Enter")
    _settled(page)
    page.locator(".st-key-clusters_cur_drop button").click()
    page.wait_for_selector("[data-testid=stAlert] >> text=is not a row number")
    page.locator(".st-key-clusters_cur_reject button").click()
    page.wait_for_selector("li >> text=/reject mini-cluster \\d+/")
    _settled(page)
    assert page.locator("[data-testid=stException]").count() == 0
    page.get_by_text("Name the clusters").click()
    page.locator(".st-key-clusters_name_0 input").fill("zeros, round")
    page.locator(".st-key-clusters_name_0 input").press("Enter")
    _settled(page)
    page.screenshot(path=str(ARTIFACTS / "curation.png"), full_page=True)
    with page.expect_download() as info:
        page.locator(".st-key-clusters_export_csv button").click()
    lines = Path(info.value.path()).read_text().splitlines()
    assert lines[0] == "index,cluster,pseudo_label,true_label,cluster_name"
    assert any(line.endswith('"zeros, round"') for line in lines[1:])
    _goto(page, "Train")
    page.wait_for_selector("text=1 edit(s) of yours")
    _settled(page)  # a click while the page still reruns can be lost (one suite run timed out)
    page.locator(".st-key-train_next button").click()
    page.wait_for_selector("text=/1 iteration\\(s\\) done/", timeout=120_000)
    _settled(page)
    _goto(page, "Clusters")
    _settled(page)
    done = page.locator("li", has_text=re.compile(r"reject mini-cluster \d"))
    assert done.count() == 0  # trained on, cleared


# ---- a newcomer's own small files, in a fresh session, through every page


def _small_files(folder: Path) -> tuple[Path, Path]:
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    X = np.eye(3, 4)[y] * 5 + rng.normal(scale=0.3, size=(30, 4))
    rows = [",".join([*(f"{v:.3f}" for v in x), "abc"[c]]) for x, c in zip(X, y, strict=True)]
    csv_path = folder / "blobs.csv"
    csv_path.write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    zip_path = folder / "pets.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for i in range(4):
            group = ("cats", "dogs")[i % 2]
            png = io.BytesIO()
            Image.new("L", (8, 8), 40 if group == "cats" else 220).save(png, format="PNG")
            zf.writestr(f"pets/{group}/{i}.png", png.getvalue())
    return csv_path, zip_path


def _no_exception(page) -> None:
    _settled(page)
    assert page.locator("[data-testid=stException]").count() == 0, page.inner_text("body")


def _upload(page, path: Path) -> None:
    _goto(page, "Data")
    _settled(page)
    page.get_by_role("tab", name="Upload").click()
    for _ in range(3):  # a rerun still drawing the page may swallow the first try
        page.locator(".st-key-data_upload input[type=file]").set_input_files(str(path))
        try:
            page.wait_for_selector(".st-key-data_load_upload button", timeout=15_000)
            break
        except Exception:  # playwright's TimeoutError
            _settled(page)
    _settled(page)
    page.locator(".st-key-data_load_upload button").click()
    page.wait_for_selector(f"text=/Loaded {path.name}/")
    _settled(page)
    _no_exception(page)


def _train_and_visit_every_page(page, n: int, k: int, name: str) -> None:
    _goto(page, "Train")
    # k comes from the labels; under load the page may still be drawing the old value.
    page.wait_for_function(
        "k => document.querySelector('.st-key-train_k input')?.value === k", arg=str(k)
    )
    _settled(page)  # a click during a rerun can be lost under load
    page.locator(".st-key-train_start button").click()
    # The sidebar shows the run's state on every page: a late rerun of the page the upload
    # came from can take the browser back there under load.
    page.wait_for_selector("[data-testid=stSidebar] >> text=base trained", timeout=300_000)
    _goto(page, "Train")
    page.wait_for_selector("text=base ensemble trained")
    body = page.inner_text("body")
    assert "epoch 0/0" not in body
    _no_exception(page)
    for title in ("Graph", "Clusters", "History", "Data"):
        _goto(page, title)
        _no_exception(page)
        if title == "Graph":
            page.wait_for_selector(f"text=All {n:,} nodes drawn.")
            page.screenshot(path=str(ARTIFACTS / f"newcomer-{name}-graph.png"), full_page=True)


def test_a_newcomers_csv_and_image_zip_through_every_page(server, page, tmp_path):
    csv_path, zip_path = _small_files(tmp_path)
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:  # a new browser context: a fresh session of its own
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server)
        page.wait_for_selector("[data-testid=stSidebar] >> text=Device:")
        try:
            _upload(page, csv_path)
            text = page.inner_text("body")
            assert "labels from column 'label'" in text and "30 rows x 4 features" in text
            _train_and_visit_every_page(page, 30, 3, "csv")

            _upload(page, zip_path)  # the trained run is put aside, not lost
            assert "put aside, not lost" in page.inner_text("body")
            _goto(page, "Train")
            _no_exception(page)
            assert "base ensemble trained" not in page.inner_text("body")  # nothing stale
            _train_and_visit_every_page(page, 4, 2, "zip")
            restore = page.locator(".st-key-data_restore_previous button")
            restore.wait_for()  # the Data page draws it once its rerun is through (slow under load)
            assert restore.count() == 1
        finally:
            page.screenshot(path=str(ARTIFACTS / "newcomer-last.png"), full_page=True)
    finally:
        context.close()
