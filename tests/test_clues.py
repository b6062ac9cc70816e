"""Reports from the street (随手拍): photos checked from their bytes and served without EXIF,
only within the report's scope; triage; points paid once where the reporter's own track puts
them; every bad input refused in the user's language with nothing stored."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import socket
import subprocess

import boto3
import pytest
import sqlalchemy as sa
from moto.server import ThreadedMotoServer
from PIL import Image

from geo_patrol.services.sources import load_tracks
from geo_patrol.store.accounts import issue_token
from tests.helpers import make_user, sign_in
from web import create_app


def photo_bytes(size: tuple[int, int] = (1200, 900), *, lon: float | None = None,
                lat: float | None = None, taken: dt.datetime | None = None,
                claimed: tuple[int, int] | None = None, fmt: str = "JPEG",
                noise: bool = False) -> bytes:
    """A picture with EXIF: where and when it was taken, and the size it claims."""
    if noise:
        image = Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(
            size[0] * size[1] * 3)))
    else:
        image = Image.new("RGB", size, (180, 90, 40))
    exif = Image.Exif()
    inner = exif.get_ifd(0x8769)
    inner[0xA002], inner[0xA003] = claimed or size
    if taken is not None:
        local = taken.astimezone(dt.timezone(dt.timedelta(hours=8)))
        inner[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
        inner[0x9011] = "+08:00"
    if lon is not None and lat is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = "N", "E"
        for tag, value in ((2, lat), (4, lon)):
            d = int(value)
            m = int((value - d) * 60)
            gps[tag] = (float(d), float(m), round((value - d - m / 60) * 3600, 4))
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


#: Where a video made for a test says it was taken (ISO 6709), as a phone writes it.
PLANTED = "+40.6500+109.8400/"


def video_bytes(folder, *, seconds: float = 2, fmt: str = "mp4") -> bytes:
    """A small test-pattern video made by ffmpeg, carrying a planted location."""
    out = folder / f"clip-{seconds}.{fmt}"
    codec = ["-c:v", "libvpx", "-b:v", "200k"] if fmt == "webm" else \
        ["-c:v", "mpeg4", "-movflags", "use_metadata_tags"]  # the key a phone writes too
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size=160x120:rate=10", *codec,
                    "-metadata", f"location={PLANTED}", "-metadata",
                    f"com.apple.quicktime.location.ISO6709={PLANTED}", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def video_tags(data: bytes, folder) -> dict[str, str]:
    """Every container and stream tag ffprobe reads in a video."""
    path = folder / "probe.bin"
    path.write_bytes(data)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json",
         str(path)], check=True, capture_output=True, timeout=60).stdout)
    tags = dict(probe.get("format", {}).get("tags", {}))
    for stream in probe.get("streams", []):
        tags.update(stream.get("tags", {}))
    return tags


def has_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif()) or b"Exif\x00\x00" in data


def reporter_world(demo_world, track_dir, prefix: str) -> dict:
    """A volunteer at home in the busiest community with a track the command loaded (so it
    proves presence) around a point there until now, their community's officer, another
    community's officer, the command and a planner (usernames ``{prefix}-volunteer``...)."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        community, name, lon, lat = conn.execute(sa.text("""
            SELECT a.id, a.name, ST_X(ST_PointOnSurface(a.geom)),
                   ST_Y(ST_PointOnSurface(a.geom))
            FROM areas a JOIN volunteers v ON v.community_id = a.id
            WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC, a.id LIMIT 1"""
        )).one()
        other = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' AND id <> :c ORDER BY id LIMIT 1"),
            {"c": community}).scalar_one()
        number = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE community_id = :c AND active ORDER BY id "
            "LIMIT 1"), {"c": community}).scalar_one()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = ["volunteer,time,lon,lat"]
    for i in range(40):  # twenty minutes up to now, walking about 2 m every 30 s
        t = now - dt.timedelta(seconds=30 * (40 - i))
        rows.append(f"{number},{t.isoformat()},{lon + i * 2e-5:.6f},{lat:.6f}")
    track = track_dir / "walk.csv"
    track.write_text("\n".join(rows) + "\n", encoding="utf-8")
    load_tracks(engine, track, crs="wgs84", settings=settings)
    users = {"volunteer": make_user(engine, f"{prefix}-volunteer", "volunteer",
                                    volunteer=number),
             "officer": make_user(engine, f"{prefix}-officer", "officer", areas=[name]),
             "stranger": make_user(engine, f"{prefix}-stranger", "officer", areas=[other]),
             "command": make_user(engine, f"{prefix}-command", "command"),
             "planner": make_user(engine, f"{prefix}-planner", "planner")}
    return {"engine": engine, "settings": settings, "users": users, "lon": lon, "lat": lat,
            "community": community, "number": number}


@pytest.fixture(scope="module")
def world(demo_world, tmp_path_factory):
    """:func:`reporter_world`, each of them signed in."""
    out = reporter_world(demo_world, tmp_path_factory.mktemp("clue-track"), "c")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": out["settings"]})
    clients = {}
    for role, username in out["users"].items():
        client = app.test_client()
        client.csrf = sign_in(client, username)
        clients[role] = client
    return {**out, "app": app, "clients": clients}


def _send(client, world, *, photos=(), lang: str = "zh", **form):
    client.set_cookie("lang", lang)
    data = {"category": "suspicious", "text": "驾校院内有人倒换液化气罐",
            "lon": f"{world['lon']:.6f}", "lat": f"{world['lat']:.6f}",
            "csrf_token": client.csrf, **form}
    data["photos"] = [(io.BytesIO(b), name) for name, b in photos]
    return client.post("/me/report", data=data, content_type="multipart/form-data")


def _stored(world) -> tuple[int, int, int]:
    media = world["settings"].media_dir
    files = sum(1 for p in media.rglob("*") if p.is_file()) if media.exists() else 0
    with world["engine"].connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM reports")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM report_media")).scalar_one(),
                files)


def test_a_report_with_a_photo_is_triaged_paid_once_and_its_photo_kept_in_scope(world):
    volunteer, officer = world["clients"]["volunteer"], world["clients"]["officer"]
    now = dt.datetime.now(dt.UTC)
    original = photo_bytes(lon=world["lon"], lat=world["lat"], taken=now)
    assert has_exif(original)
    resp = _send(volunteer, world, photos=[("现场.jpg", original)])
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    report_id = int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1))
    with world["engine"].connect() as conn:
        media_id, check, sha = conn.execute(sa.text(
            "SELECT id, exif_check, sha256 FROM report_media WHERE report_id = :r"),
            {"r": report_id}).one()
        community = conn.execute(sa.text("SELECT community_id FROM reports WHERE id = :r"),
                                 {"r": report_id}).scalar_one()
    assert check == "matches" and community == world["community"]
    # the officer's queue shows its thumbnail; the photo as shown carries no EXIF
    queue = officer.get("/reports").get_data(as_text=True)
    assert f"/media/{media_id}/thumb.jpg" in queue and f'id="report-{report_id}"' in queue
    for copy in ("thumb", "shown"):
        served = officer.get(f"/media/{media_id}/{copy}.jpg")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert not has_exif(served.data) and served.data != original
    kept = list(world["settings"].media_dir.rglob(f"{sha}*"))
    assert len(kept) == 3  # the original as evidence, the copy shown, the thumbnail
    # another community's officer: as if it did not exist; the reporter sees their own
    stranger = world["clients"]["stranger"]
    assert stranger.get(f"/media/{media_id}/shown.jpg").status_code == 404
    unknown = 2147483000

    def page_of(media: int) -> str:  # ids and the form token (signed with the second) aside
        text = stranger.get(f"/media/{media}/shown.jpg").get_data(as_text=True)
        text = re.sub(r'(csrf[-_]token" (?:content|value)=")[^"]*', r"\1", text)
        return re.sub(rf"\b({media_id}|{unknown})\b", "N", text)

    assert page_of(media_id) == page_of(unknown)
    assert stranger.post(f"/reports/{report_id}/triage", data={
        "action": "verified", "csrf_token": stranger.csrf}).status_code == 404
    assert volunteer.get(f"/media/{media_id}/thumb.jpg").status_code == 200
    # planners read what was reported where, never who is in it: no photo
    planner = world["clients"]["planner"]
    assert planner.get(f"/media/{media_id}/thumb.jpg").status_code == 404
    assert "/media/" not in planner.get("/reports").get_data(as_text=True)
    assert volunteer.get(f"/media/{media_id}/original.jpg").status_code == 404
    # verified by the officer: paid once, by the category's points
    resp = officer.post(f"/reports/{report_id}/triage", data={
        "action": "verified", "answer": "已出警核查，感谢", "csrf_token": officer.csrf})
    assert resp.status_code == 302
    again = officer.post(f"/reports/{report_id}/triage", data={
        "action": "verified", "csrf_token": officer.csrf})
    assert again.status_code == 409
    points = world["settings"].rules.report_points("suspicious", "verified")
    with world["engine"].connect() as conn:
        paid = conn.execute(sa.text(
            "SELECT points FROM points_ledger WHERE source = 'report' AND item_id = :r"),
            {"r": report_id}).scalars().all()
        actions = conn.execute(sa.text(
            "SELECT action FROM audit_log WHERE target = :t"), {"t": f"report {report_id}"}
        ).scalars().all()
    assert paid == [points] and actions == ["report_verified"]
    mine = volunteer.get("/me").get_data(as_text=True)
    block = mine[mine.index(f'id="my-report-{report_id}"'):]
    assert "已核实" in block[:800] and f"{points} 分" in block[:800]
    assert "已出警核查，感谢" in block[:1200]


def test_a_report_with_a_video_is_served_without_its_location_only_in_scope(
        world, tmp_path):
    volunteer, officer = world["clients"]["volunteer"], world["clients"]["officer"]
    original = video_bytes(tmp_path)
    planted = video_tags(original, tmp_path)  # the phone's place is in it, by both keys
    assert planted["location"] == planted["com.apple.quicktime.location.ISO6709"] == PLANTED
    resp = _send(volunteer, world, category="dispute", video=(io.BytesIO(original), "现场.mp4"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    report_id = int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1))
    with world["engine"].connect() as conn:
        media_id, kind, mime, sha = conn.execute(sa.text(
            "SELECT id, kind, mime, sha256 FROM report_media WHERE report_id = :r"),
            {"r": report_id}).one()
    assert (kind, mime) == ("video", "video/mp4")
    # the original kept as evidence, the clip served, its poster and thumbnail
    assert len(list(world["settings"].media_dir.rglob(f"{sha}*"))) == 4
    queue = officer.get("/reports").get_data(as_text=True)
    assert f'src="/media/{media_id}/clip"' in queue and "<video" in queue
    assert f'poster="/media/{media_id}/thumb.jpg"' in queue
    mine = volunteer.get("/me").get_data(as_text=True)
    block = mine[mine.index(f'id="my-report-{report_id}"'):]
    assert f'src="/media/{media_id}/clip"' in block[:1500]
    for client in (officer, volunteer):
        served = client.get(f"/media/{media_id}/clip")
        assert served.status_code == 200 and served.mimetype == "video/mp4"
        tags = video_tags(served.data, tmp_path)
        assert "location" not in tags and "com.apple.quicktime.location.ISO6709" not in tags
        assert PLANTED not in tags.values() and served.data != original
        assert PLANTED[:8].encode() not in served.data
    poster = officer.get(f"/media/{media_id}/thumb.jpg")
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg"
    assert not has_exif(poster.data)
    # another community's officer and a planner: as if it did not exist
    for role in ("stranger", "planner"):
        other = world["clients"][role]
        assert other.get(f"/media/{media_id}/clip").status_code == 404
        assert other.get(f"/media/{media_id}/thumb.jpg").status_code == 404
    assert "/media/" not in world["clients"]["planner"].get("/reports").get_data(as_text=True)
    # a photo is no video, and the original is never served
    assert officer.get(f"/media/{media_id}/original.jpg").status_code == 404
    with world["engine"].connect() as conn:
        photo_id = conn.execute(sa.text(
            "SELECT min(id) FROM report_media WHERE kind = 'photo'")).scalar_one()
    assert officer.get(f"/media/{photo_id}/clip").status_code == 404


def test_a_webm_video_is_kept_as_webm(world, tmp_path):
    resp = _send(world["clients"]["volunteer"], world, category="traffic",
                 video=(io.BytesIO(video_bytes(tmp_path, seconds=1, fmt="webm")), "v.mp4"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    report_id = int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1))
    with world["engine"].connect() as conn:
        media_id, mime = conn.execute(sa.text(
            "SELECT id, mime FROM report_media WHERE report_id = :r"), {"r": report_id}).one()
    assert mime == "video/webm"  # from its bytes, not its name
    served = world["clients"]["officer"].get(f"/media/{media_id}/clip")
    assert served.status_code == 200 and served.mimetype == "video/webm"
    assert PLANTED not in video_tags(served.data, tmp_path).values()


BAD_VIDEO = {
    "renamed": (lambda d: b"%PDF-1.4 this is no video\n" * 40, {}, "不是可读取的视频",
                "is not a video"),
    "unreadable": (lambda d: b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8, {},
                   "不是可读取的视频", "is not a video"),
    "too_long": (lambda d: video_bytes(d, seconds=3), {"video_max_s": 2.0}, "过长",
                 "too long"),
    "too_large": (lambda d: video_bytes(d), {"video_max_mb": 0.01}, "过大", "too large"),
}


@pytest.mark.parametrize("case", BAD_VIDEO)
def test_each_bad_video_is_refused_in_the_users_language_and_stores_nothing(
        world, case, tmp_path):
    make, changes, zh, en = BAD_VIDEO[case]
    data = make(tmp_path)
    app = create_app({"TESTING": True,
                      "GEO_PATROL_SETTINGS": world["settings"].with_(**changes)})
    client = app.test_client()
    client.csrf = sign_in(client, "c-volunteer")
    before = _stored(world)
    for lang, words in (("zh", zh), ("en", en)):
        resp = _send(client, world, lang=lang, text=f"typed {case}",
                     photos=[("ok.jpg", photo_bytes((64, 48)))],
                     video=(io.BytesIO(data), "clip.mp4"))
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, page[:300]
        assert words in page and 'id="report-error"' in page and "clip.mp4" in page
        assert _stored(world) == before


BAD = {
    "not_image": (lambda w: [("clue.jpg", b"%PDF-1.4 this is no picture\n" * 20)],
                  {}, "不是照片", "is not a photo"),
    "too_large": (lambda w: [("big.jpg", photo_bytes((700, 700), noise=True))],
                  {"media_max_mb": 0.1}, "过大", "too large"),
    "bomb": (lambda w: [("bomb.png", _bomb())], {}, "解压炸弹", "would unpack"),
    "size_lies": (lambda w: [("lies.jpg", photo_bytes((1600, 1200), claimed=(160, 120)))],
                  {}, "EXIF", "claims a smaller size"),
    "too_many": (lambda w: [(f"p{i}.jpg", photo_bytes((64, 48))) for i in range(5)],
                 {}, "最多附 4 张", "at most 4 photos"),
}


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 million pixels in a few kB
    return out.getvalue()


@pytest.mark.parametrize("case", [*BAD, "outside"])
def test_each_bad_input_is_refused_in_the_users_language_and_stores_nothing(world, case):
    settings = world["settings"]
    form: dict[str, str] = {}
    if case == "outside":
        photos, changes, zh, en = [("ok.jpg", photo_bytes((64, 48)))], {}, "不在本市", \
            "not in this city"
        form = {"lon": "24.9384", "lat": "60.1699"}  # Helsinki
    else:
        make, changes, zh, en = BAD[case]
        photos = make(world)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings.with_(**changes)})
    client = app.test_client()
    client.csrf = sign_in(client, "c-volunteer")
    before = _stored(world)
    for lang, words in (("zh", zh), ("en", en)):
        resp = _send(client, world, photos=photos, lang=lang, text=f"typed {case}", **form)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, page[:300]
        assert words in page and 'id="report-error"' in page
        assert f"typed {case}" in page  # what was typed is kept
        assert _stored(world) == before
    # a phone sending a report it kept offline gets the reason as JSON
    resp = client.post("/me/report", data={
        "category": "suspicious", "lon": form.get("lon", f"{world['lon']:.6f}"),
        "lat": form.get("lat", f"{world['lat']:.6f}"), "csrf_token": client.csrf,
        "photos": [(io.BytesIO(b), n) for n, b in photos]},
        content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.json["code"] == case
    assert _stored(world) == before


def test_a_phone_sending_a_kept_report_again_stores_it_once(world):
    volunteer = world["clients"]["volunteer"]
    made = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).timestamp() * 1000)
    kwargs = {"photos": [("a.jpg", photo_bytes((640, 480)))], "key": "3f2c9a1e-77aa-4c1b",
              "made_at": str(made)}
    first = _send(volunteer, world, **kwargs)
    before = _stored(world)
    second = _send(volunteer, world, **kwargs)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert _stored(world) == before
    report_id = int(re.search(r"sent=(\d+)", first.headers["Location"]).group(1))
    with world["engine"].connect() as conn:
        at = conn.execute(sa.text("SELECT reported_at FROM reports WHERE id = :r"),
                          {"r": report_id}).scalar_one()
    assert abs(at.timestamp() * 1000 - made) < 1000  # made offline: its own time


def test_triage_rejects_with_a_reason_merges_adds_a_hazard_and_hands_over(world):
    volunteer, officer, command = (world["clients"][k] for k in ("volunteer", "officer",
                                                                 "command"))
    ids = []
    for i in range(4):
        resp = _send(volunteer, world, text=f"线索 {i}", category="fire_gas",
                     lon=f"{world['lon'] + 0.0007 * i:.6f}")
        ids.append(int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1)))
    no_reason = officer.post(f"/reports/{ids[0]}/triage", data={
        "action": "rejected", "csrf_token": officer.csrf})
    assert no_reason.status_code == 400 and "须写明理由" in no_reason.get_data(as_text=True)
    assert officer.post(f"/reports/{ids[0]}/triage", data={
        "action": "rejected", "answer": "现场核查未发现", "csrf_token": officer.csrf}
    ).status_code == 302
    assert officer.post(f"/reports/{ids[1]}/triage", data={
        "action": "merged", "merge_into": str(ids[0]), "csrf_token": officer.csrf}
    ).status_code == 302
    # the command adds one to the hazard register: the hazard keeps the link
    assert command.post(f"/reports/{ids[2]}/triage", data={
        "action": "hazard", "hazard_category": "gas_lpg", "csrf_token": command.csrf}
    ).status_code == 302
    assert officer.post(f"/reports/{ids[3]}/triage", data={
        "action": "station", "csrf_token": officer.csrf}).status_code == 302
    with world["engine"].connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.text(
            "SELECT id, verification, outcome, duplicate_of, hazard_id, answer FROM reports "
            "WHERE id = ANY(:i)"), {"i": ids})}
        hazard = conn.execute(sa.text(
            "SELECT category, source, proposed, attrs->>'report_id' FROM hazards "
            "WHERE id = :h"), {"h": rows[ids[2]].hazard_id}).one()
        paid = dict(conn.execute(sa.text(
            "SELECT item_id, points FROM points_ledger WHERE source = 'report' "
            "AND item_id = ANY(:i)"), {"i": ids}).all())
    assert rows[ids[0]].verification == "rejected" and rows[ids[0]].answer == "现场核查未发现"
    assert rows[ids[1]].verification == "merged" and rows[ids[1]].duplicate_of == ids[0]
    assert rows[ids[2]].outcome == "hazard"
    assert hazard == ("gas_lpg", "report", False, str(ids[2]))
    assert rows[ids[3]].outcome == "station"
    rules = world["settings"].rules
    assert ids[0] not in paid and ids[1] not in paid
    assert paid.get(ids[2]) == rules.report_points("fire_gas", "hazard")
    mine = volunteer.get("/me").get_data(as_text=True)
    assert "现场核查未发现" in mine and "已合并" in mine


def test_a_photo_whose_exif_puts_the_reporter_elsewhere_is_not_paid(world):
    volunteer, officer = world["clients"]["volunteer"], world["clients"]["officer"]
    far = photo_bytes((640, 480), lon=world["lon"] + 0.05, lat=world["lat"],
                      taken=dt.datetime.now(dt.UTC))
    resp = _send(volunteer, world, photos=[("far.jpg", far)], category="traffic")
    report_id = int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1))
    officer.post(f"/reports/{report_id}/triage", data={"action": "verified",
                                                       "csrf_token": officer.csrf})
    with world["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT exif_check FROM report_media WHERE report_id = :r"),
                            {"r": report_id}).scalar_one() == "far"
        assert conn.execute(sa.text(
            "SELECT count(*) FROM points_ledger WHERE source = 'report' AND item_id = :r"),
            {"r": report_id}).scalar_one() == 0


def test_the_command_sees_report_figures_without_personal_data(world, demo_world):
    from geo_patrol.services import reports
    from geo_patrol.services.maps import district_briefing

    engine, settings = world["engine"], world["settings"]
    now = dt.datetime.now(dt.UTC)
    figures = reports.figures(engine, settings, since=now - dt.timedelta(days=1),
                              until=now + dt.timedelta(hours=1))
    here = figures["table"][figures["table"]["community_id"] == world["community"]]
    fire = here[here["category"] == "fire_gas"].iloc[0]
    assert (fire.reports, fire.verified, fire.rejected, fire.merged, fire.hazards) == \
        (4, 2, 1, 1, 1)
    assert fire.triage_h is not None and fire.triage_h >= 0
    assert figures["share_verified"] is not None and 0 < figures["share_verified"] < 1
    # the briefing of the demo's period: its reports counted, no reporter, text or photo
    with engine.connect() as conn:
        district = conn.execute(sa.text(
            "SELECT d.id FROM areas d JOIN areas c ON ST_Contains(d.geom, "
            "ST_PointOnSurface(c.geom)) WHERE d.level = 'district' AND c.id = :c"),
            {"c": world["community"]}).scalar_one()
        texts = conn.execute(sa.text(
            "SELECT DISTINCT text FROM reports WHERE text IS NOT NULL")).scalars().all()
        numbers = conn.execute(sa.text(
            "SELECT DISTINCT v.number FROM reports r JOIN volunteers v ON v.id = "
            "r.volunteer_id")).scalars().all()
        page = district_briefing(conn, demo_world["run"].run_id, district, settings)
    assert "群众线索（随手拍）" in page
    assert not [t for t in texts if t in page]
    assert not [n for n in numbers if f">{n}<" in page]
    assert "/media/" not in page
    dashboard = world["clients"]["command"].get(f"/dashboard?district={district}")
    assert 'id="report-figures"' in dashboard.get_data(as_text=True)


def test_photos_of_triaged_reports_follow_the_retention_period(world):
    from geo_patrol.services.reports import drop_old_media

    engine, settings = world["engine"], world["settings"]
    pending = _send(world["clients"]["volunteer"], world, category="dispute",
                    photos=[("kept.jpg", photo_bytes((320, 240), noise=True))])
    assert pending.status_code == 302
    with engine.connect() as conn:
        triaged = conn.execute(sa.text(
            "SELECT m.sha256 FROM report_media m JOIN reports r ON r.id = m.report_id "
            "WHERE r.verification <> 'pending'")).scalars().all()
        waiting = conn.execute(sa.text(
            "SELECT m.sha256 FROM report_media m JOIN reports r ON r.id = m.report_id "
            "WHERE r.verification = 'pending'")).scalars().all()
    assert triaged and waiting
    assert drop_old_media(engine, settings, before=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 0
    gone = drop_old_media(engine, settings,
                          before=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert gone == len(set(triaged) - set(waiting))
    root = settings.media_dir
    assert not [p for sha in set(triaged) - set(waiting) for p in root.rglob(f"{sha}*")]
    assert all(list(root.rglob(f"{sha}*")) for sha in waiting)  # pending: still needed


@pytest.fixture()
def bucket():
    """A real S3-compatible server on a free loopback port, with an empty bucket."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="geo-patrol", aws_secret_access_key="secret")
    client.create_bucket(Bucket="clues")
    try:
        yield {"endpoint": endpoint, "client": client}
    finally:
        server.stop()


