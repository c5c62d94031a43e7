"""End to end in a real headless Chromium: draw on the page, upload photos, read the answers.

Needs Debian's `chromium` and the pip package `playwright` (`pip install -e '.[browser]'`; no
`playwright install`: it downloads browsers). Skips, saying why, when either is missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import numpy as np
import pytest

from digitrec import load_model
from digitrec.serve import create_app
from digitrec.synth import photoize, photoize_number

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_COPY = "/tmp/digitrec-screenshot.png"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright cannot be imported (pip install playwright)", exc_type=ImportError)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def server_url(tiny_model):
    """The app on 127.0.0.1 at a free port, run by uvicorn in a thread for the module's tests."""
    import uvicorn

    app = create_app(load_model(tiny_model))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure means: no usable browser here
            pytest.skip(f"Chromium does not start under playwright: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


def _stroke(page, points, pause_ms=25):
    """Drag the mouse through `points` (pad pixels) with pauses, as a hand would."""
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
        page.wait_for_timeout(pause_ms)
    page.mouse.up()


def _line(start, end, n=12):
    """n points from start to end, (x, y) in pad pixels."""
    return [(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t) for t in np.linspace(0, 1, n)]


def _seen_ink(page) -> int:
    """Sum of the 28x28 'what the model saw' canvas: 0 when nothing was shown."""
    return page.evaluate("""() => {
        const data = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
        let sum = 0; for (let i = 0; i < data.length; i += 4) sum += data[i]; return sum; }""")


def test_draw_upload_and_screenshot(browser, server_url, small_mnist, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/api/predict") else None)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.goto(server_url)
    page.wait_for_function("document.getElementById('model-info').textContent.includes('cnn-baseline')")
    assert page.locator("#bars .bar").count() == 10

    # a photo of a digit
    photo = tmp_path / "photo.png"
    photoize(small_mnist["test"].images[0], np.random.default_rng(0)).save(photo)
    page.set_input_files("#file", str(photo))
    page.wait_for_function("document.querySelector('#upload-result .label')?.textContent.length === 1")
    assert page.inner_text("#label") == page.inner_text("#upload-result .label")
    assert _seen_ink(page) > 0

    # a photo of a number, read whole
    number = tmp_path / "number.png"
    photoize_number(list(small_mnist["test"].images[[1, 2, 3]]), np.random.default_rng(1), touch=0.0).save(number)
    page.check("#as-number")
    page.set_input_files("#file", str(number))
    page.wait_for_function("document.querySelectorAll('#upload-result .digits figure').length === 3")
    assert len(page.inner_text("#upload-result .label")) == 3

    # draw a 7 in one stroke; the prediction updates while drawing and on pointer up
    page.click("#clear")
    assert page.inner_text("#label") == "–" and _seen_ink(page) == 0
    requests.clear()
    _stroke(page, _line((70, 60), (215, 60)) + _line((215, 60), (120, 240), 16)[1:])
    page.wait_for_function("document.getElementById('label').textContent !== '–'")
    moves = 12 + 15
    assert 1 <= len(requests) < moves, requests  # throttled: fewer requests than pointer moves
    page.wait_for_timeout(300)  # let a last in-flight answer land
    label = page.inner_text("#label")
    assert label in "0123456789" and "% sure" in page.inner_text("#confidence")
    assert _seen_ink(page) > 0 and not errors, errors

    shot = tmp_path / "digitrec-page.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    assert shot.stat().st_size > 10_000
    page.close()
