"""Live updates and the phone app in real headless Chromium: a volunteer's /me shows a notice
and a call-out the moment they are made (server-sent events from the asyncio port, LISTEN/
NOTIFY as the bus, no reload), on a 360 px phone in Chinese and English; another volunteer's
page hears nothing; the command's messages page shows each message per person and channel;
/me is an installable app whose service worker opens it offline and whose reports written
offline are sent when the phone is back online."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo_patrol import clock
from geo_patrol.services.search import place_name

from tests.browsing import browser, page, shot, sign_in  # noqa: F401  (fixtures)
from tests.test_clues import reporter_world

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


EVENTS: dict[str, int] = {}


@pytest.fixture(scope="module")
def server(demo_world):  # noqa: F811  (the app with its live-event port, as `serve` runs it)
    from waitress.server import create_server

    from web import create_app
    from web.positions import serve_positions

    events_port = EVENTS["port"] = _free_port()
    web_port = _free_port()
    app = create_app({"GEO_PATROL_SETTINGS": demo_world["settings"],
                      "GEO_PATROL_EVENTS_PORT": events_port, "GEO_PATROL_WEB_PORT": web_port})
    serve_positions(None, "127.0.0.1", events_port, events=app)
    srv = create_server(app, host="127.0.0.1", port=web_port, threads=6)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def people(demo_world, server, tmp_path_factory):
    out = reporter_world(demo_world, tmp_path_factory.mktemp("notify-browser"), "nb")
    engine = out["engine"]
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active AND number <> :n ORDER BY id DESC "
            "LIMIT 1"), {"n": out["number"]}).scalar_one()
    from tests.helpers import make_user

    out["users"]["other"] = make_user(engine, "nb-other", "volunteer", volunteer=other)
    return out


def _as(page, server, username: str, lang: str, path: str) -> None:  # noqa: F811
    page.goto("about:blank")  # the last account's page asks for nothing more once signed out
    page.context.clear_cookies()
    sign_in(page, server, username)
    page.goto(f"{server}/lang/{lang}?next={path}", wait_until="networkidle")


def _command(engine, username: str):
    from geo_patrol.access import Principal, Role

    with engine.connect() as conn:
        uid = conn.execute(sa.text("SELECT id FROM users WHERE username = :u"),
                           {"u": username}).scalar_one()
    return Principal(id=uid, username=username, role=Role.COMMAND)


WORDS = {"zh": {"notice": "走失", "read": "已读", "callout": "打架"},
         "en": {"notice": "missing", "read": "Read", "callout": "fight"}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_notice_and_a_call_out_appear_on_the_phone_without_reload(
        browser, server, people, lang):  # noqa: F811
    from geo_patrol.services.callouts import call_out
    from geo_patrol.services.devices import add_device
    from geo_patrol.services.notify import broadcast

    engine, settings = people["engine"], people["settings"]
    command = _command(engine, people["users"]["command"])
    pages = {}
    for who in ("volunteer", "other"):
        context = browser.new_context(viewport={"width": 360, "height": 780},
                                      locale="zh-CN")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        _as(pg, server, people["users"][who], lang, "/me")
        pg.wait_for_function("window.gpEventsOpen === true", timeout=20_000)
        pages[who] = (pg, errors)
    phone, errors = pages["volunteer"]
    other, _ = pages["other"]
    try:
        text = f"{WORDS[lang]['notice']} {time.time_ns()}"
        notice_id, count = broadcast(engine, settings, command, kind="missing", title=None,
                                     body=text, place="", lon=people["lon"],
                                     lat=people["lat"], radius_m=300)
        assert count >= 1
        # seen without a reload: the page's parts were refreshed by the event
        expect(phone.locator("#my-notices")).to_contain_text(text, timeout=15_000)
        # next after what needs an answer now (a call-out, the SOS button), above the
        # volunteer's own record: it was two screens down, under the profile, points,
        # tasks and certificates
        notice = phone.locator("#my-notices .notice", has_text=text).bounding_box()
        record = phone.locator("#record").bounding_box()
        sos = phone.locator("#sos").bounding_box()
        assert sos["y"] < notice["y"] < record["y"], (sos, notice, record)
        phone.locator("#my-notices form button").first.click()
        expect(phone.locator("#my-notices")).to_contain_text(WORDS[lang]["read"])
        # marking read reloads the page: its event stream opens again before the call-out
        phone.wait_for_function("() => window.gpEventsOpen === true", timeout=20_000)
        with engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT count(*) FROM notify_messages m JOIN volunteers v "
                "ON v.id = m.volunteer_id WHERE m.ref = :r AND v.number = :n "
                "AND m.read_at IS NOT NULL"),
                {"r": f"notice {notice_id}", "n": people["number"]}).scalar_one() == 1

        # a call-out: the volunteer on duty near the incident, called, sees it at once
        device = f"nb-{people['number']}"
        add_device(engine, device, people["number"])
        now = int(time.time())
        with urllib.request.urlopen(f"{server}/osmand?id={device}&lat={people['lat']:.6f}"
                                    f"&lon={people['lon']:.6f}&timestamp={now}") as r:
            assert r.status == 200
        before = phone.evaluate("document.body.getAttribute('data-refreshed')")
        phone.evaluate("window.gpSamePage = true")  # gone if the page were loaded again
        note = f"{WORDS[lang]['callout']} {now}"
        call_out(engine, settings, command, lon=people["lon"] + 2e-4, lat=people["lat"],
                 category="dispute", note=note, count=1)
        expect(phone.locator("#now")).to_contain_text(note, timeout=15_000)
        # the event refreshed the page's parts in place (no reload)
        phone.wait_for_function("b => document.body.getAttribute('data-refreshed') !== b",
                                arg=before, timeout=15_000)
        assert phone.evaluate("window.gpSamePage") is True
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        shot(phone, f"notify-live-{lang}")
        # the other volunteer's page heard neither (their own events only)
        other.wait_for_timeout(500)
        assert other.evaluate("document.body.getAttribute('data-refreshed')") is None
        assert note not in other.content()
        assert errors == []
    finally:
        for pg, _ in pages.values():
            pg.context.close()


def test_events_need_a_live_session(server, people):
    """The event stream refuses a request without a session cookie, or with a forged one."""
    import urllib.error

    for cookie in (None, "session=forged.value.here"):
        request = urllib.request.Request(f"http://127.0.0.1:{EVENTS['port']}/events",
                                         headers={"Cookie": cookie} if cookie else {})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_sees_each_message_per_person_and_channel(page, server, people,
                                                              lang):  # noqa: F811
    from geo_patrol.services.notify import add_channel, enqueue

    engine = people["engine"]
    add_channel(engine, people["settings"], scope="city", url="json://127.0.0.1:9/unreachable",
                by="test", label="city hub")
    with engine.connect() as conn:
        vid = conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                           {"n": people["number"]}).scalar_one()
    with engine.begin() as conn:
        enqueue(conn, volunteer_ids=[vid], kind="points", ref=f"payout {lang}", title="积分",
                body="12")
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/notify")
    heading = {"zh": "发给义警的消息", "en": "Messages to volunteers"}[lang]
    expect(page.locator("h2")).to_have_text(heading)
    row = page.locator("#outbox tbody tr", has_text="积分").first
    expect(row).to_contain_text({"zh": "积分发放", "en": "points paid"}[lang])
    expect(row).to_contain_text(people["number"])
    expect(row).to_contain_text({"zh": "排队中", "en": "queued"}[lang])
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM volunteers WHERE number = :n"),
                            {"n": people["number"]}).scalar_one()
    assert name not in page.content()  # masked
    expect(page.locator("#channels")).to_contain_text("json://127…")
    assert "unreachable" not in page.content()  # a channel's URL shown without its path
    # how to add a channel, in plain words by channel name; an address's form is shown
    # when its name is tapped (a phone cannot point at it)
    hint = page.locator("#channels-hint").inner_text() + \
        page.locator("#channel-examples").inner_text()
    assert "://" not in hint and "apprise" not in hint and "URL" not in hint, hint
    wecom = page.locator("#channel-examples .tech").first
    assert wecom.locator("summary").inner_text() == \
        {"zh": "企业微信群机器人", "en": "WeCom group robot"}[lang]
    expect(wecom.locator("code")).to_be_hidden()
    wecom.locator("summary").click()
    expect(wecom.locator("code")).to_contain_text("wecombot://KEY")
    shot(page, f"notify-outbox-{lang}")
    # an address that is none: the error in plain words of the page's language
    page.fill("#add-channel input[name=url]", "group chat")
    page.click("#add-channel button[type=submit]")
    page.wait_for_load_state("networkidle")
    error = page.locator("#error-url").inner_text()  # beside the address, what was typed kept
    assert {"zh": "这不是可以发送消息的地址", "en": "This is not an address messages"}[lang] \
        in error and "://" not in error, error
    expect(page.locator("#add-channel input[name=url]")).to_have_value("group chat")


def test_an_officer_cannot_manage_channels(page, server, people):  # noqa: F811
    _as(page, server, people["users"]["officer"], "en", "/notify")
    expect(page.locator("h2")).to_have_text("Messages to volunteers")
    assert page.locator("#channels").count() == 0
    assert page.locator("#add-channel").count() == 0


def test_me_is_an_installable_app_that_opens_and_queues_reports_offline(
        page, server, people):  # noqa: F811
    users = people["users"]
    page.set_viewport_size({"width": 360, "height": 780})
    _as(page, server, users["volunteer"], "zh", "/me")
    manifest = page.evaluate("""fetch(document.querySelector('link[rel=manifest]').href)
        .then(r => r.json())""")
    assert manifest["start_url"] == "/me" and manifest["display"] == "standalone"
    sizes = {i["sizes"] for i in manifest["icons"]}
    assert sizes == {"192x192", "512x512"}
    png = page.evaluate("fetch('/icons/192.png').then(r => r.arrayBuffer())"
                        ".then(b => Array.from(new Uint8Array(b).slice(0, 8)))")
    assert bytes(png) == b"\x89PNG\r\n\x1a\n"
    page.wait_for_function("navigator.serviceWorker.controller !== null || "
                           "navigator.serviceWorker.ready.then(() => true)", timeout=20_000)
    page.reload(wait_until="networkidle")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
    page.context.set_offline(True)
    page.reload()  # the shell kept by the service worker
    expect(page.locator("#report-title")).to_be_visible()
    # the kept copy says so, with the (local) time it shows; what needs the server waits
    note = page.locator("#offline-note")
    expect(note).to_be_visible()
    now = clock.now_local(people["settings"].timezone)
    shown = note.inner_text()
    assert "没有网络" in shown and any(
        clock.local_text(now - dt.timedelta(minutes=m), people["settings"].timezone, "short")
        in shown for m in range(3)), shown
    expect(note.locator("a[href='tel:110']")).to_be_visible()
    expect(page.locator("#offline-reload")).to_be_hidden()
    expect(page.locator("#sos-send")).to_be_disabled()
    expect(page.locator("#report button[type=submit]")).to_be_enabled()
    shot(page, "me-offline-kept")
    text = f"离线上报 {time.time_ns()}"
    page.fill("textarea[name=text]", text)
    # the place: the phone's own position (no page asks for coordinates)
    page.context.grant_permissions(["geolocation"], origin=server)
    page.context.set_geolocation({"longitude": people["lon"], "latitude": people["lat"],
                                  "accuracy": 8})
    page.click("#locate")
    expect(page.locator("#place-status")).to_have_class("chosen")
    page.click("#report button[type=submit]")
    expect(page.locator("#report-status")).to_contain_text("保存在本机")
    shot(page, "me-offline-queued")
    with people["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reports WHERE text = :t"),
                            {"t": text}).scalar_one() == 0
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#offline-reload")).to_be_visible()
    expect(page.locator("#sos-send")).to_be_enabled()
    found = 0
    for _ in range(150):
        with people["engine"].connect() as conn:
            found = conn.execute(sa.text("SELECT count(*) FROM reports WHERE text = :t"),
                                 {"t": text}).scalar_one()
        if found:
            break
        page.wait_for_timeout(100)
    assert found == 1  # sent once, by the page or the service worker (its key)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_picks_a_notice_s_place_and_a_channel_s_volunteer_by_name(
        page, server, people, lang):  # noqa: F811
    """No number to type: the notice's place is found by name (the line under the map names
    it and fills the notice's place words), a notice sent with no place says so beside the
    place with the text kept; a channel's volunteer is picked by number or name."""
    engine = people["engine"]
    with engine.connect() as conn:
        community = conn.execute(sa.text("SELECT name FROM areas WHERE id = :c"),
                                 {"c": people["community"]}).scalar_one()
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/notices")
    form = page.locator("#notice")
    assert form.locator("input[name=lon]").get_attribute("type") == "hidden"
    text = f"穿红色外套的老人 {lang}"
    form.locator("textarea[name=body]").fill(text)
    form.locator("button[type=submit]").click()
    expect(form.locator("#error-place")).to_contain_text(
        {"zh": "未选定地点", "en": "No place chosen"}[lang])
    expect(form.locator("textarea[name=body]")).to_have_value(text)
    form.locator(".picker-query").type(community, delay=20)
    # typed letter by letter: answers to a shorter prefix may show first
    form.locator(".picker-answer", has_text=community).first.click()
    expect(form.locator("#place-status")).to_contain_text(community)
    expect(form.locator("input[name=place]")).to_have_value(re.compile(re.escape(community)))
    # the place words go to the volunteers as they read places, in Chinese, whatever the
    # language of the page that sent them
    lon, lat = (float(form.locator(f"input[name={k}]").input_value()) for k in ("lon", "lat"))
    with engine.connect() as conn:
        words = place_name(conn, lon, lat, lang="zh")["label"]
    assert form.locator("input[name=place]").input_value() == words
    form.locator("button[type=submit]").click()
    expect(page.locator("#notice-sent")).to_be_visible()
    expect(page.locator("#notices")).to_contain_text(community)
    # who read it, under the notice's own title, pages on the server, 50 a page, as every
    # long table does
    sent_row = page.locator("#notices tr[aria-current=true]")
    expect(sent_row).to_have_count(1)
    expect(sent_row).to_contain_text(community)
    expect(page.locator("#readers-title")).to_contain_text(
        sent_row.locator("td").nth(2).inner_text().strip())
    # the notice's default title in the page's language only
    assert {"zh": "Missing", "en": "寻人"}[lang] not in sent_row.inner_text()
    expect(sent_row).to_contain_text({"zh": "寻人", "en": "Missing person"}[lang])
    notice_id = int(re.search(r"sent=(\d+)", page.url).group(1))
    with engine.connect() as conn:
        sent, told = conn.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM notify_outbox o "
            "WHERE o.message_id = m.id)) FROM notify_messages m WHERE m.ref = :r"),
            {"r": f"notice {notice_id}"}).one()
        bodies = conn.execute(sa.text("SELECT DISTINCT body FROM notify_messages "
                                      "WHERE ref = :r"), {"r": f"notice {notice_id}"}
                              ).scalars().all()
    # the volunteers read the place, then what to look for (in Chinese, as they read places)
    assert bodies == [f"{words}：{text}"] or sent == 0, bodies
    # how many it went to, and whether a channel tells them now or only the app will
    said = page.locator("#notice-sent").inner_text()
    if told == sent:
        assert said == {"zh": f"通知已发给 {sent} 名义警。",
                        "en": f"Notice sent to {sent} volunteers."}[lang], said
    elif told == 0:
        assert said.startswith({"zh": f"通知已发给 {sent} 名义警：他们打开应用时可以看到，但没有",
                                "en": f"Notice sent to {sent} volunteers: they see it when "
                                "they open the app, but no channel"}[lang]), said
        assert page.locator("#notice-sent a").get_attribute("href").startswith("/notify")
    else:
        assert {"zh": f"其中 {told} 人还会通过渠道收到", "en": f"{told} of them are told "
                "through a channel as well"}[lang] in said, said
    assert page.locator("#readers tbody tr").count() == min(sent, 50) or sent == 0
    if sent > 50:
        expect(page.locator("#readers-pager a[rel=next]")).to_have_attribute(
            "href", re.compile(r"readers_page=2"))
    shot(page, f"notice-place-by-name-{lang}")
    # a channel for one volunteer: picked by the start of their roster number
    _as(page, server, people["users"]["command"], lang, "/notify")
    channel = page.locator("#add-channel")
    channel.locator("select[name=scope]").select_option("volunteer")
    channel.locator(".picker-query").type(people["number"], delay=20)
    # (the answers to a shorter prefix may still be listed for a moment)
    channel.locator(".picker-answer", has_text=people["number"]).first.click()
    expect(channel.locator("input[name=volunteer]")).to_have_value(people["number"])
    channel.locator("input[name=url]").fill(f"json://127.0.0.1:9/{lang}")
    channel.locator("button[type=submit]").click()
    expect(page.locator("#channels")).to_contain_text(people["number"])
