"""What a person reads on long pages and on small screens, in a real browser: the dashboard's
ranking of communities and the reward ledger beside the reports come a page at a time (in
their own order, the page's other choices kept); a call-out on /live is headed by what
happened, where and when, not by its number; the place search boxes show a whole hint on a
desk and on a phone; a map names its area in its top-left corner, whole or cut with an
ellipsis and whole in its title. In Chinese and in English."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlparse

import pytest
import sqlalchemy as sa

from tests.browsing import browser, guarded_page, map_frame, server, settle, shot, sign_in  # noqa: F401
from tests.helpers import make_user

pytestmark = pytest.mark.browser

WORDS = {
    "zh": {"rows": "第 {a}–{b} 行，共 {n} 行", "page": "第 {n} 页，共 {m} 页", "kind": "警情联动",
           "dispute": "矛盾纠纷", "han": True},
    "en": {"rows": "Rows {a}–{b} of {n}", "page": "Page {n} of {m}", "kind": "Call-out",
           "dispute": "Dispute", "han": False},
}
#: Rows on a page of the dashboard's ranking and of the reward ledger.
PAGE = 20
#: Volunteers given a verified report with a reward of their own (more than a page).
REWARDED = 27
SITE = (109.8430, 40.6503)


@pytest.fixture(scope="module")
def world(demo_world, server):  # noqa: F811
    """The district with the most communities in the demo's run; verified reports with
    distinct rewards from more volunteers than a page holds; a volunteer's account."""
    engine, run = demo_world["engine"], demo_world["run"].run_id
    with engine.begin() as conn:
        district, communities = conn.execute(sa.text(
            "SELECT d.id, count(*) FROM areas d JOIN areas c ON c.level = 'community' "
            "AND c.id IN (SELECT area_subtree(d.id)) "
            "JOIN area_results r ON r.area_id = c.id AND r.run_id = :run "
            "WHERE d.level = 'district' GROUP BY d.id ORDER BY count(*) DESC, d.id LIMIT 1"),
            {"run": run}).one()
        volunteers = conn.execute(sa.text(
            "SELECT id FROM volunteers ORDER BY number LIMIT :n"), {"n": REWARDED}
        ).scalars().all()
        reports = conn.execute(sa.text("SELECT id FROM reports ORDER BY id LIMIT :n"),
                               {"n": REWARDED}).scalars().all()
        assert len(reports) == REWARDED == len(volunteers)
        for i, (report, volunteer) in enumerate(zip(reports, volunteers)):
            conn.execute(sa.text(
                "UPDATE reports SET volunteer_id = :v, verification = 'verified', "
                "reward = :r WHERE id = :id"),
                {"v": volunteer, "r": 1000 + 10 * i, "id": report})
        ledger = conn.execute(sa.text(
            "SELECT count(DISTINCT volunteer_id) FROM reports WHERE verification = 'verified'"
        )).scalar_one()
        number = conn.execute(sa.text(
            "SELECT number FROM volunteers ORDER BY number DESC LIMIT 1")).scalar_one()
    assert communities > PAGE, communities  # the ranking has a second page
    make_user(engine, "l-volunteer", "volunteer", volunteer=number)
    return {"run": run, "district": district, "communities": communities, "ledger": ledger}


def _in(page, server: str, lang: str, path: str) -> None:  # noqa: ANN001, F811
    page.goto(f"{server}/lang/{lang}?next={quote(path, safe='/')}", wait_until="networkidle")
    settle(page)


