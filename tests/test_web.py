import pytest

from geo_patrol.cli import BAOTOU_DISTRICTS
from geo_patrol.loading import load_boundaries
from web import create_app


@pytest.fixture
def client(settings):
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    return app.test_client()


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
