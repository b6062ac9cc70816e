"""Pages that read in their own language whatever the browser's: an empty table says so once,
an account shows whom it is bound to, a campaign's days are written as every page writes
them, day fields and their calendar follow the page (an en-US browser on a Chinese page and
the reverse), a file chooser names the chosen file in the page's words, and the maps' search
box shows its whole hint on a desk and on a phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from tests.browsing import browser, guarded_page, server, settle, shot, sign_in  # noqa: F401
from tests.helpers import make_user

pytestmark = pytest.mark.browser

#: the page's language and a browser of the other one
BROWSER_LOCALE = {"zh": "en-US", "en": "zh-CN"}

WORDS = {
    "zh": {"nothing": "没有符合筛选条件的记录。", "no_rows": ("No rows", "没有记录"),
           "hint": "年-月-日", "weekday": "周一", "month": "月", "choose": "选择文件",
           "none": "未选择文件", "paren": ("（", "）")},
    "en": {"nothing": "Nothing matches these filters.", "no_rows": ("No rows", "没有记录"),
           "hint": "yyyy-mm-dd", "weekday": "Mon", "month": "", "choose": "Choose a file",
           "none": "No file chosen", "paren": (" (", ")")},
}


@pytest.fixture(scope="module")
def accounts(demo_world, server):  # noqa: F811
    """An administrator, a command, a community officer, and a volunteer's account bound to a
    volunteer."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        number, name = conn.execute(sa.text(
            "SELECT number, name FROM volunteers ORDER BY number LIMIT 1")).one()
        district, community = conn.execute(sa.text(
            "SELECT d.name, c.name FROM areas d JOIN areas c ON c.level = 'community' "
            "AND c.id IN (SELECT area_subtree(d.id)) WHERE d.level = 'district' "
            "ORDER BY d.id, c.id LIMIT 1")).one()
    make_user(engine, "r-admin", "admin")
    make_user(engine, "r-volunteer", "volunteer", volunteer=number)
    make_user(engine, "r-officer", "officer", areas=[community])
    return {"number": number, "name": name, "district": district, "community": community}


