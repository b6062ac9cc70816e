"""The command finds the worst community from the dashboard's ranking and exports its
briefing, in Chinese and in English, on a desk (1440 px) and on a phone (360 px): the names
and figures a person reads on the way agree with the stored results."""

from __future__ import annotations

import pytest

from tests.browsing import browser, page, server, settle, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

WORDS = {"zh": {"coverage": "覆盖率", "briefing": "简报", "lowest": "覆盖率低的在前",
                "before": "上期尚未分析", "district": "本期巡逻覆盖的街道比例"},
         "en": {"coverage": "Coverage", "briefing": "briefing", "lowest": "lowest coverage first",
                "before": "the period before has not been analysed",
                "district": "patrolled in the period"}}


def _expected(demo_world) -> tuple[dict, dict]:
    """The dashboard's district (most streets patrolled) and its worst community, read from
    the stored results as the dashboard reads them."""
    from geo_patrol.services import results

    run = demo_world["run"].run_id
    with demo_world["engine"].connect() as conn:
        districts = results.area_table(conn, run, level="district")
        district = districts.sort_values("covered_m").iloc[-1].to_dict()
        inside = results.area_layer(conn, run, level="community",
                                    parent_id=int(district["area_id"]))["area_id"]
        communities = results.area_table(conn, run, level="community")
        worst = communities[communities["area_id"].isin(inside)].iloc[0].to_dict()
    return district, worst


@pytest.mark.parametrize(("lang", "width"), [("zh", 1440), ("en", 1440), ("zh", 360),
                                              ("en", 360)])
def test_command_finds_the_worst_community_and_exports_its_briefing(
        page, server, demo_world, tmp_path, lang, width):  # noqa: F811
    district, worst = _expected(demo_world)
    w = WORDS[lang]
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, server, "b-command")
    if lang == "en":
        if page.locator("#menu-button").is_visible():  # a phone: the links wait behind it
            page.click("#menu-button")
        page.click("header >> text=English")
        page.wait_for_selector("#whoami", state="attached")
    page.goto(f"{server}/dashboard", wait_until="networkidle")
    settle(page)  # the tiles' jobs done (the page reloads with their results)
    # the headline: the district's coverage, as stored, and what it is compared with
    figure = page.locator("#fig-coverage")
    assert figure.locator(".value").inner_text() == f"{100 * district['coverage']:.1f}%"
    assert district["name"] in figure.inner_text() and w["district"] in figure.inner_text()
    assert w["before"] in page.locator("#fig-change").inner_text()
    overdue = int(district["hazards_overdue"]) + int(district["hazards_never"])
    assert page.locator("#fig-overdue .value").inner_text() == str(overdue)
    assert page.locator("#fig-gaps .value").inner_text() == str(int(district["gaps"]))
    assert page.locator("#fig-volunteers .value").inner_text() == \
        str(int(district["active_volunteers"]))
    # the ranking says how it is ordered; its first row is the worst community
    ranking = page.locator("#ranking")
    assert w["lowest"] in ranking.locator("caption").inner_text()
    first = ranking.locator("tbody tr").first
    cells = first.locator("td").all_inner_texts()
    coverage = f"{100 * (worst['coverage'] or 0):.1f}%"
    assert cells[0] == worst["name"] and cells[1] == coverage
    # numbers right-aligned, names left
    align = first.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c).textAlign)")
    assert align[0] in ("left", "start") and align[1:] == ["right"] * 4
    # the chart has its axes named
    trend = page.locator("svg.trend")
    assert trend.locator(".y-tick").count() == 3 and trend.locator(".y-name").count() == 1
    shot(page, f"worst-dashboard-{lang}-{width}")
    first.locator("a").click()
    page.wait_for_url("**/community/**")
    heading = page.locator("h2").first.inner_text()
    assert worst["name"] in heading and w["coverage"] in heading and coverage in heading
    legend = page.frame_locator("#community-map").locator(".gp-legend")
    legend.wait_for(timeout=30_000)
    if width < 600:  # a phone: the legend is closed until tapped
        assert legend.get_attribute("open") is None
        legend.locator("summary").click()
    assert "100%" in legend.inner_text()  # the coverage fill is in the legend
    shot(page, f"worst-community-{lang}-{width}")
    with page.expect_download() as download:
        page.click("#briefing")
    saved = tmp_path / f"briefing-{lang}-{width}.html"
    download.value.save_as(saved)
    assert download.value.suggested_filename.endswith(".html")
    page.goto(saved.as_uri(), wait_until="load")
    page.locator(".leaflet-container").wait_for(timeout=20_000)
    title = page.locator("h1").first.inner_text()
    assert worst["name"] in title and w["briefing"] in title
    rows = page.locator(".gp-body table.gp").first.locator("tbody tr")
    assert rows.count() == 1
    row = rows.first.locator("td").all_inner_texts()
    assert row[0] == worst["name"] and row[3] == f"{100 * (worst['coverage'] or 0):.1f}"
    assert page.evaluate("typeof L") == "object"  # the map came in the file itself
    shot(page, f"worst-briefing-{lang}-{width}")
