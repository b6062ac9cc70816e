import pytest

from geo_patrol.services.demo import BAOTOU_DISTRICTS
from geo_patrol.services.sources import load_boundaries
from tests.helpers import ID_PATTERN as ID_NUMBER
from tests.helpers import PHONE_PATTERN as PHONE
from tests.helpers import count, follow_job, make_user, sign_in
from web import create_app


@pytest.fixture
def client(settings, engine):
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    client.csrf = sign_in(client, make_user(engine, "admin", "admin"))
    return client


def test_areas_geojson(client, engine, settings):
    assert client.get("/api/summary").status_code == 404
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                    code_field="adcode", settings=settings)
    resp = client.get("/api/areas?level=district")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 9
    names = {f["properties"]["name"] for f in doc["features"]}
    assert "青山区" in names
    assert "青山区".encode() in resp.data  # not \\u-escaped
    rows = client.get("/api/summary").get_json()
    assert {r["name"] for r in rows} == names


def test_bad_level_is_a_400_with_json(client):
    resp = client.get("/api/areas?level=planet")
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "InputError",
                               "message": "unknown level 'planet': use one of city, district, "
                                          "station, community, grid"}


def test_health(client):
    assert client.get("/api/health").get_json() == {"status": "ok"}


@pytest.fixture(scope="module")
def demo_client(demo_world):
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    client = app.test_client()
    client.csrf = sign_in(client, make_user(demo_world["engine"], "web-command", "command"))
    return client