def _in(page, server: str, lang: str, path: str) -> None:  # noqa: ANN001, F811
    from urllib.parse import quote

    page.goto(f"{server}/lang/{lang}?next={quote(path, safe='/')}", wait_until="networkidle")
    settle(page)  # a page of stored results shows the progress of the job making them first


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_empty_task_table_says_so_once_in_the_pages_language(browser, server,  # noqa: F811
                                                                 accounts, lang):
    w = WORDS[lang]
    with guarded_page(browser, (1440, 900), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/tasks?community=no-such-community")
        body = page.locator("body").inner_text()
        assert body.count(w["nothing"]) == 1, body
        for word in w["no_rows"]:
            assert word not in body
        assert page.locator("#task-list tr.empty").inner_text() == w["nothing"]
        assert page.locator("#task-pager, #task-pager-bottom").count() == 0
        shot(page, f"tasks-empty-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_account_shows_the_volunteer_it_is_bound_to(browser, server, accounts,  # noqa: F811
                                                       lang):
    from geo_patrol.privacy import mask_name

    with guarded_page(browser, (1440, 900), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "r-admin")
        _in(page, server, lang, "/accounts")
        bound = page.locator("#account-r-volunteer td.bound").inner_text()
        assert bound == f"{accounts['number']} {mask_name(accounts['name'])}"
        assert accounts["name"] not in page.locator("body").inner_text()  # masked
        # a command bound to no area sees the whole city, and the cell says so
        whole = {"zh": "全市", "en": "The whole city"}[lang]
        assert page.locator("#account-b-command td.bound").inner_text() == whole
        headers = page.locator("#accounts thead th").all_inner_texts()
        assert headers[2] == {"zh": "账号状态", "en": "State"}[lang], headers
        # a district command added on the page is bound to its district, named in its row
        form, user = page.locator("#add-account"), f"r-district-{lang}"
        form.locator("input[name=username]").fill(user)
        form.locator("select[name=role]").select_option("command")
        form.locator("input[name=areas]").fill(accounts["district"])
        form.locator("input[name=password]").fill("correct horse battery")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.locator(f"#account-{user} td.bound").inner_text() == accounts["district"]
        assert page.locator("#account-r-officer td.bound").inner_text() == accounts["community"]
        shot(page, f"accounts-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_campaigns_days_read_as_on_every_page(browser, server, demo_world,  # noqa: F811
                                                accounts, lang):
    from geo_patrol.services import campaigns

    engine, settings = demo_world["engine"], demo_world["settings"]
    name = f"冬季清零行动 {lang}"
    with engine.connect() as conn:
        district = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district' ORDER BY id LIMIT 1")).scalar_one()
        if not conn.execute(sa.text("SELECT 1 FROM campaigns WHERE name = :n"),
                            {"n": name}).first():
            campaigns.create(engine, settings, name=name,
                             starts_on=dt.date(2026, 11, 28), ends_on=dt.date(2026, 12, 31),
                             districts=[district],
                             categories=list(settings.rules.categories)[:1], by="b-command")
    w = WORDS[lang]
    with guarded_page(browser, (1440, 900), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/campaigns")
        options = page.locator("#campaign-choice option").all_inner_texts()
        left, right = w["paren"]
        assert f"{name}{left}2026-11-28 – 2026-12-31{right}" in options, options


def _calendar_texts(page) -> str:  # noqa: ANN001
    calendar = page.locator(".flatpickr-calendar.open")
    calendar.wait_for(timeout=10_000)
    return calendar.inner_text()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_day_fields_read_in_the_pages_language_not_the_browsers(browser, server,  # noqa: F811
                                                                accounts, lang):
    w = WORDS[lang]
    with guarded_page(browser, (1440, 900), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/tasks")
        day = page.locator("#task-filters input[name=day]")
        assert day.get_attribute("type") == "text"  # not the browser's own date control
        assert day.get_attribute("placeholder") == w["hint"]
        day.click()
        texts = _calendar_texts(page)
        shot(page, f"tasks-calendar-{lang}")
        assert w["weekday"] in texts, texts
        weekdays = page.locator(".flatpickr-calendar.open .flatpickr-weekday").all_inner_texts()
        assert weekdays[0].strip() == w["weekday"], weekdays  # weeks start on Monday
        month = page.locator(".flatpickr-calendar.open .flatpickr-monthDropdown-months "
                             "option:checked").inner_text()
        assert w["month"] in month and (lang == "zh") == bool(re.search(r"[\u4e00-\u9fff]",
                                                                        month)), month
        page.locator(".flatpickr-calendar.open .flatpickr-day:not(.prevMonthDays)"
                     ":not(.nextMonthDays)", has_text=re.compile(r"^15$")).click()
        picked = day.input_value()
        assert re.fullmatch(r"\d{4}-\d{2}-15", picked), picked
        page.locator("#task-filters button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#task-list-title").inner_text().endswith(picked)
        # a day typed as people write it is read the same way, and written as the city does
        day = page.locator("#task-filters input[name=day]")
        day.fill("")
        day.type("2026/3/5")
        page.keyboard.press("Tab")
        assert day.input_value() == "2026-03-05"
        # the new task's day, typed whole: the calendar steps aside for the next field
        page.fill("#new-task input[name=day]", "2026-12-07")
        assert page.locator(".flatpickr-calendar.open").count() == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_file_chooser_names_the_file_in_the_pages_words(browser, server, accounts,  # noqa: F811
                                                          tmp_path, lang):
    w = WORDS[lang]
    sheet = tmp_path / "义警名册.csv"
    sheet.write_text("number,name\n", encoding="utf-8")
    with guarded_page(browser, (360, 780), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/uploads")
        chooser = page.locator("#upload .file-pick")
        assert chooser.locator(".file-button").inner_text() == w["choose"]
        assert chooser.locator(".file-name").inner_text() == w["none"]
        assert chooser.locator(".file-button").is_visible()
        # the chooser's own control (with the browser's words) is not seen
        box = chooser.locator("input[type=file]").bounding_box()
        assert box is None or box["width"] <= 1
        with page.expect_file_chooser() as fc:
            chooser.locator(".file-button").click()
        fc.value.set_files(str(sheet))
        assert chooser.locator(".file-name").inner_text() == sheet.name
        shot(page, f"uploads-phone-{lang}")


#: how wide the placeholder's text is, in the input's own font, against its room for text
_FITS = """input => {
  const s = getComputedStyle(input);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
  const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  return [ctx.measureText(input.placeholder).width, room, input.placeholder,
          input.getBoundingClientRect().right, document.documentElement.clientWidth];
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_map_search_hint_fits_on_a_desk_and_on_a_phone(browser, server,  # noqa: F811
                                                            accounts, lang):
    for width in (1440, 360):
        with guarded_page(browser, (width, 900), locale=BROWSER_LOCALE[lang]) as page:
            sign_in(page, server, "b-command")
            _in(page, server, lang, "/dashboard")
            frame = page.frame_locator("#district-map")
            box = frame.locator("input.gp-search-input")
            box.wait_for(timeout=30_000)
            text, room, hint, right, frame_width = box.evaluate(_FITS)
            assert hint and (lang == "zh") == bool(re.search(r"[\u4e00-\u9fff]", hint)), hint
            assert text <= room, (width, hint, text, room)
            assert right <= frame_width, (width, right, frame_width)  # inside the map
            assert box.get_attribute("title")  # the whole sentence on hover
            shot(page, f"dashboard-{width}-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_other_pages_for_a_look(browser, server, accounts, lang):  # noqa: F811
    """The pages no other browser test looks at whole (screenshots to look at), each with its
    title in the page's language."""
    titles = {"zh": {"/live": "实时巡逻", "/evidence": "巡防成效", "/notify": "消息列表",
                     "/notices": "协查通知列表", "/devices": "定位设备登记"},
              "en": {"/live": "Live patrol", "/evidence": "Patrol evidence",
                     "/notify": "Messages", "/notices": "Notices",
                     "/devices": "Position devices"}}
    with guarded_page(browser, (1440, 900), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "b-command")
        for path in ("/live", "/evidence", "/notify", "/notices", "/devices"):
            _in(page, server, lang, path)
            assert page.title() == f"{titles[lang][path]} · geo-patrol", path
            shot(page, f"tour-{path.strip('/')}-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quiet_hours_read_on_a_24_hour_clock_on_a_phone(browser, server, accounts,  # noqa: F811
                                                        lang):
    hint = {"zh": "时:分", "en": "hh:mm"}[lang]
    with guarded_page(browser, (360, 780), locale=BROWSER_LOCALE[lang]) as page:
        sign_in(page, server, "r-volunteer")
        _in(page, server, lang, "/me")
        start = page.locator("input[name=quiet_start]")
        assert start.get_attribute("type") == "text"  # not the browser's own (AM/PM) control
        assert start.get_attribute("placeholder") == hint
        start.click()
        clock = page.locator(".flatpickr-calendar.open")
        clock.wait_for(timeout=10_000)
        assert clock.locator(".flatpickr-am-pm").count() == 0  # 24 hours, no AM/PM
        box = clock.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # on the phone's screen
        shot(page, f"me-quiet-hours-{lang}")


def test_the_last_day_under_a_chart_ends_inside_it():
    import pandas as pd

    from geo_patrol.render.charts import burn_down_svg, coverage_trend_svg

    days = pd.date_range("2026-11-20", periods=8, freq="D")
    trend = coverage_trend_svg(pd.DataFrame({"day": days, "coverage": [0.5] * 8}), "zh")
    ticks = re.findall(r'<text class="x-tick"[^>]*text-anchor="(\w+)">([\d-]+)</text>', trend)
    assert ticks[-1] == ("end", "11-27") and ticks[0][0] == "middle"
    burn = burn_down_svg(pd.DataFrame({"day": days, "found": range(8), "visited": range(8),
                                       "open": range(8)}), "en")
    assert re.findall(r'text-anchor="(\w+)">11-27</text>', burn) == ["end"]
