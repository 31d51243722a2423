"""In headless Chromium: the Lessons page, the stepper's frames for slides, the user's k.

Uses ``test_browser``'s server (tiny training settings, over-clustering as in the default
preset) and page fixtures, in a server of its own; screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from test_browser import ARTIFACTS, _goto, _metric, _settled, _slide_to, page, server  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _no_exception(pg) -> None:
    _settled(pg)
    assert pg.locator("[data-testid=stException]").count() == 0, pg.inner_text("body")


def _pick_lesson(pg, title: str) -> None:
    pg.locator(".st-key-lesson_pick").click()  # a react-aria combobox
    pg.get_by_role("option", name=title).click()
    pg.wait_for_function(
        "t => document.querySelector('.st-key-lesson_pick input').value === t", arg=title
    )
    _settled(pg)


def test_lessons_open_without_training_and_respond_to_their_control(page):  # noqa: F811
    _goto(page, "Lessons")
    page.wait_for_selector("text=Look for:")
    _no_exception(page)
    page.wait_for_selector("[data-testid=stSidebar] >> text=not trained")
    assert _metric(page, "precision") == "99.6%"
    _slide_to(page, "lesson_t_pos", 2)  # t_pos 10 -> 2: impure mini-clusters
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMetric]')].some("
        "m => m.innerText.includes('precision') && m.innerText.includes('72.3%'))"
    )
    page.screenshot(path=str(ARTIFACTS / "lessons-t-pos.png"), full_page=True)

    _pick_lesson(page, "5. Pseudo-labels lift the members, iteration 0 to 5")
    assert _metric(page, "mean member ACC") == "82.4%"  # the lesson starts at iteration 0
    # The iteration slider moved from the expander to the top: wait for the old one to go.
    page.wait_for_function(
        "() => document.querySelectorAll('.st-key-lesson_iteration input[type=range]').length === 1"
    )
    _slide_to(page, "lesson_iteration", 5)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMetric]')].some("
        "m => m.innerText.includes('mean member ACC') && m.innerText.includes('88.2%'))"
    )
    _no_exception(page)
    assert page.locator(".st-key-lesson_members_acc .main-svg").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "lessons-iterations.png"), full_page=True)
    page.wait_for_selector("[data-testid=stSidebar] >> text=not trained")  # nothing trained


def test_stepper_frames_download_and_the_users_k(page):  # noqa: F811
    _goto(page, "Train")
    page.locator(".st-key-train_start button").click()
    page.wait_for_selector("text=base ensemble trained", timeout=300_000)
    _no_exception(page)
    _goto(page, "Graph")
    page.wait_for_selector(".st-key-graph_frames_gif button")
    _no_exception(page)
    body = page.inner_text("body")
    assert "k = 10 clusters. Each member has 20 fine clusters" in body
    assert "k=20" not in body and "n_fine=20" in body

    page.locator(".st-key-graph_frames_gif").scroll_into_view_if_needed()
    with page.expect_download(timeout=120_000) as info:
        page.locator(".st-key-graph_frames_gif button").click()
    assert info.value.suggested_filename.endswith(".gif")
    gif = Image.open(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert gif.format == "GIF" and gif.n_frames >= 2
    with page.expect_download(timeout=120_000) as info:
        page.locator(".st-key-graph_frames_zip button").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    names = archive.namelist()
    assert names[0] == "step-00.png" and len(names) == gif.n_frames
    frame = Image.open(io.BytesIO(archive.read(names[1])))
    frame.save(ARTIFACTS / "graph-frame-step-01.png")
    assert frame.size == (1280, 720)
    _no_exception(page)
    _goto(page, "Train")
    page.wait_for_selector("text=/k = 10 clusters. Next iterations use/")
    body = page.inner_text("body")
    assert "20 mini-clusters (one per fine cluster" in body and "k=20" not in body