def test_media_kept_in_an_s3_bucket_are_served_without_exif_and_follow_retention(
        world, bucket):
    from geo_patrol.services.reports import drop_old_media

    engine = world["engine"]
    settings = world["settings"].with_(
        media_url="s3://clues/baotou", s3_endpoint=bucket["endpoint"], s3_key="geo-patrol",
        s3_secret="secret")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    clients = {}
    for role in ("volunteer", "officer"):
        clients[role] = app.test_client()
        clients[role].csrf = sign_in(clients[role], f"c-{role}")
    on_disk = sorted(settings.media_dir.rglob("*"))
    original = photo_bytes((400, 300), lon=world["lon"], lat=world["lat"],
                           taken=dt.datetime.now(dt.UTC), noise=True)
    resp = _send(clients["volunteer"], world, category="lost_person",
                 photos=[("bucket.jpg", original)])
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    report_id = int(re.search(r"sent=(\d+)", resp.headers["Location"]).group(1))
    with engine.connect() as conn:
        media_id, sha = conn.execute(sa.text(
            "SELECT id, sha256 FROM report_media WHERE report_id = :r"), {"r": report_id}).one()

    def objects() -> set[str]:
        listed = bucket["client"].list_objects_v2(Bucket="clues", Prefix="baotou/")
        return {o["Key"] for o in listed.get("Contents", [])}

    assert objects() == {f"baotou/{sha[:2]}/{sha}.jpg", f"baotou/{sha[:2]}/{sha}.shown.jpg",
                         f"baotou/{sha[:2]}/{sha}.thumb.jpg"}
    assert sorted(settings.media_dir.rglob("*")) == on_disk  # nothing under the data dir
    kept = bucket["client"].get_object(Bucket="clues", Key=f"baotou/{sha[:2]}/{sha}.jpg")
    assert kept["Body"].read() == original  # the evidence, as sent
    for copy in ("shown", "thumb"):
        served = clients["officer"].get(f"/media/{media_id}/{copy}.jpg")
        assert served.status_code == 200 and not has_exif(served.data)
    assert world["clients"]["stranger"].get(f"/media/{media_id}/shown.jpg").status_code == 404
    assert clients["officer"].post(f"/reports/{report_id}/triage", data={
        "action": "verified", "csrf_token": clients["officer"].csrf}).status_code == 302
    assert drop_old_media(engine, settings,
                          before=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) >= 1
    assert objects() == set()
    assert clients["officer"].get(f"/media/{media_id}/shown.jpg").status_code == 404