def _asked(page) -> dict[str, str]:  # noqa: ANN001
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _cells(page, table: str) -> list[list[str]]:  # noqa: ANN001
    return page.locator(f"#{table} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboards_ranking_comes_a_page_at_a_time(browser, server, world,  # noqa: F811
                                                        lang):
    w, n = WORDS[lang], world["communities"]
    pages = -(-n // PAGE)
    with guarded_page(browser, (1440, 900)) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, f"/dashboard?run={world['run']}&district={world['district']}")
        seen: list[list[str]] = []
        for k in range(1, pages + 1):
            rows = _cells(page, "ranking")
            assert len(rows) == min(PAGE, n - (k - 1) * PAGE), (k, rows)
            count = page.locator("#ranking-pager .count").inner_text()
            assert count == w["rows"].format(a=(k - 1) * PAGE + 1, b=(k - 1) * PAGE + len(rows),
                                             n=n)
            assert page.locator("#ranking-pager .at").inner_text() == \
                w["page"].format(n=k, m=pages)
            if k == 1:
                shot(page, f"dashboard-ranking-{lang}")
            seen += rows
            if k < pages:
                page.locator("#ranking-pager a[rel=next]").click()
                page.wait_for_load_state("networkidle")
                asked = _asked(page)  # the page's other choices kept
                assert asked["ranking_page"] == str(k + 1)
                assert asked["run"] == str(world["run"])
                assert asked["district"] == str(world["district"])
        assert page.locator("#ranking-pager a[rel=next]").count() == 0  # the last page
        shot(page, f"dashboard-ranking-last-{lang}")
        names = [r[0] for r in seen]
        assert len(names) == n == len(set(names))  # every community once
        coverage = [float(r[1].rstrip("%")) for r in seen]
        assert coverage == sorted(coverage)  # lowest coverage first, across the pages
        # the street reports' own pager keeps the ranking's page
        if page.locator("#report-figures-pager a[rel=next]").count():
            page.locator("#report-figures-pager a[rel=next]").click()
            page.wait_for_load_state("networkidle")
            assert _asked(page)["ranking_page"] == str(pages)
            assert [r[0] for r in _cells(page, "ranking")] == names[(pages - 1) * PAGE:]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_reward_ledger_comes_a_page_at_a_time(browser, server, world, lang):  # noqa: F811
    w, n = WORDS[lang], world["ledger"]
    pages = -(-n // PAGE)
    assert pages > 1
    with guarded_page(browser, (1440, 900)) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/reports?verification=verified&sort=-id")
        queue = _cells(page, "reports")
        rows = _cells(page, "ledger")
        assert len(rows) == PAGE
        assert page.locator("#ledger-pager .count").inner_text() == \
            w["rows"].format(a=1, b=PAGE, n=n)
        shot(page, f"reports-ledger-{lang}")
        page.locator("#ledger-pager a[rel=next]").click()
        page.wait_for_load_state("networkidle")
        asked = _asked(page)
        assert asked == {"verification": "verified", "sort": "-id", "ledger_page": "2"}
        assert _cells(page, "reports") == queue  # the queue as it was: its filter and order
        second = _cells(page, "ledger")
        assert page.locator("#ledger-pager .at").inner_text() == w["page"].format(n=2, m=pages)
        numbers = [r[0] for r in rows + second]
        assert len(numbers) == len(set(numbers))
        points = [int(re.sub(r"\D", "", r[3])) for r in rows + second]
        assert points == sorted(points, reverse=True) and points[0] == 1000 + 10 * (REWARDED - 1)
        shot(page, f"reports-ledger-2-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_call_out_is_headed_by_what_where_and_when(browser, server, demo_world,  # noqa: F811
                                                     world, lang):
    from geo_patrol import clock
    from geo_patrol.services.callouts import call_out
    from geo_patrol.store.accounts import principal_named

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        command = principal_named(conn, "b-command")
    callout_id = call_out(engine, settings, command, lon=SITE[0], lat=SITE[1],
                          category="dispute", note=None, count=1)
    with engine.connect() as conn:
        created = conn.execute(sa.text("SELECT created_at FROM callouts WHERE id = :i"),
                               {"i": callout_id}).scalar_one()
    when = clock.local_text(created, settings.timezone, "short")
    w = WORDS[lang]
    with guarded_page(browser, (1440, 900)) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, f"/live?callout={callout_id}")
        heading = page.locator("#callout-result").inner_text()
        place = page.locator(f"#callouts tr[data-callout='{callout_id}'] td").nth(2).inner_text()
        assert place and place in heading, (heading, place)
        assert heading.startswith(w["dispute"]) and heading.endswith(when), heading
        assert heading.count(w["dispute"]) == 1 and w["kind"] not in heading, heading
        assert str(callout_id) not in heading.replace(when, ""), heading  # no number
        # the place written as the page's language writes it (the cross streets in brackets)
        assert ("（" in place) == (lang == "zh") and ("(" in place) == (lang == "en"), place
        shot(page, f"live-callout-heading-{lang}")
    with guarded_page(browser, (360, 740)) as page:  # on a phone the time stays whole
        sign_in(page, server, "b-command")
        _in(page, server, lang, f"/live?callout={callout_id}")
        time_box = page.locator("#callout-result .nowrap")
        assert time_box.inner_text() == when
        assert time_box.evaluate("e => e.getClientRects().length") == 1


#: Whether a box shows its hint whole: the hint laid out as typed text (the box's clear
#: button beside it) fits the box's width; with the hint and the box's title.
_WHOLE = """input => {
  const hint = input.placeholder;
  input.value = hint;
  const whole = input.scrollWidth <= input.clientWidth;
  input.value = '';
  return [whole, hint, input.title, input.getBoundingClientRect().right,
          document.documentElement.clientWidth];
}"""


