"""PNG images of figures, through kaleido (plotly's exporter), which drives a headless Chrome.

kaleido 1.x finds the browser with choreographer: ``$BROWSER_PATH`` if set, else ``chromium``,
``google-chrome``, ... on ``$PATH`` (Debian's ``chromium`` package is found as is). It never
downloads one here, and loads plotly.js from the plotly package, MathJax not at all (kaleido's
default fetches it from a CDN). Starting the browser is the slow part (seconds on a loaded machine), so
:func:`start` launches it in the background while the caller reads the study and builds figures;
:func:`write_pngs` then renders every figure in that one browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalesearch.search.results import figure_style as style

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def browser() -> str | None:
    """The Chrome/Chromium kaleido will use, or None."""
    given = os.environ.get("BROWSER_PATH")
    if given:
        return given if Path(given).exists() else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def why_not() -> str | None:
    """Why PNG images cannot be written here (one line), or None when they can."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "PNG images need the kaleido package (pip install kaleido)"
    if browser() is None:
        return ("PNG images need Chrome or Chromium (e.g. apt-get install chromium), or BROWSER_PATH "
                "set to one; kaleido found none")
    return None


def start() -> bool:
    """Launch the shared headless browser in the background; False when PNGs are impossible."""
    if why_not() is not None:
        return False
    import kaleido

    # No MathJax: kaleido would fetch it from a CDN (offline here, and the figures use no TeX).
    kaleido.start_sync_server(mathjax=False, silence_warnings=True)
    return True


def stop() -> None:
    import kaleido

    kaleido.stop_sync_server(silence_warnings=True)


def write_pngs(figures: Mapping[str, Any], out_dir: Path, width: int = style.WIDTH) -> list[Path]:
    """``<key>.png`` for each figure (plotly's plain data), ``width`` CSS pixels wide at 2x."""
    import plotly.io as pio

    paths = [out_dir / f"{key}.png" for key in figures]
    heights = [int(fig["layout"].get("height", style.HEIGHT)) for fig in figures.values()]
    pio.write_images(list(figures.values()), paths, format="png", width=width, height=heights, scale=2,
                     validate=False)
    return paths