def test_a_report_refused_for_its_place_or_sent_again_decodes_no_photo(world):
    """What costs a query is asked before the photos are decoded: a report with no place, or
    outside the city, is refused for it whatever its photos; one the phone sends again (its
    key) is answered with the report stored, its photos not read again."""
    client = world["app"].test_client()
    client.csrf = sign_in(client, world["users"]["volunteer"])
    json_please = {"Accept": "application/json"}
    def send(**form):
        data = {"category": "suspicious", "text": "车库门口有可疑人员徘徊",
                "lon": f"{world['lon']:.6f}", "lat": f"{world['lat']:.6f}",
                "csrf_token": client.csrf,
                "photos": [(io.BytesIO(b"not a photo at all"), "x.jpg")], **form}
        return client.post("/me/report", data=data, content_type="multipart/form-data",
                           headers=json_please)

    before = _stored(world)
    assert send(lon="", lat="").json["code"] == "place"
    assert send(lon="0.5", lat="0.5").json["code"] == "outside"
    assert send().json["code"] == "not_image"  # (the photo is read once the place holds)
    assert _stored(world) == before
    first = client.post("/me/report", data={
        "category": "suspicious", "text": "车库门口有可疑人员徘徊", "key": "resend-1",
        "lon": f"{world['lon']:.6f}", "lat": f"{world['lat']:.6f}",
        "csrf_token": client.csrf}, content_type="multipart/form-data", headers=json_please)
    assert first.status_code == 201
    again = send(key="resend-1")
    assert again.status_code == 201 and again.json["id"] == first.json["id"]


