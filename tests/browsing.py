"""Real headless Chromium against the running app on loopback (fixtures shared by the browser
tests). Every request that leaves 127.0.0.1 is blocked and fails the test, as does any failed
sub-resource (a 404 included) or console error (a script the Content-Security-Policy blocked)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
LOCAL = {"127.0.0.1", "localhost"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_world):
    from waitress.server import create_server

    from web import create_app

    from tests.helpers import make_user

    make_user(demo_world["engine"], "b-command", "command")
    app = create_app({"GEO_PATROL_SETTINGS": demo_world["settings"]})
    srv = create_server(app, host="127.0.0.1", port=_free_port(), threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (scripts/setup.sh test installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page whose every non-local request is aborted and recorded."""
    with guarded_page(browser) as pg:
        yield pg


@contextlib.contextmanager
def guarded_page(browser, viewport: tuple[int, int] = (1280, 860), *,  # noqa: ANN001
                 locale: str = "zh-CN"):
    """A page of its own context (a phone's width, another user) whose every non-local
    request is aborted, and which fails on any failed request or console error."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  locale=locale)
    outside: list[str] = []

    def guard(route):  # noqa: ANN001
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("file:", "data:", "blob:", "about:")) or host in LOCAL:
            return route.continue_()
        outside.append(url)
        return route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.outside = outside  # type: ignore[attr-defined]
    broken: list[str] = []  # sub-resources that failed (404...) and console errors (CSP...)
    pg.on("response", lambda r: broken.append(f"{r.status} {r.url}")
          if r.status >= 400 and r.request.resource_type != "document" else None)
    pg.on("console", lambda m: broken.append(f"console: {m.text}")
          if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.on("pageerror", lambda e: broken.append(f"page error: {e}"))
    pg.broken = broken  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert outside == [], f"requests left the machine: {outside[:5]}"
    assert broken == [], f"failed requests or console errors: {broken[:5]}"


#: Screenshots are for people to look at: taken in a developer's run, or in CI when
#: ``GP_SHOTS=1`` asks for them (a full-page shot of a long map page takes seconds).
SHOTS = os.environ.get("GP_SHOTS", "0" if os.environ.get("CI") else "1") == "1"


def shot(pg, name: str) -> None:  # noqa: ANN001
    """A full-page screenshot in ``test-artifacts/`` (see :data:`SHOTS`), and each map the
    page shows alone (``{name}-map1.png``, ...: the README's, ``scripts/readme_shots.py``)."""
    if not SHOTS:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    maps = pg.locator("div.map iframe, div.folium-map")
    shown = [maps.nth(i) for i in range(maps.count()) if maps.nth(i).is_visible()]
    for i, one in enumerate(shown, start=1):
        one.screenshot(path=str(ARTIFACTS / f"{name}-map{i}.png"))


def sign_in(page, server: str, username: str) -> None:  # noqa: ANN001
    """Sign in through the login form, as a user would."""
    from tests.helpers import PASSWORD

    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    # signed in: the account is named in the header (behind the menu button on a phone)
    page.wait_for_selector("#whoami", state="attached", timeout=20_000)
    # and the page read to its end: the header's menu script has opened the bar on a desk
    page.wait_for_load_state("domcontentloaded")


def map_frame(pg, url: str, timeout_s: float = 30.0):  # noqa: ANN001, ANN201
    """The page's map frame whose address matches the pattern ``url``, once the frame is
    there (a card the live stream adds brings its map a moment later)."""
    import re
    import time

    pattern = re.compile(url)
    deadline = time.monotonic() + timeout_s
    while (frame := pg.frame(url=pattern)) is None:
        assert time.monotonic() < deadline, f"no map frame at {url} in {timeout_s} s"
        pg.wait_for_timeout(100)
    return frame


def settle(pg, timeout_s: float = 240.0) -> None:  # noqa: ANN001
    """Wait while the page shows the progress of a job (long work: it polls the job and
    reloads with the result once it is done)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout_s
    first = True  # the page as served: a job's box is in its HTML (only) when it has one
    while True:
        try:
            pg.wait_for_load_state("networkidle")
            if pg.locator("[data-job]").count() == 0:
                if first and pg.evaluate("document.readyState") == "complete":
                    return  # no job on the page: nothing will reload it
                pg.wait_for_timeout(300)  # a reload the finished job asked for starts
                pg.wait_for_load_state("networkidle")
                if pg.locator("[data-job]").count() == 0 and \
                        pg.evaluate("document.readyState") == "complete":
                    return
        except Error:  # the page reloading under the question
            pass
        first = False
        assert time.monotonic() < deadline, f"the job on {pg.url} did not finish"
        pg.wait_for_timeout(300)
