"""The "no movement during a patrol" alarm as people see it, in a real browser with every
outside request blocked: on /live (1440 px) beside the SOS alarms, with the volunteer, the
place and the local time, taken by one officer; on the volunteer's phone (/me at 360 px) a
question on top that clears the alarm. In Chinese and in English."""

from __future__ import annotations

import re
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa

from tests.browsing import _free_port, browser, guarded_page, shot, sign_in  # noqa: F401
from tests.helpers import make_user

pytestmark = pytest.mark.browser

SITE = (109.8430, 40.6503)
WORDS = {
    "zh": {"kind": "巡逻中长时间未移动", "for": "已 5 分钟未移动", "take": "认领：由我处置",
           "owned": "已由 b-command 认领", "ask": "巡逻中你已 5 分钟未移动：一切安好吗？",
           "fine": "我一切安好"},
    "en": {"kind": "Not moving on patrol", "for": "No movement for 5 minutes",
           "take": "Acknowledge: I take it", "owned": "Acknowledged by b-command",
           "ask": "You have not moved for 5 minutes on patrol: are you all right?",
           "fine": "I am all right"},
}


@pytest.fixture(scope="module")
def rules_on(demo_world, tmp_path_factory):
    """The city's settings with the alarm on after 5 minutes."""
    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text('[categories.other]\nlabel_zh = "其他"\n[dispatch]\nstill_min = 5\n',
                    encoding="utf-8")
    return demo_world["settings"].with_(rules_file=str(path))


@pytest.fixture(scope="module")
def server(demo_world, rules_on):
    """The web app of a city with the alarm on, on a loopback port."""
    from waitress.server import create_server

    from web import create_app

    make_user(demo_world["engine"], "b-command", "command")
    app = create_app({"GEO_PATROL_SETTINGS": rules_on})
    srv = create_server(app, host="127.0.0.1", port=_free_port(), threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def crew(demo_world, server):
    """Two volunteers with phones and accounts."""
    from geo_patrol.services.devices import add_device

    engine = demo_world["engine"]
    with engine.begin() as conn:
        numbers = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active ORDER BY number DESC LIMIT 2")
        ).scalars().all()
        conn.execute(sa.text("UPDATE volunteers SET occupation = 'retired_resident' "
                             "WHERE number = ANY(:n)"), {"n": numbers})
    for n in numbers:
        add_device(engine, f"sb-{n}", n)
        make_user(engine, f"sb-{n}", "volunteer", volunteer=n)
    return numbers


def _stopped(server: str, number: str) -> None:  # noqa: F811
    """Six minutes at one corner, one position a minute, through the OsmAnd endpoint."""
    for i in range(6, -1, -1):
        t = int(time.time()) - i * 60
        url = (f"{server}/osmand?id=sb-{number}&lat={SITE[1] + 0.00002 * (i % 2)}"
               f"&lon={SITE[0]}&timestamp={t}&accuracy=5")
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"),
                                    timeout=30) as r:
            assert r.status == 200


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_live_shows_the_alarm_and_the_phone_answers_it(browser, server, demo_world, crew,
                                                      rules_on, lang):  # noqa: F811
    from geo_patrol import clock
    from geo_patrol.services import callouts

    w = WORDS[lang]
    number = crew[0] if lang == "zh" else crew[1]
    engine = demo_world["engine"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE callouts SET closed_at = now(), outcome = 'resolved' "
                             "WHERE closed_at IS NULL"))
    _stopped(server, number)
    callouts.check_still(engine, rules_on, {})  # what the job worker runs
    with engine.connect() as conn:
        alarm, created = conn.execute(sa.text(
            "SELECT c.id, c.created_at FROM callouts c JOIN volunteers v ON v.id = c.raised_by "
            "WHERE c.kind = 'still' AND v.number = :n AND c.closed_at IS NULL"),
            {"n": number}).one()
    local = clock.local_text(created, "Asia/Shanghai", "time")
    assert local != clock.local_text(created, "UTC", "time")
    with guarded_page(browser, (1440, 900)) as command, \
            guarded_page(browser, (360, 740)) as phone:
        sign_in(command, server, "b-command")
        command.goto(f"{server}/lang/{lang}?next=/live", wait_until="domcontentloaded")
        card = command.locator(f"#alarm-{alarm}")
        card.wait_for(timeout=20_000)
        text = card.inner_text()
        assert w["kind"] in text and w["for"] in text and number in text and local in text
        assert card.bounding_box()["y"] < 300
        shot(command, f"live-still-{lang}")
        assert card.locator("button[type=submit]").inner_text() == w["take"]
        card.locator("button[type=submit]").click()
        command.wait_for_url(re.compile(r".*/live\?callout=\d+"), timeout=20_000)
        assert w["owned"] in command.locator(f"#alarm-{alarm}").inner_text()
        # the volunteer's phone asks; the answer clears it from /live without a reload
        sign_in(phone, server, f"sb-{number}")
        phone.goto(f"{server}/lang/{lang}?next=/me", wait_until="domcontentloaded")
        ask = phone.locator(f"#still-{alarm}")
        assert w["ask"] in ask.inner_text() and local in ask.inner_text()
        assert ask.bounding_box()["y"] < 740
        shot(phone, f"me-still-{lang}")
        ask.locator("button[type=submit]").click()
        phone.wait_for_url(re.compile(r".*/me#now"), timeout=20_000)
        assert phone.locator(f"#still-{alarm}").count() == 0
        command.locator(f"#alarm-{alarm}").wait_for(state="detached", timeout=30_000)
