"""In a real Chromium: a first look at the clusters while the base ensemble trains.

The Train page starts a base phase of 120 tiny epochs (about half a minute) in the worker
thread; its progress panel shows the first preview, the Clusters page draws it and, polling,
offers each newer preview and then the trained base ensemble. Its own server and browser
(the fixtures of ``test_browser.py``); screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest
from test_browser import ARTIFACTS, _goto, _settled, page, server  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _caption(pg) -> str:
    """The Clusters page's caption: what it shows, and the mini-clusters' thresholds."""
    box = pg.locator("[data-testid=stCaptionContainer]", has_text="mini-clusters with t_pos")
    return box.first.inner_text()


def _epochs(text: str) -> float:
    """The epochs a preview's caption or button names."""
    return float(re.search(r"review after ([\d.]+) of", text).group(1))


def test_previews_while_the_base_trains_then_the_base(page):  # noqa: F811
    _goto(page, "Train")
    page.locator("[data-testid=stExpander]", has_text="Advanced parameters").click()
    epochs = page.locator(".st-key-train_epochs_base input")
    epochs.fill("120")
    epochs.press("Enter")  # submits the form: the training starts
    page.wait_for_selector("text=/epoch \\d+\\/120/", timeout=60_000)
    # The first preview (after 2 epochs) can be replaced before a loaded machine draws it.
    page.wait_for_selector("text=/Preview after [\\d.]+ of 120 epochs/", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "preview-train.png"))

    _goto(page, "Clusters")
    page.wait_for_selector("text=/Preview after [\\d.]+ of 120 epochs/")
    first = _caption(page)
    assert re.match(r"Preview after [\d.]+ of 120 epochs \(ACC \d", first), first
    # Drawn below the caption, later in the same script run: wait for it, don't count at once.
    page.locator("text=Curation opens once the base ensemble is trained").first.wait_for(
        timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "preview-clusters.png"), full_page=True)
    # The page polls: a newer preview is offered, and shown on a click.
    newer = page.locator(".st-key-clusters_preview_newer button")
    newer.wait_for(timeout=120_000)
    label = newer.inner_text()
    newer.click()
    if label.startswith("Show the preview"):
        # The page draws the newest preview on its rerun: the one the button named, or one
        # that arrived between the click and the rerun.
        named = _epochs(label)
        page.wait_for_function(
            """([old, at_least]) => [...document.querySelectorAll(
                   '[data-testid=stCaptionContainer]')].some(e => {
                 const m = e.innerText.match(/^Preview after ([\\d.]+) of 120/);
                 return m && e.innerText !== old && Number(m[1]) >= at_least;
               })""",
            arg=[first, named],
            timeout=60_000,
        )
        assert _epochs(_caption(page)) >= named
    page.wait_for_selector("text=Show the base ensemble", timeout=300_000)
    page.locator(".st-key-clusters_preview_newer button").click()
    page.wait_for_selector("[data-testid=stCaptionContainer] >> text=/^Base ensemble; /")
    _settled(page)
    assert page.locator("text=/Preview after/").count() == 0
