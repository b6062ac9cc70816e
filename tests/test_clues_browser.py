"""A report from the street on a 360 px phone in real headless Chromium: a photo from the file
input (made smaller on the phone, its EXIF kept for the checks), sent, seen with its
thumbnail in the officer's queue, verified, and seen as verified with its points by the
reporter, in Chinese and English; the photo served without EXIF; another community's officer
gets 404; a report made offline is kept on the phone and sent when it is back online."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa
from PIL import Image

from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.test_clues import photo_bytes, reporter_world

pytestmark = pytest.mark.browser

#: The words to find, and a category each (a second report of one category at the same place
#: the same day would be a duplicate of the first, not paid).
WORDS = {"zh": {"verified": "已核实", "points": "分", "sent": "已上报", "pending": "待核实",
                "category": "suspicious"},
         "en": {"verified": "Verified", "points": "points", "sent": "Report sent",
                "pending": "Pending", "category": "lost_person"}}


@pytest.fixture(scope="module")
def people(demo_world, server, tmp_path_factory):  # noqa: F811
    return reporter_world(demo_world, tmp_path_factory.mktemp("clue-browser"), "cb")


def _as(page, server, username: str, lang: str, path: str) -> None:  # noqa: F811
    page.goto("about:blank")  # the last account's page asks for nothing more once signed out
    page.context.clear_cookies()
    sign_in(page, server, username)
    page.goto(f"{server}/lang/{lang}?next={path}", wait_until="networkidle")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_report_with_a_photo_from_the_phone_to_the_officer_and_back(
        page, server, people, lang):  # noqa: F811
    users, w = people["users"], WORDS[lang]
    page.set_viewport_size({"width": 360, "height": 780})
    page.context.grant_permissions(["geolocation"], origin=server)
    page.context.set_geolocation({"longitude": people["lon"], "latitude": people["lat"],
                                  "accuracy": 8})
    _as(page, server, users["volunteer"], lang, "/me")
    # the position from the phone, a photo from the camera (4000 px, with its EXIF)
    page.click("#locate")
    expect(page.locator("#report input[name=lon]")).not_to_have_value("")
    page.select_option("select[name=category]", w["category"])
    page.fill("textarea[name=text]", f"可疑车辆停在校门口 {lang}")
    taken = dt.datetime.now(dt.UTC)
    page.set_input_files("#photos", files=[{
        "name": "IMG_0001.jpg", "mimeType": "image/jpeg",
        "buffer": photo_bytes((4000, 3000), lon=people["lon"], lat=people["lat"],
                              taken=taken)}])
    page.locator("#previews img").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
    shot(page, f"report-phone-{lang}")
    page.click("#report button[type=submit]")
    page.wait_for_url(re.compile(r".*sent=\d+"), timeout=20_000)
    report_id = int(re.search(r"sent=(\d+)", page.url).group(1))
    assert w["sent"] in page.locator("#sent").inner_text()
    with people["engine"].connect() as conn:
        media_id, width, check = conn.execute(sa.text(
            "SELECT id, width, exif_check FROM report_media WHERE report_id = :r"),
            {"r": report_id}).one()
    # made smaller on the phone, and its EXIF still told the server where it was taken
    assert width == 1600 and check == "matches"
    # the officer's queue: the thumbnail shows; verified with an answer
    _as(page, server, users["officer"], lang, "/reports")
    thumb = page.locator(f"#report-{report_id} img.thumb")
    thumb.wait_for()
    # (a polled predicate would be evaluated as a string, which the page's CSP forbids)
    for _ in range(100):
        if thumb.evaluate("img => img.complete && img.naturalWidth > 0"):
            break
        page.wait_for_timeout(100)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    assert w["pending"] in page.locator(f"#report-{report_id} td.state").inner_text()
    row = page.locator(f"#report-{report_id} + tr.triage-row")
    row.locator("textarea[name=answer]").fill("已派民警核查")
    shot(page, f"report-queue-{lang}")
    row.locator("button[value=verified]").click()
    page.wait_for_url(re.compile(r".*done=\d+.*"))
    assert w["verified"] in page.locator(f"#report-{report_id} td.state").inner_text()
    # the photo as served carries no EXIF
    served = page.request.get(f"{server}/media/{media_id}/shown.jpg")
    assert served.status == 200
    with Image.open(io.BytesIO(served.body())) as image:
        assert not image.getexif() and b"Exif\x00\x00" not in served.body()
    # the reporter sees it verified, with its points
    _as(page, server, users["volunteer"], lang, "/me")
    mine = page.locator(f"#my-report-{report_id}")
    points = people["settings"].rules.report_points(w["category"], "verified")
    assert w["verified"] in mine.locator(".state").inner_text()
    assert f"{points} {w['points']}" in mine.locator(".points").inner_text()
    assert "已派民警核查" in mine.inner_text()
    mine.locator("img.thumb").wait_for()
    shot(page, f"report-verified-{lang}")
    # another community's officer: 404 for the photo
    _as(page, server, users["stranger"], lang, "/reports")
    assert page.goto(f"{server}/media/{media_id}/shown.jpg").status == 404


def test_a_report_made_offline_is_sent_when_back_online(page, server, people):  # noqa: F811
    users = people["users"]
    page.set_viewport_size({"width": 360, "height": 780})
    _as(page, server, users["volunteer"], "zh", "/me")
    with people["engine"].connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one()
    page.fill("textarea[name=text]", "离线时拍下的线索")
    # the place: the phone's own position (no page asks for coordinates)
    page.context.grant_permissions(["geolocation"], origin=server)
    page.context.set_geolocation({"longitude": people["lon"], "latitude": people["lat"],
                                  "accuracy": 8})
    page.click("#locate")
    expect(page.locator("#place-status")).to_have_class("chosen")
    page.set_input_files("#photos", files=[{
        "name": "offline.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes((800, 600))}])
    page.context.set_offline(True)
    page.click("#report button[type=submit]")
    expect(page.locator("#report-status")).to_contain_text("保存在本机")
    shot(page, "report-offline-zh")
    with people["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one() == before
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    with people["engine"].connect() as conn:
        for _ in range(100):
            row = conn.execute(sa.text(
                "SELECT r.id, count(m.id) FROM reports r LEFT JOIN report_media m "
                "ON m.report_id = r.id WHERE r.text = '离线时拍下的线索' GROUP BY r.id")).first()
            if row:
                break
            page.wait_for_timeout(100)
    assert row is not None and row[1] == 1
