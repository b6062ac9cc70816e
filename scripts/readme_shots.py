"""The README's map screenshots, in Chinese and English, from the browser tests' own shots.

    .venv/bin/python -m pytest tests/test_pages.py tests/test_basemap_browser.py \
        tests/test_sites_browser.py tests/test_dispatch_browser.py tests/test_evidence.py -n 0
    .venv/bin/python scripts/readme_shots.py

The browser tests write a full-page screenshot of each page they look at to
``test-artifacts/`` (``GP_SHOTS``), and each map on it alone; this takes each map (or a
phone's first screen), makes it small (a palette PNG) and writes it to
``docs/screenshots/maps/{map}-{lang}.png``, then prints the README's table. A shot missing
is named, and nothing is written for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageChops

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
OUT = REPO / "docs" / "screenshots" / "maps"
LANGS = ("zh", "en")
#: Each map: its file name, what the README calls it, the test's shot (``{lang}`` filled in)
#: and which of the page's maps is shown ("first", "last"; ``None``: the page's first screen).
MAPS = (
    ("dashboard", "District dashboard", "dashboard-{lang}", "first"),
    ("community", "A community: named streets, gaps named by place",
     "basemap-community-{lang}", "first"),
    ("live", "Live: a call-out's incident, lines to those called", "callout-{lang}", "first"),
    ("planner", "Planner: patrol zones", "planner-{lang}", "last"),
    ("rota", "The week's rota", "rota-{lang}", "last"),
    ("crime", "Crime: hot spots and density", "crime-{lang}", "first"),
    ("campaign", "Campaign: its units by their state, named by place", "campaigns-{lang}",
     "first"),
    ("evidence", "Evidence: the dose at the hot spots", "evidence-{lang}", "first"),
    ("phone-task", "Phone: a task's site", "task-map-{lang}", None),
    ("phone-callout", "Phone: a call-out", "me-callout-{lang}", None),
    ("briefing", "The exported briefing, opened from disk", "briefing-{lang}", "first"),
)
#: The first screen kept of a page (a desk's 1280 x 860 window; a phone's 360 x 740) and the
#: width a page or a map is shown at.
DESK, PHONE = ((1280, 860), 440), ((360, 740), 150)


def source_of(shot: str, which: str | None) -> Path:
    """The test's shot of the page (``which`` is ``None``) or of one of its maps."""
    if which is None:
        return ARTIFACTS / f"{shot}.png"
    maps = sorted(ARTIFACTS.glob(f"{shot}-map[0-9]*.png"),
                  key=lambda p: int(p.stem.rsplit("map", 1)[1]))
    return (maps[0] if which == "first" else maps[-1]) if maps else \
        ARTIFACTS / f"{shot}-map1.png"


def small(source: Path, target: Path) -> None:
    """``source`` (a page's first screen, or a map alone) scaled down, as a palette PNG at
    ``target``."""
    with Image.open(source) as im:
        (width, height), shown = PHONE if im.width <= 400 else DESK
        rgb = im.convert("RGB")
        if source.stem.rsplit("-", 1)[-1].startswith("map"):  # a map alone, less the page
            # below it (the colour of its last row)
            below = Image.new("RGB", rgb.size, rgb.getpixel((0, rgb.height - 1)))
            box = ImageChops.difference(rgb, below).getbbox()
            width, height = rgb.width, box[3] if box else rgb.height
        first = rgb.crop((0, 0, min(rgb.width, width), min(rgb.height, height)))
        scaled = first.resize((shown, round(first.height * shown / first.width)),
                              Image.Resampling.LANCZOS)
        scaled.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    missing = []
    rows = ["| map | 中文 | English |", "|---|---|---|"]
    for key, title, pattern, which in MAPS:
        cells = []
        for lang in LANGS:
            source = source_of(pattern.format(lang=lang), which)
            target = OUT / f"{key}-{lang}.png"
            if source.exists():
                small(source, target)
            elif not target.exists():
                missing.append(source.name)
            cells.append(f"![{key}, {lang}](docs/screenshots/maps/{key}-{lang}.png)")
        rows.append(f"| {title} | {cells[0]} | {cells[1]} |")
    print("\n".join(rows))
    if missing:
        print("missing (run the browser tests first): " + ", ".join(missing), file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
