"""The volunteer's phone app: /me installable as a web app -- its manifest, icons (drawn once
with Pillow) and service worker, served from the app's root so that it may control /me."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify
from flask_babel import gettext
from PIL import Image, ImageDraw

bp = Blueprint("phone", __name__)

STATIC = Path(__file__).with_name("static")
ICON_SIZES = (192, 512)
THEME = "#1f3a5f"


@lru_cache(maxsize=4)
def icon_png(size: int) -> bytes:
    """The app's icon: a white map pin on the header's blue, full bleed (maskable)."""
    image = Image.new("RGB", (size, size), THEME)
    draw = ImageDraw.Draw(image)
    s = size / 192
    draw.ellipse([66 * s, 40 * s, 126 * s, 100 * s], fill="white")
    draw.polygon([(70 * s, 84 * s), (122 * s, 84 * s), (96 * s, 150 * s)], fill="white")
    draw.ellipse([84 * s, 58 * s, 108 * s, 82 * s], fill=THEME)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _icon(size: int) -> Any:
    return Response(icon_png(size), mimetype="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/icons/192.png")
def icon_small() -> Any:
    return _icon(192)


@bp.get("/icons/512.png")
def icon_large() -> Any:
    return _icon(512)


@bp.get("/manifest.webmanifest")
def manifest() -> Any:
    response = jsonify({
        "name": gettext("geo-patrol · My patrol"), "short_name": gettext("My patrol"),
        "start_url": "/me", "scope": "/", "display": "standalone",
        "background_color": "#f6f6f4", "theme_color": THEME,
        "icons": [{"src": f"/icons/{n}.png", "sizes": f"{n}x{n}", "type": "image/png",
                   "purpose": "any maskable"} for n in ICON_SIZES]})
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/sw.js")
def service_worker() -> Any:
    """The service worker, from the root so that its scope holds /me."""
    return Response((STATIC / "sw.js").read_bytes(), mimetype="text/javascript",
                    headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})
