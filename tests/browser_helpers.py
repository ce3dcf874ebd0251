"""Look at a page the way a person does: Debian's headless Chromium driven by playwright.

Playwright never downloads a browser here; it drives ``/usr/bin/chromium`` (``.ci/run`` installs
it). A test fails, not skips, when the browser is missing.

    with browser_page() as page:
        errors = console_errors(page)
        page.goto(url, wait_until="networkidle")
        assert_no_horizontal_overflow(page)
        assert not errors
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1600, "height": 1000}


def chromium_path() -> str:
    """The system Chromium; AssertionError with the install command when it is missing."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    assert path, "browser tests need Debian's chromium: apt-get install -y chromium (see .ci/run)"
    return path


@contextlib.contextmanager
def browser_page(viewport: dict[str, int] = VIEWPORT) -> Iterator[Any]:
    """A fresh playwright page in headless Chromium at ``viewport`` (1600x1000 by default)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport=viewport)
            yield context.new_page()
        finally:
            browser.close()


def console_errors(page: Any) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return errors


#: The page's width as a person scrolls it: the document's, or the widest element's right edge.
#: Apps such as optuna-dashboard scroll inside an element (``overflow: auto``), where the document
#: stays at the viewport's width while the content is 5,000 px wide; the right edges catch that.
_WIDTH_JS = """() => Math.max(document.documentElement.scrollWidth,
    ...[...document.querySelectorAll('body *')].map(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 ? Math.ceil(r.right + window.scrollX) : 0; }))"""


def page_width(page: Any) -> int:
    return int(page.evaluate(_WIDTH_JS))


def assert_no_horizontal_overflow(page: Any, width: int = VIEWPORT["width"]) -> None:
    """The page is no wider than the viewport; names the widest elements when it is."""
    scroll = page_width(page)
    if scroll <= width:
        return
    culprits = page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
            .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w; })
            .slice(-5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`
                      + ` text=${(e.textContent || '').slice(0, 60)}`)""", width)
    raise AssertionError(f"page is {scroll}px wide (viewport {width}px); widest elements: {culprits}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 60.0, step: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError naming ``what`` after
    ``timeout`` seconds (a generous bound for a busy machine, not a guess at how long it takes)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


def save_screenshot(page: Any, path: Path, max_bytes: int = 150_000) -> Path:
    """A PNG of the viewport (not the full page) at ``path``, shrunk to stay under ``max_bytes``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)
    if path.stat().st_size > max_bytes:
        _shrink_png(path, max_bytes)
    return path


def _shrink_png(path: Path, max_bytes: int) -> None:
    """Halve-and-quantize a PNG (Pillow) until it fits in ``max_bytes``."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    scale = 1.0
    while True:
        w, h = int(image.width * scale), int(image.height * scale)
        small = image.resize((w, h), Image.LANCZOS).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)
        if path.stat().st_size <= max_bytes or scale < 0.3:
            return
        scale *= 0.8
