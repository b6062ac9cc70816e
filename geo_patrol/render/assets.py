"""Front-end assets (Leaflet and plugins) from the npm registry, served or inlined locally.

``scripts/setup.sh`` runs ``npm ci`` in ``web/``; nothing is ever loaded from a CDN: every
folium element used here has its resource links replaced by ``/vendor/...`` URLs, and
exported briefings inline those files.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from geo_patrol.errors import MissingDependencyError

#: name -> path inside ``node_modules``
ASSETS = {
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "vectorgrid.js": "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
    # the base map: vector tiles drawn with their labels placed
    "protomaps-leaflet.js": "protomaps-leaflet/dist/protomaps-leaflet.js",
    # the day fields' calendar, in the page's language (web/static/fields.js)
    "flatpickr.js": "flatpickr/dist/flatpickr.min.js",
    "flatpickr.css": "flatpickr/dist/flatpickr.min.css",
    "flatpickr-zh.js": "flatpickr/dist/l10n/zh.js",
    # what leaflet.css refers to (the layer control's icon, default markers)
    **{f"images/{n}": f"leaflet/dist/images/{n}" for n in (
        "layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png",
        "marker-shadow.png")},
}
VENDOR_PREFIX = "/vendor/"


#: ``node_modules`` of the web assets unless ``Settings.asset_dir`` says otherwise.
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "web" / "node_modules"
_root = DEFAULT_ROOT


def set_asset_root(root: str | Path | None) -> None:
    """Use the assets in ``root`` (``None``: the default ``web/node_modules``)."""
    global _root
    _root = Path(root) if root else DEFAULT_ROOT


def asset_root() -> Path:
    """``node_modules`` of the web assets."""
    return _root


def asset_path(name: str) -> Path:
    """The file of a known asset; a clear error when ``npm ci`` has not been run."""
    if name not in ASSETS:
        raise KeyError(name)
    path = asset_root() / ASSETS[name]
    if not path.is_file():
        msg = (f"front-end asset {ASSETS[name]} is missing: run `npm ci --prefix web` "
               "(scripts/setup.sh does)")
        raise MissingDependencyError(msg)
    return path


def localise(element: object, *, vectorgrid: bool = False) -> None:
    """Point a folium element's resource links at the local ``/vendor/`` copies."""
    element.default_js = [("leaflet", VENDOR_PREFIX + "leaflet.js")]  # type: ignore[attr-defined]
    element.default_css = [("leaflet_css", VENDOR_PREFIX + "leaflet.css")]  # type: ignore[attr-defined]
    if vectorgrid:
        element.default_js = [("vectorgrid", VENDOR_PREFIX + "vectorgrid.js")]  # type: ignore[attr-defined]
        element.default_css = []  # type: ignore[attr-defined]


_SCRIPT = re.compile(r'<script src="/vendor/([^"]+)"></script>')
_CSS = re.compile(r'<link rel="stylesheet" href="/vendor/([^"]+)"/>')
_URL = re.compile(r"url\((images/[^)]+)\)")


def _css_with_images(name: str) -> str:
    css = asset_path(name).read_text(encoding="utf-8")
    base = asset_path(name).parent

    def data_uri(m: re.Match[str]) -> str:
        img = base / m.group(1)
        if not img.is_file():
            return "url()"
        mime = "image/svg+xml" if img.suffix == ".svg" else f"image/{img.suffix[1:]}"
        return f"url(data:{mime};base64,{base64.b64encode(img.read_bytes()).decode()})"

    return _URL.sub(data_uri, css)


def inline_assets(html: str) -> str:
    """Replace every ``/vendor/`` link by the file's content (for one self-contained file)."""
    html = _SCRIPT.sub(lambda m: "<script>" + asset_path(m.group(1)).read_text(
        encoding="utf-8").replace("</script", "<\\/script") + "</script>", html)
    html = _CSS.sub(lambda m: "<style>" + _css_with_images(m.group(1)) + "</style>", html)
    return html


def external_references(html: str) -> list[str]:
    """URLs in ``html`` that would be fetched from outside (for checks and tests)."""
    return re.findall(r'\bsrc="(https?://[^"]+)"', html) + \
        re.findall(r'<link[^>]+href="(https?://[^"]+)"', html) + \
        re.findall(r"url\(['\"]?(https?://[^)'\"]+)", html)
