"""A notice with a photo (a missing person, a suspect vehicle): sent from /notices with the
form's file, kept as a report's photo is (EXIF stripped, resized, the original not kept) and
served only to those who may see the notice — the command in scope and the volunteers it was
sent to; a file that is not a picture is refused in the page's language, nothing stored."""

from __future__ import annotations

import io
import re
import time

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.helpers import make_user, sign_in
from tests.test_clues import has_exif, photo_bytes

SITE = (109.8430, 40.6503)


@pytest.fixture(scope="module")
def world(demo_world):
    from geo_patrol.services.devices import add_device
    from web import create_app

    engine = demo_world["engine"]
    with engine.begin() as conn:
        near, far = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active ORDER BY number LIMIT 2")
        ).scalars().all()
        other_area = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' AND NOT ST_Intersects(geom, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY id LIMIT 1"),
            {"x": SITE[0], "y": SITE[1]}).scalar_one()
    app = create_app({"GEO_PATROL_SETTINGS": demo_world["settings"], "TESTING": True})
    add_device(engine, f"np-{near}", near)
    t = int(time.time())
    resp = app.test_client().get(f"/osmand?id=np-{near}&lat={SITE[1]}&lon={SITE[0]}"
                                 f"&timestamp={t}")
    assert resp.status_code == 200
    make_user(engine, "np-command", "command")
    make_user(engine, "np-officer", "officer", areas=[other_area])
    make_user(engine, "np-near", "volunteer", volunteer=near)
    make_user(engine, "np-far", "volunteer", volunteer=far)
    return {"engine": engine, "app": app, "near": near, "far": far, "other_area": other_area}


def _client(world, user: str):
    client = world["app"].test_client()
    return client, sign_in(client, user)


def _form(token: str, photo: bytes | None, name: str = "face.jpg") -> dict:
    form = {"csrf_token": token, "kind": "missing", "title": "", "body": "走失老人，蓝色上衣",
            "place": "", "lon": str(SITE[0]), "lat": str(SITE[1]), "radius_m": "300"}
    if photo is not None:
        form["photo"] = (io.BytesIO(photo), name)
    return form