def test_an_account_sending_reports_without_end_is_told_to_wait(world):
    """Reports one account may send in a while are limited (a loop of photos would fill the
    disk and the officers' queue, and cost their decoding), refused ones too: beyond it, 429
    in the page's language, nothing stored, through the page and the API alike; the phone
    keeps the report for later."""
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": world["settings"],
                      "GEO_PATROL_REPORT_LIMIT": "2 per minute"})
    client = app.test_client()
    client.csrf = sign_in(client, world["users"]["volunteer"])
    assert _send(client, world, text="limit 0", lon="", lat="").status_code == 400
    assert _send(client, world, text="limit 1").status_code == 302
    before = _stored(world)
    page = _send(client, world, text="limit 2")
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "您在短时间内发送的线索较多：请过几分钟再发送。" in page.get_data(as_text=True)
    client.set_cookie("lang", "en")
    kept = client.post("/me/report", data={
        "category": "suspicious", "lon": f"{world['lon']:.6f}", "lat": f"{world['lat']:.6f}",
        "csrf_token": client.csrf}, headers={"Accept": "application/json"})
    assert kept.status_code == 429 and kept.json["message"] == (
        "You have sent many reports in a short time: wait a few minutes and send again.")
    token = issue_token(world["engine"], world["users"]["volunteer"], "reports")
    api = app.test_client().post("/api/reports", json={
        "category": "suspicious", "lon": world["lon"], "lat": world["lat"]},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert api.status_code == 429, api.get_data(as_text=True)
    assert _stored(world) == before