def _shows_whole(box, lang: str, full: str | None = None) -> str:  # noqa: ANN001
    whole, hint, title, right, width = box.evaluate(_WHOLE)
    assert hint and whole, (hint, title)
    assert bool(re.search(r"[\u4e00-\u9fff]", hint)) == WORDS[lang]["han"], hint
    assert right <= width, (right, width)  # inside the screen
    if full is not None:
        assert title == full and (hint == full or len(hint) < len(full)), (hint, title)
    return hint


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_place_search_boxes_show_a_whole_hint(browser, server, world, lang):  # noqa: F811
    full = {"zh": "查找地点：街道、路口、社区或隐患点",
            "en": "Find the place: a street, crossing, community or hazard"}[lang]
    hints = {}
    for width in (1440, 360):
        with guarded_page(browser, (width, 900)) as page:
            sign_in(page, server, "b-command")
            _in(page, server, lang, "/live")
            hints[width] = _shows_whole(page.locator("#callout .picker-query"), lang, full)
            page.locator("#callout .picker-query").scroll_into_view_if_needed()
            shot(page, f"live-place-search-{width}-{lang}")
            _in(page, server, lang, f"/dashboard?run={world['run']}")
            frame = page.frame_locator("#district-map")
            box = frame.locator("input.gp-search-input")
            box.wait_for(timeout=30_000)
            _shows_whole(box, lang)
            assert len(box.get_attribute("title")) > len(box.get_attribute("placeholder"))
    assert len(hints[360]) <= len(hints[1440])
    # a volunteer's report form on a phone
    with guarded_page(browser, (360, 780)) as page:
        sign_in(page, server, "l-volunteer")
        _in(page, server, lang, "/me")
        box = page.locator("#report-map-place .picker-query")
        _shows_whole(box, lang, full)
        box.scroll_into_view_if_needed()
        shot(page, f"me-place-search-{lang}")


#: The map's title box: its name, whether its text is cut, its lines, and whether it meets
#: another control of the map (the zoom buttons, the layers button, the search box).
_TITLE = """() => {
  const box = document.querySelector('.gp-map-title');
  const text = box.querySelector('.gp-map-title-text');
  const r = box.getBoundingClientRect();
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom &&
                          b.top < a.bottom;
  const others = [...document.querySelectorAll('.leaflet-control')]
    .filter(e => e !== box && e.getBoundingClientRect().width > 0)
    .filter(e => meets(e.getBoundingClientRect(), r)).map(e => e.className);
  const line = parseFloat(getComputedStyle(text).lineHeight);
  const whole = text.cloneNode(true);  // the name laid out in full, unclamped
  whole.style.cssText = 'display:block;overflow-wrap:anywhere;visibility:hidden';
  box.appendChild(whole);
  const needed = whole.getBoundingClientRect().height;
  whole.remove();
  return {title: box.title, text: text.textContent, cut: needed > text.clientHeight + 1,
          lines: Math.round(text.clientHeight / line), others: others,
          inside: r.left >= 0 && r.right <= document.documentElement.clientWidth && r.top >= 0};
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_map_names_its_district_whole_or_cut_gracefully(browser, server, demo_world,  # noqa: F811
                                                          world, lang):
    engine, district = demo_world["engine"], world["district"]
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                            {"d": district}).scalar_one()
    long = "达尔罕茂明安联合旗百灵庙镇新型工业园区管理委员会辖区第一网格联防片区"  # 36
    path = f"/dashboard?run={world['run']}&district={district}"
    try:
        for width in (1440, 360):
            with guarded_page(browser, (width, 900)) as page:
                sign_in(page, server, "b-command")
                for shown in (name, long):
                    with engine.begin() as conn:
                        conn.execute(sa.text("UPDATE areas SET name = :n WHERE id = :d"),
                                     {"n": shown, "d": district})
                    _in(page, server, lang, path)
                    frame = map_frame(page, rf".*/maps/district/{district}\b.*")
                    frame.wait_for_selector(".gp-map-title")
                    got = frame.evaluate(_TITLE)
                    assert got["title"] == got["text"] == shown, got  # the whole name
                    assert got["others"] == [] and got["inside"], got
                    assert 1 <= got["lines"] <= 2, got
                    # a short name whole on one line; the long one whole on a desk's map,
                    # on two lines cut with an ellipsis on a phone's
                    assert got["cut"] == (shown == long and width == 360), got
                    assert got["lines"] == (2 if got["cut"] else 1), got
                    shot(page, f"dashboard-map-title-{'long' if shown == long else 'name'}"
                               f"-{width}-{lang}")
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE areas SET name = :n WHERE id = :d"),
                         {"n": name, "d": district})