def test_a_notice_carries_its_photo_to_those_who_may_see_it(world):
    engine = world["engine"]
    command, token = _client(world, "np-command")
    original = photo_bytes((2400, 1800), lon=SITE[0], lat=SITE[1])
    assert has_exif(original)
    resp = command.post("/notices", data=_form(token, original),
                        content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    notice_id = int(re.search(r"notice=(\d+)", resp.headers["Location"]).group(1))
    page = command.get(f"/notices?notice={notice_id}").get_data(as_text=True)
    assert f"/notices/{notice_id}/thumb.jpg" in page
    shown = command.get(f"/notices/{notice_id}/shown.jpg")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    assert not has_exif(shown.data)
    with Image.open(io.BytesIO(shown.data)) as image:
        assert max(image.size) < 2400  # resized
    assert command.get(f"/notices/{notice_id}/original.jpg").status_code == 404
    with engine.connect() as conn:
        sha, message = conn.execute(sa.text(
            "SELECT n.photo_sha256, m.id FROM notices n JOIN notify_messages m "
            "ON m.ref = 'notice ' || n.id JOIN volunteers v ON v.id = m.volunteer_id "
            "WHERE n.id = :n AND v.number = :v"), {"n": notice_id, "v": world["near"]}).one()
        sent_to_far = conn.execute(sa.text(
            "SELECT count(*) FROM notify_messages m JOIN volunteers v ON v.id = m.volunteer_id "
            "WHERE m.ref = :r AND v.number = :v"),
            {"r": f"notice {notice_id}", "v": world["far"]}).scalar_one()
    assert len(sha) == 64
    # the volunteer it went to sees it on /me and may open it
    near, _ = _client(world, "np-near")
    me = near.get("/me").get_data(as_text=True)
    assert f"/me/notices/{message}/thumb.jpg" in me
    assert '<span class="notice-kind">寻人</span>' in me  # what kind of notice it is
    got = near.get(f"/me/notices/{message}/shown.jpg")
    assert got.status_code == 200 and got.data == shown.data
    # nobody else: a volunteer it did not go to, an officer of another community
    if not sent_to_far:
        far, _ = _client(world, "np-far")
        assert far.get(f"/me/notices/{message}/shown.jpg").status_code == 404
    assert near.get(f"/notices/{notice_id}/shown.jpg").status_code in (403, 404)
    officer, _ = _client(world, "np-officer")
    assert officer.get(f"/notices/{notice_id}/shown.jpg").status_code in (403, 404)
    assert world["app"].test_client().get(
        f"/notices/{notice_id}/thumb.jpg").status_code in (302, 401, 403)


def test_a_file_that_is_not_a_picture_is_refused_in_the_pages_language(world):
    engine = world["engine"]
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM notices")).scalar_one()
    command, token = _client(world, "np-command")
    command.get("/lang/zh")
    resp = command.post("/notices", data=_form(token, b"MZ\x90\x00 not a picture", "x.jpg"),
                        content_type="multipart/form-data")
    assert resp.status_code == 400
    error = re.search(r'id="form-error" role="alert"><p class="bad">([^<]+)<', resp.get_data(as_text=True))
    assert error and re.search(r"[\u4e00-\u9fff]", error.group(1)), error
    command.get("/lang/en")
    resp = command.post("/notices", data=_form(token, b"MZ\x90\x00 not a picture", "x.jpg"),
                        content_type="multipart/form-data")
    assert resp.status_code == 400
    error = re.search(r'id="form-error" role="alert"><p class="bad">([^<]+)<', resp.get_data(as_text=True))
    assert error and not re.search(r"[\u4e00-\u9fff]", error.group(1)), error
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notices")).scalar_one() == before


def test_an_officer_is_told_whom_their_notices_reach_and_where_they_may_send_one(world):
    """The officer's notice page says its notices reach their own communities' volunteers
    (named); a place outside them is refused naming the community they may use, nothing
    sent. The command, whose notices reach the city, is told nothing of the kind."""
    officer, token = _client(world, "np-officer")
    page = officer.get("/notices").get_data(as_text=True)
    assert 'id="notice-reach"' in page and world["other_area"] in page
    assert "你的协查通知只发给你所辖社区的义警" in page
    with world["engine"].connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM notices")).scalar_one()
    refused = officer.post("/notices", data=_form(token, None))
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert f"你可录入的社区：{world['other_area']}" in text
    assert "走失老人，蓝色上衣" in text  # what the officer typed is kept
    with world["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notices")).scalar_one() == before
    command, _ = _client(world, "np-command")
    assert 'id="notice-reach"' not in command.get("/notices").get_data(as_text=True)


def test_a_scoped_picker_offers_only_streets_and_communities_of_the_officer(world):
    """The place search of a form that takes the officer's own communities only offers the
    streets running through them and no other community; the map's own search (not scoped)
    offers the whole city."""
    with world["engine"].connect() as conn:
        mine, elsewhere = conn.execute(sa.text("""
            WITH home AS (SELECT id FROM areas WHERE name = :a AND level = 'community')
            SELECT (SELECT min(s.name) FROM street_segments s WHERE s.area_id IN
                    (SELECT id FROM home) AND s.name IS NOT NULL),
                   (SELECT min(s.name) FROM street_segments s WHERE s.name IS NOT NULL
                    AND s.name NOT IN (SELECT t.name FROM street_segments t WHERE t.area_id
                    IN (SELECT id FROM home) AND t.name IS NOT NULL))"""),
            {"a": world["other_area"]}).one()
        another = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' AND name <> :a ORDER BY id "
            "LIMIT 1"), {"a": world["other_area"]}).scalar_one()
    officer, _ = _client(world, "np-officer")

    def labels(q: str, scoped: bool) -> list[str]:
        url = f"/search?q={q}&kinds=street,area" + ("&scoped=1" if scoped else "")
        return [a["label"] for a in officer.get(url).get_json()]

    assert any(x.startswith(f"{mine} ·") for x in labels(mine, True))
    assert not any(x.startswith(f"{elsewhere} ·") for x in labels(elsewhere, True))
    assert any(x.startswith(f"{elsewhere} ·") for x in labels(elsewhere, False))
    assert not any(x.startswith(another) for x in labels(another, True))
    assert any(x.startswith(world["other_area"]) for x in labels(world["other_area"], True))
