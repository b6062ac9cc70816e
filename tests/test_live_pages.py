"""The live map as the district command watches it while phones report: it moves without a
reload, in Chinese and in English, with nothing loaded from outside."""

from __future__ import annotations

import re
import threading

import pytest

from tests.browsing import browser, map_frame, page, server, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

WORDS = {"zh": {"title": "实时巡逻", "patrolling": "巡逻中", "offline": "离线",
                "legend": "在线状态", "call": "召集最近的义警", "coverage": "今日覆盖"},
         "en": {"title": "Live patrol", "patrolling": "Patrolling", "offline": "Offline",
                "legend": "State", "call": "Call the nearest", "coverage": "Coverage today"}}


@pytest.fixture(scope="module")
def phones(demo_world, server):  # noqa: F811
    """``demo live`` sending the demo's busiest half hour to the running app's /osmand."""
    from geo_patrol.demo.replay import send
    from geo_patrol.services.demo import live_replay

    requests = live_replay(demo_world["engine"], speed=30.0, minutes=30)
    done: dict[str, object] = {}
    thread = threading.Thread(target=lambda: done.update(result=send(
        f"{server}/osmand", requests, concurrency=8)), daemon=True)
    thread.start()
    yield {"thread": thread, "done": done, "requests": requests}
    thread.join(120)


def _counts(frame_or_page) -> int:  # noqa: ANN001
    cells = frame_or_page.locator("#live-counts td")
    return sum(int(cells.nth(i).inner_text()) for i in range(cells.count()))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_live_map_moves_while_phones_report(page, server, phones, lang):  # noqa: F811
    w = WORDS[lang]
    sign_in(page, server, "b-command")
    page.goto(f"{server}/lang/{lang}?next=/live", wait_until="domcontentloaded")
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("h2").inner_text() == w["title"]
    header = page.locator("#live-counts th").all_inner_texts()
    assert w["patrolling"] in header and w["offline"] in header
    assert page.locator("#callout button[type=submit]").inner_text() == w["call"]
    # the panel fills from the feed, and the feed's time moves on without a reload
    page.wait_for_function("() => Number(document.querySelector('#live-counts td')"
                           ".textContent) > 0", timeout=60_000)
    first = page.locator("#live-panel").get_attribute("data-live-at")
    page.wait_for_function(
        "(t) => document.getElementById('live-panel').dataset.liveAt !== t", arg=first,
        timeout=30_000)
    assert _counts(page) > 0
    frame = map_frame(page, r".*/maps/live")
    frame.wait_for_function("() => document.querySelectorAll('.gp-live-group').length > 0",
                            timeout=30_000)
    assert w["legend"] in frame.locator(".gp-legend").inner_text()
    page.wait_for_function("() => document.querySelectorAll('#live-coverage tbody "
                           "tr:not(.empty)').length > 0", timeout=60_000)
    shot(page, f"live-{lang}")
    # close in on a volunteer: each is a marker of their state, with a trail
    frame.evaluate("() => { const m = window[document.querySelector('script[data-map]')"
                   ".dataset.map]; const v = window.gpLive.volunteers[0]; "
                   "m.setView([v.lat, v.lon], 16); }")
    frame.wait_for_function("() => document.querySelectorAll('path[class*=gp-live-]')"
                            ".length > 0", timeout=30_000)
    row = page.locator("#live-coverage tbody tr:not(.empty)").first.locator("td"
                                                                          ).all_inner_texts()
    assert float(row[3]) > 0  # a community patrolled today, with its share
    page.wait_for_timeout(300)
    shot(page, f"live-{lang}-close")