def test_dashboard_and_pages(demo_client, demo_world):
    run_id = demo_world["run"].run_id
    page = demo_client.get("/dashboard", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "指挥看板" in html and "社区" in html and 'id="district-map"' in html
    english = demo_client.get("/lang/en?next=/dashboard")
    assert english.status_code == 302 and "lang=en" in english.headers["Set-Cookie"]
    html = demo_client.get("/dashboard").get_data(as_text=True)
    assert "District dashboard" in html and "Export briefing" in html
    demo_client.get("/lang/zh?next=/dashboard")
    # the district map and a community page from the stored run
    with demo_world["engine"].connect() as conn:
        import sqlalchemy as sa

        district, community = conn.execute(sa.text(
            "SELECT d.id, c.id FROM areas c JOIN areas s ON s.id = c.parent_id "
            "JOIN areas d ON d.id = s.parent_id JOIN area_results r ON r.area_id = c.id "
            "AND r.run_id = :r WHERE c.level = 'community' ORDER BY r.covered_m DESC LIMIT 1"),
            {"r": run_id}).one()
    dmap = demo_client.get(f"/maps/district/{district}?run={run_id}").get_data(as_text=True)
    assert "/vendor/leaflet.js" in dmap and "/tiles/segments/" in dmap
    assert "cdn" not in dmap.lower() and "unpkg" not in dmap
    cpage = demo_client.get(f"/community/{community}?run={run_id}")
    assert cpage.status_code == 200 and 'id="gaps"' in cpage.get_data(as_text=True)
    cmap = demo_client.get(f"/maps/community/{community}?run={run_id}&day=2026-11-27")
    assert cmap.status_code == 200
    assert demo_client.get("/community/999999").status_code == 404
    hazards = demo_client.get("/hazards?status=overdue").get_data(as_text=True)
    assert "逾期" in hazards
    tile = demo_client.get(f"/tiles/segments/{run_id}/14/13178/6143.pbf")
    assert tile.status_code == 200
    assert tile.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert demo_client.get("/vendor/leaflet.js").status_code == 200
    assert demo_client.get("/vendor/../../etc/passwd").status_code == 404


def test_segment_tiles_bin_streets_below_zoom_14(demo_client, demo_world):
    """From z14 a tile has one feature per street segment with its unrounded days since the
    last visit; below, one per recency bin, whose days is the bin's lower edge, so the map's
    style colours both alike."""
    import mapbox_vector_tile
    import numpy as np

    from geo_patrol.analysis import recency

    run_id = demo_world["run"].run_id

    def features(z: int, x: int, y: int) -> list[dict]:
        tile = demo_client.get(f"/tiles/segments/{run_id}/{z}/{x}/{y}.pbf")
        assert tile.status_code == 200
        return mapbox_vector_tile.decode(tile.data)["segments"]["features"]

    fine = features(14, 13193, 6165)  # the demo centre (109.90, 40.62)
    days = [f["properties"].get("days") for f in fine]
    assert len(fine) > 100 and all(f["geometry"]["type"] == "LineString" for f in fine)
    edges = {lo for lo, _, _ in recency.BINS}
    assert any(d is not None and d not in edges for d in days)  # unrounded
    coarse = features(12, 13193 // 4, 6165 // 4)
    edge_of = {f["properties"].get("days") for f in coarse}
    assert len(coarse) == len(edge_of) <= len(recency.LABELS)
    assert edge_of <= edges | {None}
    # every bin the z14 streets fall in is drawn at z12, which holds them (and more)
    seen = {recency.LABELS[i] for i in recency.recency_bin(
        np.array([np.nan if d is None else d for d in days]))}
    assert seen <= {recency.recency_label(e) for e in edge_of}
    parts = sum(len(f["geometry"]["coordinates"]) if f["geometry"]["type"] ==
                "MultiLineString" else 1 for f in coarse)
    assert parts > len(fine)


def test_api_and_openapi(demo_client, demo_world):
    run_id = demo_world["run"].run_id
    runs = demo_client.get("/api/runs").get_json()
    assert runs[0]["id"] == run_id
    rows = demo_client.get(f"/api/runs/{run_id}/areas?level=community").get_json()
    assert rows and all(0 <= (r["coverage"] or 0) <= 1 for r in rows)
    gaps = demo_client.get(f"/api/runs/{run_id}/gaps?limit=5").get_json()
    assert gaps["type"] == "FeatureCollection" and len(gaps["features"]) == 5
    hz = demo_client.get(f"/api/runs/{run_id}/hazards").get_json()
    names = [f["properties"]["inspector"] for f in hz["features"] if f["properties"]["inspector"]]
    assert names and all("*" in n for n in names)  # masked
    assert demo_client.get("/api/runs/999/gaps").status_code == 404
    spec = demo_client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/runs/{run_id}/gaps" in spec["paths"]


def test_briefing_download(demo_client, demo_world):
    import re

    run_id = demo_world["run"].run_id
    with demo_world["engine"].connect() as conn:
        from geo_patrol.store.results import busiest_district

        district = busiest_district(conn, run_id)
    _, resp = follow_job(demo_client, f"/briefing/{district}?run={run_id}")  # drawn by a job
    assert resp.status_code == 200
    # named after its city, and titled with it
    assert resp.headers["Content-Disposition"].startswith(
        f"attachment; filename=baotou-briefing-{district}-")
    html = resp.get_data(as_text=True)
    assert re.search(r"<title>包头市 [^<]+ · ", html)
    assert "<script src=" not in html and "/vendor/" not in html  # all inlined
    assert not re.search(PHONE, html) and not re.search(ID_NUMBER, html)
    with demo_world["engine"].connect() as conn:
        import sqlalchemy as sa

        phones = conn.execute(sa.text("SELECT phone FROM volunteers WHERE phone IS NOT NULL")
                              ).scalars().all()
    assert phones and not [p for p in phones if p in html]




def test_registry_pages_mask_personal_data(demo_client, demo_world):
    import re

    vols = demo_client.get("/volunteers?occupation=security_guard")
    html = vols.get_data(as_text=True)
    assert vols.status_code == 200 and "****" in html and "保安" in html
    assert not re.search(PHONE, html) and not re.search(ID_NUMBER, html)
    table = html.split('id="volunteers"')[1].split("</table>")[0]
    assert "保安" in table and "出租车司机" not in table  # the filter applies
    reports = demo_client.get("/reports").get_data(as_text=True)
    assert "待核实队列" in reports and 'id="ledger"' in reports
    assert not re.search(PHONE, reports)
    for path in ("/api/runs/1/hazards", "/hazards", "/dashboard"):
        body = demo_client.get(path).get_data(as_text=True)
        assert not re.search(PHONE, body) and not re.search(ID_NUMBER, body), path


def test_upload_page(demo_client, tmp_path):
    import io

    page = demo_client.get("/uploads")
    assert page.status_code == 200 and "volunteers.xlsx" in page.get_data(as_text=True)
    bad = demo_client.post("/uploads", data={
        "kind": "incidents", "crs": "wgs84", "csrf_token": demo_client.csrf,
        "file": (io.BytesIO("category,date,lon,lat\ntheft,2026-11-20,0,0\n".encode()),
                 "bad.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    # in the page's language, in the list of bad rows (row, column, reason)
    assert "<tr><td>2</td><td>位置</td><td>(0, 0) 不是真实位置" in text
    # the city's time zone when none is chosen; the summary in the page's language
    good = demo_client.post("/uploads", data={
        "kind": "incidents", "csrf_token": demo_client.csrf,
        "file": (io.BytesIO("category,date,lon,lat\n盗窃,2026-11-20,109.85,40.62\n".encode()),
                 "jq.csv")}, content_type="multipart/form-data", follow_redirects=True)
    assert good.status_code == 200 and "jq.csv：1 条记录已保存" in good.get_data(as_text=True)


def test_result_exports(demo_client, demo_world, tmp_path):
    import geopandas as gpd

    from geo_patrol.render.exports import escape_cell

    run_id = demo_world["run"].run_id
    for fmt in ("geojson", "gpkg"):
        resp = demo_client.get(f"/export/{run_id}/gaps.{fmt}")
        assert resp.status_code == 200
        path = tmp_path / f"gaps.{fmt}"
        path.write_bytes(resp.data)
        frame = gpd.read_file(path)
        assert len(frame) == demo_world["run"].stats["gaps"] and frame.crs.to_epsg() == 4326
    csv = demo_client.get(f"/export/{run_id}/hazards.csv").data.decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("id,external_id,name")
    assert escape_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and escape_cell("-3") == "'-3"
    assert demo_client.get(f"/export/{run_id}/people.csv").status_code == 400


def test_oversized_upload_is_413(settings, engine):
    import io

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings,
                      "MAX_CONTENT_LENGTH": 1024})
    client = app.test_client()
    token = sign_in(client, make_user(engine, "admin", "admin"))
    resp = client.post("/uploads", data={
        "kind": "tracks", "csrf_token": token, "file": (io.BytesIO(b"x" * 5000), "big.csv")},
        content_type="multipart/form-data")
    assert resp.status_code == 413
    assert count(engine, "uploads") == 0


def test_out_of_range_values_are_client_errors(demo_client):
    """Found by fuzzing the API: ids beyond the database's integer range are a 4xx."""
    for path in ("/api/runs/1/hazards?area=-9468135447&category=%C2%95",
                 "/api/tracks?day=1093-06-07&area=-140587764812",
                 "/api/runs/1/gaps?limit=28353254473&area=7147004270302263091658752",
                 "/api/runs/245329407430/daily/23579", "/community/99999999999999"):
        resp = demo_client.get(path)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)
    assert demo_client.get("/api/runs").status_code == 200
