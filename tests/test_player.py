"""The kernel-free frame player (hqtrack_core.player): the HTML it writes, and scrubbing it in a real headless
Chromium (Debian's ``chromium`` driven by Playwright; skipped cleanly when either is absent): a saved page, the same
page with scripts disabled (an untrusted notebook), and a notebook converted to HTML by nbconvert, all offline.

``python tests/test_player.py figures/player_scrubbed.png`` writes the committed screenshot (the demo clip with its
ground truth, scrubbed to frame 25).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from hqtrack_core.player import frame_player, player_html, save_player

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]


def _frames(n: int = 6, h: int = 48, w: int = 64) -> list[np.ndarray]:
    return [np.broadcast_to(np.array(COLOURS[i % len(COLOURS)], np.uint8), (h, w, 3)).copy() for i in range(n)]


def test_player_html_embeds_each_frame_once():
    text = player_html(_frames(5), [f"frame {i}" for i in range(5)], title="five <frames>")
    assert len(re.findall(r'<img src="data:image/jpeg;base64,', text)) == 5
    assert "five &lt;frames&gt;" in text and "<script>" in text
    assert 'width="64"' in text and "overflow-x:auto" in text
    small = player_html(_frames(2, 100, 200), width=50)
    assert 'width="50" height="25"' in small
    assert frame_player(_frames(1))._repr_html_().startswith('<div id="hqtrack-player-')
    assert player_html(_frames(3)) == player_html(_frames(3))  # deterministic: stable notebook outputs
    assert player_html(_frames(3)) != player_html(_frames(3), fps=4)


@pytest.mark.parametrize("kwargs, match", [
    ({"images": []}, "at least one frame"),
    ({"images": _frames(2), "captions": ["a"]}, "1 captions for 2 frames"),
    ({"images": [np.zeros((4, 4), np.uint8)]}, r"\(H, W, 3\) uint8"),
    ({"images": [np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)]}, "one size"),
    ({"images": [np.zeros((4, 4, 3), np.float32)]}, "uint8"),
    ({"images": _frames(1), "fps": 0}, "fps"),
])
def test_player_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        player_html(**kwargs)


def test_image_slider_docstring_is_honest():
    from hqtrack_core.viz import image_slider

    assert "live kernel" in image_slider.__doc__ and "frame_player" in image_slider.__doc__


# --- a real browser ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make browser)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium on PATH (make browser, or apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _offline_page(browser, javascript: bool = True):
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 900, "height": 600})
    context.route(re.compile(r"^(?!file:|data:).*"), lambda route: route.abort())  # nothing from the network
    return context, context.new_page()


def _shown_colour(page, locator: str = "[data-role=strip]") -> np.ndarray:
    """Mean RGB of the strip's visible area, from a real screenshot."""
    import cv2

    png = page.locator(locator).first.screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    return image[4:-20, 4:-4].reshape(-1, 3).mean(axis=0)  # margins: the scrollbar of the no-script strip


def _closest(colour: np.ndarray) -> int:
    return int(np.argmin([np.abs(colour - np.array(c)).sum() for c in COLOURS]))


def test_player_scrubs_and_plays_in_chromium(browser, tmp_path):
    page_path = save_player(tmp_path / "player.html", _frames(6), [f"frame {i}" for i in range(6)], fps=25)
    context, page = _offline_page(browser)
    try:
        page.goto(page_path.as_uri())
        root = page.locator(".hqtrack-player")
        assert root.get_attribute("data-frame") == "0" and _closest(_shown_colour(page)) == 0
        page.locator("[data-role=slider]").fill("4")
        assert root.get_attribute("data-frame") == "4"
        assert _closest(_shown_colour(page)) == 4
        assert page.locator("[data-role=caption]").inner_text().startswith("5/6")
        page.screenshot(path=str(tmp_path / "scrubbed.png"))
        page.locator("[data-role=slider]").fill("0")
        page.locator("[data-role=play]").click()
        page.wait_for_function("document.querySelector('.hqtrack-player').getAttribute('data-frame') === '5'",
                               timeout=10_000)
        assert _closest(_shown_colour(page)) == 5
    finally:
        context.close()


def test_player_scrolls_without_javascript(browser, tmp_path):
    page_path = save_player(tmp_path / "player.html", _frames(6))
    context, page = _offline_page(browser, javascript=False)
    try:
        page.goto(page_path.as_uri())
        assert page.locator("[data-role=slider]").count() == 0  # no script ran: no dead controls
        assert _closest(_shown_colour(page)) == 0
        page.locator("[data-role=strip]").hover()
        for _ in range(2):
            page.mouse.wheel(64, 0)  # one frame width sideways per step
            page.wait_for_timeout(300)
        assert _closest(_shown_colour(page)) != 0
    finally:
        context.close()


def test_player_in_nbconvert_html_offline(browser, tmp_path):
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("frame_player(frames)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": player_html(_frames(6))})]
    notebook.cells.append(cell)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    page_path = tmp_path / "notebook.html"
    page_path.write_text(body, encoding="utf-8")
    context, page = _offline_page(browser)
    try:
        page.goto(page_path.as_uri(), wait_until="domcontentloaded")
        page.wait_for_selector("[data-role=slider]", timeout=10_000)
        page.locator("[data-role=slider]").fill("2")
        assert page.locator(".hqtrack-player").get_attribute("data-frame") == "2"
        assert _closest(_shown_colour(page)) == 2
    finally:
        context.close()


def write_screenshot(out: Path, frame: int = 25) -> Path:
    """The committed figure: the demo clip with its ground truth in the player, scrubbed to ``frame``."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from hqtrack_core.data.demo import load_clip
    from hqtrack_core.viz import overlay_labels

    clip = load_clip("demo")
    images = [overlay_labels(image, mask) for image, mask in zip(clip.images, clip.masks)]
    with tempfile.TemporaryDirectory() as tmp:
        page_path = save_player(Path(tmp) / "player.html", images, [f"frame {s}" for s, _ in clip.frames],
                                title=clip.source)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                  args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 460, "height": 330})
            page.goto(page_path.as_uri())
            page.locator("[data-role=slider]").fill(str(frame))
            page.locator(".hqtrack-player").screenshot(path=str(out))
            chromium.close()
    return out


if __name__ == "__main__":
    print(write_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "figures/player_scrubbed.png")))
