"""Long work as jobs, in the browser as a user meets it (zh and en): crime patterns, a
campaign's progress, a district briefing and an analysis run each show their progress on
the page, then their result; what a job stored is read back until its inputs change."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browsing import browser, page, server, settle, shot, sign_in  # noqa: F401

pytestmark = pytest.mark.browser

TEXT = {"zh": {"computing": "正在计算", "drawing": "正在绘制文件", "analysing": "正在分析",
               "summary": "警情", "briefing": "导出简报", "campaign": "排查发现隐患"},
        "en": {"computing": "Computing", "drawing": "Drawing the file",
               "analysing": "Analysing", "summary": "incidents of class",
               "briefing": "Export briefing", "campaign": "hazards found"}}


def _touch_inputs(engine) -> None:  # noqa: ANN001
    """A new upload: every stored result is out of date, the next request computes anew."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO uploads (kind, filename, sha256, size_bytes, rows_stored, "
            "rows_flagged, options, summary) VALUES ('hazards', 'touch.csv', "
            "md5(random()::text) || md5(random()::text), 0, 0, 0, '{}', '{}')"))


@pytest.fixture(scope="module")
def campaign(demo_world) -> int:
    """A campaign running over every district."""
    import datetime as dt

    from geo_patrol.services import campaigns

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        districts = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district'")).scalars().all()
    today = settings.today()
    return campaigns.create(engine, settings, name="清零行动-jobs",
                            starts_on=today - dt.timedelta(days=60),
                            ends_on=today + dt.timedelta(days=30), districts=list(districts),
                            categories=["school", "gas_lpg"], by="tester")


def _goto(pg, server: str, lang: str, path: str) -> None:  # noqa: ANN001
    # a page asking for a job answers at once, but a loaded machine may take its time
    pg.goto(f"{server}/lang/{lang}?next={quote(path, safe='/?=&')}", timeout=120_000)


def _progress_shown(pg, box: str, words: str) -> None:  # noqa: ANN001
    """The job's box: its words, its bar and its share done, as the page first shows it."""
    found = pg.locator(f"#{box}")
    expect(found).to_be_visible()
    assert words in found.inner_text()
    assert found.locator("progress").count() == 1
    assert re.search(r"\d+\s*%", found.inner_text())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_crime_patterns_show_their_progress_then_the_stored_result(
        page, server, demo_world, lang):  # noqa: F811
    _touch_inputs(demo_world["engine"])
    sign_in(page, server, "b-command")
    settle(page)  # the dashboard's own jobs done first
    _goto(page, server, lang, "/crime?days=60")
    _progress_shown(page, "job", TEXT[lang]["computing"])
    shot(page, f"jobs-crime-progress-{lang}")
    expect(page.locator("#crime-summary")).to_be_visible(timeout=120_000)
    assert TEXT[lang]["summary"] in page.locator("#crime-summary").inner_text()
    expect(page.locator("#hot-segments")).to_be_visible()
    shot(page, f"jobs-crime-{lang}")
    # the same page again: read from the stored result, no progress
    _goto(page, server, lang, "/crime?days=60")
    expect(page.locator("#crime-summary")).to_be_visible()
    assert page.locator("[data-job]").count() == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_campaign_shows_its_progress_then_its_figures(
        page, server, demo_world, campaign, lang):  # noqa: F811
    _touch_inputs(demo_world["engine"])
    sign_in(page, server, "b-command")
    settle(page)  # the dashboard's own jobs done first
    # a campaign's figures take a moment: the page as first served shows the job's progress
    served = page.goto(f"{server}/lang/{lang}?next=/campaigns%3Fid%3D{campaign}",
                       timeout=120_000).text()
    assert 'id="job"' in served and TEXT[lang]["computing"] in served
    assert "<progress" in served and 'class="job-share"' in served
    expect(page.locator("#campaign-summary")).to_be_visible(timeout=120_000)
    assert TEXT[lang]["campaign"] in page.locator("#campaign-summary").inner_text()
    shot(page, f"jobs-campaign-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_briefing_is_drawn_as_a_job_then_downloads(
        page, server, demo_world, lang):  # noqa: F811
    _touch_inputs(demo_world["engine"])
    sign_in(page, server, "b-command")
    settle(page)  # the dashboard's own jobs done first
    _goto(page, server, lang, "/dashboard")
    expect(page.locator("#briefing")).to_be_visible()
    with page.expect_download(timeout=120_000) as download:
        page.click("#briefing")
        _progress_shown(page, "briefing-job", TEXT[lang]["drawing"])
        assert TEXT[lang]["briefing"] in page.locator("h2").inner_text()
        shot(page, f"jobs-briefing-progress-{lang}")
    name = download.value.suggested_filename
    assert "-briefing-" in name and name.endswith(".html"), name
    body = download.value.path().read_text(encoding="utf-8")
    assert "<html" in body.lower() and len(body) > 10_000


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_analysis_shows_its_progress_then_the_new_period(
        page, server, demo_world, lang):  # noqa: F811
    days = {"zh": ("2026-11-21", "2026-11-22"), "en": ("2026-11-23", "2026-11-24")}[lang]
    sign_in(page, server, "b-command")
    settle(page)  # the dashboard's own jobs done first
    _goto(page, server, lang, "/dashboard")
    page.fill("input[name=from]", days[0])
    page.fill("input[name=to]", days[1])
    page.click("form[action$='/analyse'] button[type=submit]")
    _progress_shown(page, "analysis-job", TEXT[lang]["analysing"])
    shot(page, f"jobs-analysis-progress-{lang}")
    page.wait_for_url(re.compile(r"[?&]run=\d+"), timeout=180_000)
    settle(page)  # the new run's own tiles (campaign, crime) are jobs: the page reloads once
    chosen = page.locator("select[name=run] option:checked").inner_text()
    assert f"{days[0]} – {days[1]}" in chosen, chosen
    shot(page, f"jobs-analysis-{lang}")
