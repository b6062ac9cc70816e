"""Long tables page, sort and filter on the server (volunteers, tasks, hazards, uploads, the
audit log), say so when empty, and close offers whose window has passed; the administrator's
accounts page."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from geo_patrol.errors import InputError
from tests.helpers import PHONE_PATTERN, make_user, sign_in
from web import create_app


@pytest.fixture(scope="module")
def app(demo_world):
    return create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})


@pytest.fixture(scope="module")
def command(app, demo_world):
    client = app.test_client()
    client.csrf = sign_in(client, make_user(demo_world["engine"], "t-command", "command"))
    return client


@pytest.fixture(scope="module")
def admin(app, demo_world):
    client = app.test_client()
    client.csrf = sign_in(client, make_user(demo_world["engine"], "t-admin", "admin"))
    return client


def _rows(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _total(html: str) -> int:
    return int(re.search(r"共 (\d+) 行", html).group(1))


def test_volunteers_page_by_fifty_sorted_and_filtered(command, demo_world):
    with demo_world["engine"].connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM volunteers")).scalar_one()
        guards = conn.execute(sa.text(
            "SELECT count(*) FROM volunteers WHERE occupation = 'security_guard'")).scalar_one()
    first = command.get("/volunteers").get_data(as_text=True)
    rows = _rows(first, "volunteers")
    assert len(rows) == min(50, total) and _total(first) == total
    assert "第 1–50 行" in first and 'rel="next"' in first
    # one unmask action per row, on demand: a link, never a form with a reason field per row
    assert first.count('class="unmask"') == len(rows) and 'name="reason"' not in first
    numbers = [r[0] for r in rows]
    assert numbers == sorted(numbers)
    second = command.get("/volunteers?page=2").get_data(as_text=True)
    assert not set(numbers) & {r[0] for r in _rows(second, "volunteers")}
    # sorted by patrol hours, most first; the header says so and links to the other order
    by_hours = command.get("/volunteers?sort=-patrol_hours").get_data(as_text=True)
    hours = [float(r[9]) for r in _rows(by_hours, "volunteers")]
    assert hours == sorted(hours, reverse=True) and hours[0] > hours[-1]
    assert 'aria-sort="descending"' in by_hours and "sort=patrol_hours" in by_hours
    # a filter keeps the order and applies to every page; the pager keeps the filter
    guarded = command.get("/volunteers?occupation=security_guard&sort=-patrol_hours"
                          ).get_data(as_text=True)
    assert _total(guarded) == guards
    assert {r[3] for r in _rows(guarded, "volunteers")} == {"保安"}
    if guards > 50:
        following = re.search(r'rel="next" href="([^"]+)"', guarded).group(1)
        assert "occupation=security_guard" in following and "page=2" in following
    assert not re.search(PHONE_PATTERN, first + by_hours + guarded)
    # nothing found: said in the page's language
    none = command.get("/volunteers?q=no-such-volunteer").get_data(as_text=True)
    # an empty table says so once, in its own row: no pager saying "no rows" around it
    assert none.count("没有符合筛选条件的记录。") == 1 and "没有记录" not in none
    none_en = command.get("/volunteers?q=no-such-volunteer&lang=en").get_data(as_text=True)
    assert "Nothing matches these filters." in none_en
    # the parameters are checked in one place: a clear 400, nothing else
    bad = command.get("/volunteers?sort=password")
    assert bad.status_code == 400 and "此表不能按“password”排序。" in bad.get_data(as_text=True)
    assert command.get("/volunteers?page=0").status_code == 400
    assert command.get("/volunteers?page=x").status_code == 400
    # unmasking one volunteer: the form for that one, on demand
    vid = re.search(r'/volunteers/(\d+)/unmask', first).group(1)
    form = command.get(f"/volunteers/{vid}/unmask").get_data(as_text=True)
    assert 'id="unmask-form"' in form and 'name="reason"' in form and numbers[0] in form


def test_tasks_past_offers_are_closed_and_filtered(command, demo_world):
    from geo_patrol.services.tasks import make_task

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        hazard = conn.execute(sa.text("SELECT id FROM hazards ORDER BY id LIMIT 1")).scalar_one()
    tomorrow = settings.today() + dt.timedelta(days=1)
    old = make_task(engine, settings, hazard_id=hazard, day=tomorrow, slot="evening", by="t")
    new = make_task(engine, settings, hazard_id=hazard, day=tomorrow, slot="morning", by="t")
    with pytest.raises(InputError, match="already has a task"):  # a visit is paid once
        make_task(engine, settings, hazard_id=hazard, day=tomorrow, slot="morning", by="t")
    with engine.begin() as conn:  # the first offer's window passed with nobody taking it
        conn.execute(sa.text(
            "UPDATE tasks SET day = day - 3, window_start = window_start - interval '3 days', "
            "window_end = window_end - interval '3 days' WHERE id = :t"), {"t": old})
    html = command.get("/tasks").get_data(as_text=True)
    states = {r[1]: r[7] for r in _rows(html, "task-list")}  # after the task's number
    assert states[(tomorrow - dt.timedelta(days=3)).isoformat()] == "已过期（未认领）"
    assert states[tomorrow.isoformat()] == "待认领"
    offered = command.get("/tasks?state=offered").get_data(as_text=True)
    assert {r[7] for r in _rows(offered, "task-list")} == {"待认领"}
    expired = command.get("/tasks?state=expired").get_data(as_text=True)
    assert {r[7] for r in _rows(expired, "task-list")} == {"已过期（未认领）"}
    by_points = command.get("/tasks?sort=-points").get_data(as_text=True)
    points = [int(r[6]) for r in _rows(by_points, "task-list")]
    assert points == sorted(points, reverse=True)
    empty = command.get("/tasks?community=nowhere").get_data(as_text=True)
    assert "没有符合筛选条件的记录。" in empty
    assert new


def test_hazards_uploads_and_audit_page(command, demo_world):
    run = demo_world["run"].run_id
    html = command.get(f"/hazards?run={run}&sort=-missed").get_data(as_text=True)
    rows = _rows(html, "hazards")
    missed = [int(r[7].split("/")[0]) for r in rows]
    assert rows and missed == sorted(missed, reverse=True)
    never = command.get(f"/hazards?run={run}&status=never_visited").get_data(as_text=True)
    assert {r[4] for r in _rows(never, "hazards")} <= {"未巡查"}
    assert "status=never_visited" in never  # the sortable headers keep the filter
    uploads = command.get("/uploads?sort=-rows").get_data(as_text=True)
    stored = [int(r[3]) for r in _rows(uploads, "uploads")]
    assert stored == sorted(stored, reverse=True)
    audit = command.get("/audit?action=user_add").get_data(as_text=True)
    actions = {r[2] for r in _rows(audit, "audit")}
    assert actions == {"新增账号"}  # audit actions in the page's language
    assert "新增账号" in audit.split('name="action"')[1].split("</select>")[0]


def test_the_audit_log_names_its_subjects_as_people_know_them(command, demo_world):
    """The audit log's subject is the record as a person knows it, in the page's language
    and linked to its page: a call-out by its number, what happened and where, a notice by
    its number and title (it showed ``callout 16``, ``notice 3``)."""
    from geo_patrol.access import Principal, Role
    from geo_patrol.services.callouts import call_out
    from geo_patrol.services.notify import broadcast

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = 't-command'")
                           ).scalar_one()
    me = Principal(id=uid, username="t-command", role=Role.COMMAND)
    site = (109.8430, 40.6503)
    callout_id = call_out(engine, settings, me, lon=site[0], lat=site[1],
                          category="dispute", note=None, count=1)
    notice_id, _ = broadcast(engine, settings, me, kind="missing", title="走失老人",
                             body="穿红色外套", place="", lon=site[0], lat=site[1],
                             radius_m=300)
    with engine.connect() as conn:
        street = conn.execute(sa.text("SELECT np.street FROM callouts c LEFT JOIN LATERAL ("
                                      "SELECT p.name AS street FROM street_pieces p WHERE "
                                      "p.name IS NOT NULL AND ST_DWithin(p.geom_m, c.geom_m, "
                                      "150) ORDER BY p.geom_m <-> c.geom_m LIMIT 1) np ON "
                                      "true WHERE c.id = :i"), {"i": callout_id}).scalar_one()
    assert street  # the site lies on a named street: the subject names it
    words = {"zh": (f"召集 #{callout_id} · 矛盾纠纷 · {street}",
                    f"协查通告 #{notice_id} · 走失老人"),
             "en": (f"Call-out #{callout_id} · Dispute · {street}",
                    f"Notice #{notice_id} · 走失老人")}
    for lang, (callout_said, notice_said) in words.items():
        html = command.get(f"/audit?lang={lang}").get_data(as_text=True)
        subjects = [r[3] for r in _rows(html, "audit")]
        assert any(s.startswith(callout_said) for s in subjects), (callout_said, subjects)
        assert notice_said in subjects, subjects
        assert f"callout {callout_id}" not in subjects and f"notice {notice_id}" not in subjects
        assert f'href="/live?callout={callout_id}"' in html
        assert f'href="/notices?notice={notice_id}"' in html
    # a volunteer's, by roster number (an officer saw their phone number unmasked)
    from geo_patrol.store.accounts import audit

    with engine.begin() as conn:
        number = conn.execute(sa.text("SELECT number FROM volunteers ORDER BY id LIMIT 1")
                              ).scalar_one()
        audit(conn, "t-command", "unmask", f"volunteer {number}", reason="核实身份")
    # and found as they read: "召集 #16", "Notice 3", "义警 BT00012" (with or without its
    # space), or every call-out by its word
    for typed, found in ((f"召集 #{callout_id}", [words["zh"][0]]),
                         (f"Notice {notice_id}", [words["zh"][1]]), ("召集", ["召集 #"]),
                         (f"义警 {number}", [f"义警 {number}"]),
                         (f"义警{number}", [f"义警 {number}"])):
        html = command.get("/audit", query_string={"q": typed}).get_data(as_text=True)
        subjects = [r[3] for r in _rows(html, "audit")]
        assert subjects and all(any(s.startswith(f) for f in found) for s in subjects), \
            (typed, subjects)


def test_accounts_page_for_the_admin(app, admin, command, demo_world):
    assert command.get("/accounts").status_code == 403
    page = admin.get("/accounts").get_data(as_text=True)
    assert "账号管理" in page and "t-command" in page and "分局指挥" in page
    # a mistake: said in the page's language, what was typed kept, nothing stored
    bad = admin.post("/accounts", data={"csrf_token": admin.csrf, "username": "w-officer",
                                        "role": "officer", "areas": "", "volunteer": "",
                                        "password": "long enough pw"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "社区民警账号至少绑定一个社区" in text
    assert 'value="w-officer"' in text and "long enough pw" not in text
    with demo_world["engine"].connect() as conn:
        community = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' ORDER BY id LIMIT 1")).scalar_one()
    added = admin.post("/accounts", data={"csrf_token": admin.csrf, "username": "w-officer",
                                          "role": "officer", "areas": community,
                                          "volunteer": "", "password": "long enough pw"})
    assert added.status_code == 200 and "已新增账号“w-officer”。" in added.get_data(as_text=True)
    again = admin.post("/accounts", data={"csrf_token": admin.csrf, "username": "w-officer",
                                          "role": "planner", "password": "long enough pw"})
    assert again.status_code == 400 and "账号“w-officer”已存在。" in again.get_data(as_text=True)
    # the new account signs in; a password reset signs it out and gives a new one, once
    officer = app.test_client()
    sign_in(officer, "w-officer", "long enough pw")
    assert officer.get("/dashboard").status_code == 200
    reset = admin.post("/accounts/password", data={"csrf_token": admin.csrf,
                                                   "username": "w-officer"})
    secret = re.search(r'<code id="secret">([^<]+)</code>', reset.get_data(as_text=True))
    assert secret and officer.get("/dashboard").status_code == 401
    fresh = app.test_client()
    sign_in(fresh, "w-officer", secret.group(1))
    assert fresh.get("/dashboard").status_code == 200
    # a token, shown once, works on the API; disabling stops it and the session at once
    issued = admin.post("/accounts/token", data={"csrf_token": admin.csrf,
                                                 "username": "w-officer", "label": "app"})
    token = re.search(r'<code id="secret">([^<]+)</code>', issued.get_data(as_text=True))
    api = app.test_client()
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token.group(1)}"}
                   ).status_code == 200
    off = admin.post("/accounts/disable", data={"csrf_token": admin.csrf,
                                                "username": "w-officer"})
    assert "已停用账号“w-officer”" in off.get_data(as_text=True)
    assert fresh.get("/dashboard").status_code == 401
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token.group(1)}"}
                   ).status_code == 401
    listed = _rows(off.get_data(as_text=True), "accounts")
    row = next(r for r in listed if r[0] == "w-officer")
    assert row[1] == "社区民警" and row[2] == "停用中" and row[4] == "1"
    own = admin.post("/accounts/disable", data={"csrf_token": admin.csrf, "username": "t-admin"})
    assert own.status_code == 400
    audit = command.get("/audit?actor=t-admin").get_data(as_text=True)
    assert {"新增账号", "修改密码", "签发令牌", "停用账号"} <= {r[2] for r in _rows(audit, "audit")}


def test_dashboard_headline_against_the_period_before(app, command, demo_world):
    """Coverage's change is against the same-length period just before, when analysed; the
    chart has named axes; the legend names every layer; the planner opens on a district."""
    from geo_patrol.services import results
    from geo_patrol.services.analysis import analyze

    engine, settings, run = demo_world["engine"], demo_world["settings"], demo_world["run"]
    with engine.connect() as conn:
        now = results.find_run(conn, run.run_id)
    length = now["window_end"] - now["window_start"]
    before = analyze(engine, now["window_start"] - length, now["window_start"],
                     area=now["area_id"], settings=settings)
    with engine.connect() as conn:
        districts = results.area_table(conn, run.run_id, level="district")
        district = districts.sort_values("covered_m").iloc[-1]
        earlier = results.area_table(conn, before.run_id, level="district")
        was = float(earlier[earlier["area_id"] == district["area_id"]].iloc[0]["coverage"])
    html = command.get(f"/dashboard?run={run.run_id}").get_data(as_text=True)
    change = html.split('id="fig-change"')[1].split("</span></div>")[0]
    points = 100 * (float(district["coverage"]) - was)
    assert f"{abs(points):.1f} 个百分点" in change and f"上期 {100 * was:.1f}%" in change
    assert ("比上期高" if points > 0 else "比上期低") in change
    # the trend: a y-axis in percent and both axes named
    assert html.count('class="y-tick"') == 3 and "覆盖率（%）" in html and ">日期<" in html
    # the map's legend: the coverage fill, the hazards in their own colours, incidents, gaps
    doc = command.get(f"/maps/district/{int(district['area_id'])}?run={run.run_id}"
                      ).get_data(as_text=True)
    for words in ("区域填色：街道巡逻覆盖率", "无街道", "警情（六边形，越深越多）", "巡逻盲区", "达标"):
        assert words in doc or json.dumps(words)[1:-1] in doc, words  # the legend's JSON
    from geo_patrol.render.maps import COMPLIANCE, RECENCY_COLOURS
    assert not set(COMPLIANCE.values()) & set(RECENCY_COLOURS.values())
    # the planner opens on the district, its communities grouped under it
    planner = command.get(f"/planner?run={run.run_id}").get_data(as_text=True)
    assert f'<optgroup label="{district["name"]}">' in planner
    chosen = re.search(r'<option value="(\d+)" selected>', planner).group(1)
    assert int(chosen) == int(district["area_id"]) and 'id="opening-map"' in planner
    assert "（全区）" in planner


def test_officer_dashboard_shows_their_community_map(app, demo_world):
    from geo_patrol.services import results

    run = demo_world["run"].run_id
    with demo_world["engine"].connect() as conn:
        communities = results.area_table(conn, run, level="community")
        first = communities.iloc[0]
        name, area_id = first["name"], int(first["area_id"])
    client = app.test_client()
    sign_in(client, make_user(demo_world["engine"], "t-officer", "officer",
                              areas=[first["code"] or name]))
    html = client.get(f"/dashboard?run={run}").get_data(as_text=True)
    assert f'src="/maps/community/{area_id}?run={run}"' in html
    assert client.get(f"/maps/community/{area_id}?run={run}").status_code == 200
    assert 'class="trend"' in html and name in html


def test_dashboard_street_reports_page_on_the_server(command, demo_world):
    """The dashboard's table of street reports (per community and category) pages by 20 on
    its own ``?reports_page=``, every row on one page only; a page beyond the last shows
    the pager's count and no rows."""
    from web.pages import REPORT_FIGURES_PAGE

    run = demo_world["run"]
    first = command.get(f"/dashboard?run={run.run_id}").get_data(as_text=True)
    assert 'id="report-figures"' in first
    rows = _rows(first, "report-figures")
    total = int(re.search(r'id="report-figures-pager".*?共 (\d+) 行', first, re.S).group(1)) \
        if 'id="report-figures-pager"' in first else 0
    if total == 0:  # no report in the period: the table says so
        assert rows == [["本期间没有群众线索。"]]
        return
    assert len(rows) == min(total, REPORT_FIGURES_PAGE)
    pages = -(-total // REPORT_FIGURES_PAGE)
    seen = [tuple(r[:2]) for r in rows]
    for n in range(2, pages + 1):
        html = command.get(f"/dashboard?run={run.run_id}&reports_page={n}"
                           ).get_data(as_text=True)
        assert f"第 {n} 页，共 {pages} 页" in html
        seen += [tuple(r[:2]) for r in _rows(html, "report-figures")]
    assert len(seen) == total == len(set(seen))  # each community and category once
    if pages > 1:
        assert 'rel="next"' in first and "reports_page=2" in first
    bad = command.get(f"/dashboard?run={run.run_id}&reports_page=0")
    assert bad.status_code == 400


def test_a_wrong_address_is_said_in_the_page_s_language(command):
    """Werkzeug's own 404 reads in the page's language, not in its English."""
    command.get("/lang/zh")
    zh = command.get("/no-such-page")
    assert zh.status_code == 404
    assert "此地址没有页面" in zh.get_data(as_text=True)
    assert "requested URL" not in zh.get_data(as_text=True)
    command.get("/lang/en")
    en = command.get("/no-such-page").get_data(as_text=True)
    assert "Nothing is at this address" in en
    command.get("/lang/zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_planner_s_hint_names_its_own_button(command, demo_world, lang):
    """The hint under the planner's form names the button the page shows, in its words."""
    command.get(f"/lang/{lang}")
    html = command.get(f"/planner?run={demo_world['run'].run_id}").get_data(as_text=True)
    command.get("/lang/zh")
    form = html.split('id="plan-form"')[1].split("</form>")[0]
    button = re.search(r'<button class="btn" type="submit">([^<]+)</button>', form).group(1)
    hint = re.search(r'<p id="plan-hint">([^<]+)</p>', html).group(1)
    assert (f"“{button}”" if lang == "zh" else f"press {button}") in hint, (button, hint)
