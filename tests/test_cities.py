"""Several cities in one deployment: each measured in its own UTM zone, its fixes a LIST
partition (then RANGE by day) of the deployment's, its pages and accounts its own."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import sqlalchemy as sa

from geo_patrol.cli import cli
from geo_patrol.store.db import city_head, create_engine
from tests.browsing import browser, page  # noqa: F401  (fixtures)
from tests.helpers import make_user, sign_in, write_roster

BAOTOU = "boundaries/baotou_150200_districts_gcj02.geojson"
CHIFENG = "boundaries/chifeng_150400_districts_gcj02.geojson"
GEOD = pyproj.Geod(ellps="WGS84")


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def two_cities(runner, db_url, shared_data):
    """Baotou (the test city) and Chifeng, each with its real district file loaded."""
    _ok(runner.invoke(cli, ["cities", "add", "chifeng", "--name", "赤峰市", "--name-en",
                            "Chifeng", "--timezone", "Asia/Shanghai"]))
    for key, path in (("baotou", BAOTOU), ("chifeng", CHIFENG)):
        _ok(runner.invoke(cli, ["--city", key, "load", "boundaries", str(shared_data / path),
                                "--level", "district", "--crs", "gcj02", "--code-field",
                                "adcode", "--repair"]))
    return {key: create_engine(db_url, city=key) for key in ("baotou", "chifeng")}


def _geodesic(geoms) -> tuple[np.ndarray, np.ndarray]:
    """Areas (m²) and perimeters (every ring, m) on the ellipsoid: no projection at all."""
    return (np.abs([GEOD.geometry_area_perimeter(g)[0] for g in geoms]),
            np.array([GEOD.geometry_length(g.boundary) for g in geoms]))


def _stored(engine) -> gpd.GeoDataFrame:
    return gpd.read_postgis(sa.text(
        "SELECT name, ST_Area(geom_m) AS area_m2, ST_Perimeter(geom_m) AS perimeter_m, "
        "ST_SRID(geom_m) AS srid, geom FROM areas WHERE level = 'district' ORDER BY name"),
        engine, geom_col="geom")


def test_two_cities_measure_in_their_own_utm_zones(two_cities, shared_data):
    baotou, chifeng = _stored(two_cities["baotou"]), _stored(two_cities["chifeng"])
    assert set(baotou["srid"]) == {32649}  # Baotou, about 110° E: UTM zone 49
    assert set(chifeng["srid"]) == {32650}  # Chifeng, about 119° E: UTM zone 50
    raw = json.loads((shared_data / CHIFENG).read_text(encoding="utf-8"))
    assert sorted(chifeng["name"]) == sorted(f["properties"]["name"] for f in raw["features"])
    assert len(baotou) == 9 and not set(baotou["name"]) & set(chifeng["name"])
    for frame in (baotou, chifeng):
        area, perimeter = _geodesic(frame.geometry)
        # a UTM zone's scale error stays within a few parts in ten thousand near its middle
        assert np.abs(frame["area_m2"] / area - 1).max() < 0.003
        assert np.abs(frame["perimeter_m"] / perimeter - 1).max() < 0.002
    # what a deployment with one CRS would do: Chifeng measured in Baotou's zone is off
    wrong = gpd.GeoSeries(chifeng.geometry, crs=4326).to_crs(32649).area
    assert np.abs(wrong / _geodesic(chifeng.geometry)[0] - 1).max() > 0.006
    total = chifeng["area_m2"].sum() / 1e6
    assert 85_000 < total < 91_000  # Chifeng is about 90,000 km²


def _walk(path, number, lon, lat, start):
    """A straight 1 km walk east, one fix every 10 s at 1.4 m/s, in WGS-84."""
    lons, lats, _ = GEOD.fwd(np.full(72, lon), np.full(72, lat), np.full(72, 90.0),
                             np.arange(72) * 14.0)
    lines = ["volunteer,time,lon,lat,accuracy"]
    for i, (x, y) in enumerate(zip(lons, lats)):
        lines.append(f"{number},{(start + dt.timedelta(seconds=10 * i)).isoformat()},"
                     f"{x:.8f},{y:.8f},5")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fixes_are_partitioned_by_city_then_day_and_lengths_are_true(
        two_cities, runner, tmp_path, db_url):
    day = dt.datetime(2026, 11, 20, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    places = {"baotou": (109.84, 40.66), "chifeng": (118.96, 42.27)}
    for key, (lon, lat) in places.items():
        _ok(runner.invoke(cli, ["--city", key, "load", "volunteers",
                                str(write_roster(tmp_path / f"{key}.csv",
                                                 [("V1", "甲", "", "保安")]))]))
        for n in range(2):  # two days each
            _ok(runner.invoke(cli, ["--city", key, "load", "tracks", "--crs", "wgs84", str(
                _walk(tmp_path / f"{key}{n}.csv", "V1", lon, lat, day + dt.timedelta(days=n)))]))
    deployment = create_engine(db_url)
    with deployment.connect() as conn:
        per_city = dict(conn.execute(sa.text(
            "SELECT city, count(*) FROM public.patrol_fixes GROUP BY city")).all())
        tree = conn.execute(sa.text(
            "SELECT relid::regclass::text, level, isleaf FROM pg_partition_tree("
            "'public.patrol_fixes') ORDER BY level, 1")).all()
        strategies = dict(conn.execute(sa.text(
            "SELECT c.oid::regclass::text, p.partstrat FROM pg_partitioned_table p "
            "JOIN pg_class c ON c.oid = p.partrelid")).all())
    assert per_city == {"baotou": 144, "chifeng": 144}
    assert strategies["patrol_fixes"] == "l"  # public: LIST by city
    assert strategies["city_baotou.patrol_fixes"] == "r"  # each city: RANGE by day
    assert strategies["city_chifeng.patrol_fixes"] == "r"
    leaves = sorted(name for name, level, leaf in tree if leaf)
    assert leaves == [f"city_{k}.patrol_fixes_p202611{d}" for k in places for d in (20, 21)]
    # a 994 m walk is 994 m in either zone (a fix is dropped by neither)
    for key, engine in two_cities.items():
        with engine.connect() as conn:
            lengths = conn.execute(sa.text("SELECT length_m FROM tracks")).scalars().all()
        assert len(lengths) == 2 and all(abs(m - 71 * 14.0) < 1.0 for m in lengths), key


def test_a_command_names_its_city_once_there_are_several(two_cities, runner):
    refused = runner.invoke(cli, ["analyze", "--from", "2026-11-20", "--to", "2026-11-21"])
    assert refused.exit_code == 1
    assert "2 cities (baotou, chifeng): choose one with --city" in refused.output
    unknown = runner.invoke(cli, ["--city", "hohhot", "analyze", "--from", "2026-11-20",
                                  "--to", "2026-11-21"])
    assert unknown.exit_code == 1 and "no city 'hohhot'" in unknown.output
    listing = _ok(runner.invoke(cli, ["cities"]))
    assert "baotou\t包头市\tBaotou" in listing and "chifeng\t赤峰市\tChifeng" in listing
    assert "EPSG" not in listing  # neither declared a CRS: each took its first data's zone
    bad = runner.invoke(cli, ["cities", "add", "Bad-Key", "--name", "x"])
    assert bad.exit_code == 1 and "city key 'Bad-Key'" in bad.output
    zone = runner.invoke(cli, ["cities", "add", "wuhai", "--name", "乌海市", "--timezone",
                               "Mars/Olympus"])
    assert zone.exit_code == 1 and "unknown time zone" in zone.output
    assert "wuhai" not in _ok(runner.invoke(cli, ["cities"]))  # refused: nothing stored
    locked = runner.invoke(cli, ["cities", "set", "chifeng", "--crs", "EPSG:32651"])
    assert locked.exit_code == 1 and "already measures in EPSG:32650" in locked.output


def test_each_city_signs_in_its_own_accounts_and_sees_its_own_areas(two_cities, db_url,
                                                                      tmp_path):
    from geo_patrol.settings import Settings
    from geo_patrol.store.accounts import issue_token
    from web import create_app

    for engine in two_cities.values():  # the same user name in both cities
        make_user(engine, "cmd", "command")
    token = issue_token(two_cities["baotou"], "cmd")
    app = create_app({"GEO_PATROL_SETTINGS": Settings(database_url=db_url,
                                                      data_dir=tmp_path / "d")})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<option value="chifeng">赤峰市</option>' in page
    sign_in(client, "cmd", city="chifeng")
    names = {f["properties"]["name"] for f in client.get("/api/areas").get_json()["features"]}
    assert "红山区" in names and "昆都仑区" not in names
    home = client.get("/dashboard").get_data(as_text=True)
    assert '<span id="city" class="city"' in home and "赤峰市" in home
    client.set_cookie("lang", "en")
    english = client.get("/dashboard").get_data(as_text=True)
    assert ">Chifeng</span>" in english
    # another city's data needs that city's sign-in: pages go to its sign-in, the API refuses
    moved = client.get("/?city=baotou")
    assert moved.status_code == 302 and "/login?city=baotou" in moved.headers["Location"]
    assert client.get("/api/areas?city=baotou").status_code == 403
    # a token is its own city's, whatever else the request says
    bearer = {"Authorization": f"Bearer {token}"}
    fresh = app.test_client()
    names = {f["properties"]["name"] for f in
             fresh.get("/api/areas", headers=bearer).get_json()["features"]}
    assert "昆都仑区" in names and "红山区" not in names
    assert fresh.get("/api/areas?city=chifeng", headers=bearer).status_code == 401


def test_a_database_from_before_cities_becomes_one_city(pg_cluster, tmp_path, shared_data):
    """Tables that lived in ``public`` move into a city's schema, data and all."""
    from geo_patrol.services.cities import cities, open_city, open_deployment
    from geo_patrol.services.sources import load_boundaries
    from geo_patrol.settings import Settings
    from geo_patrol.store.db import _alembic_config
    from alembic import command

    name = "gp_single_city"
    pg_cluster.ensure_database(name)
    url = pg_cluster.url(name)
    old = create_engine(url)
    with old.begin() as conn:  # the single-city layout: revision 0013 in public
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        command.upgrade(_alembic_config(conn), "0013")
    old.dispose()
    # its data
    settings = Settings(database_url=url, data_dir=tmp_path / "d")
    legacy = create_engine(url)  # no city: the default search path, public
    with legacy.begin() as conn:
        conn.execute(sa.text(
            "WITH g AS (SELECT ST_Multi(ST_GeomFromText('POLYGON((109.8 40.6, 109.9 40.6, "
            "109.9 40.7, 109.8 40.6))', 4326)) AS geom) "
            "INSERT INTO areas (level, name, geom, geom_m, attrs) "
            "SELECT 'district', '旧区', geom, ST_Transform(geom, 32649), '{}' FROM g"))
    legacy.dispose()
    deployment = open_deployment(settings)
    assert [c.key for c in cities(deployment)] == ["main"]
    opened = open_city(deployment, settings, upgrade=True)
    with opened.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM areas")).scalars().all() == ["旧区"]
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() \
            == city_head()
    with deployment.connect() as conn:
        left = conn.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('cities', 'deployment_version', 'spatial_ref_sys', "
            "'patrol_fixes')"
        )).scalar_one()
    assert left == 0
    # and it goes on working as a city: a second load next to the old data
    load_boundaries(opened.engine, shared_data / BAOTOU, level="district", crs="gcj02",
                    repair=True, settings=opened.settings)
    deployment.dispose()
    opened.engine.dispose()
    pg_cluster.drop_database(name)



@pytest.fixture
def two_city_server(two_cities, db_url, tmp_path):
    import threading

    from waitress.server import create_server

    from geo_patrol.settings import Settings
    from tests.browsing import _free_port
    from web import create_app

    make_user(two_cities["chifeng"], "cf-command", "command")
    app = create_app({"GEO_PATROL_SETTINGS": Settings(database_url=db_url,
                                                      data_dir=tmp_path / "d")})
    srv = create_server(app, host="127.0.0.1", port=_free_port(), threads=4)
    threading.Thread(target=srv.run, daemon=True).start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


def test_signing_in_to_a_city_in_the_browser(page, two_city_server):
    """What an officer sees: the sign-in page asks for the city, the header names it."""
    from tests.browsing import shot
    from tests.helpers import PASSWORD

    base = two_city_server
    page.goto(f"{base}/login")
    assert page.title().startswith("登录")
    assert page.locator("label", has_text="城市").count() == 1
    assert page.locator("#login-city option").all_inner_texts() == ["包头市", "赤峰市"]
    assert page.locator("#city").count() == 0  # the form is where the city is chosen
    page.select_option("#login-city", "chifeng")
    shot(page, "login-cities-zh")
    page.fill("input[name=username]", "cf-command")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#whoami", timeout=20_000)
    assert page.inner_text("#city") == "赤峰市"
    assert page.inner_text("#switch-city") == "其他城市"
    shot(page, "city-header-zh")
    page.goto(f"{base}/lang/en?next=/dashboard")
    assert page.inner_text("#city") == "Chifeng"
    shot(page, "city-header-en")
    # another city's page leads to that city's sign-in, in the officer's language
    page.click("#switch-city")
    assert "/login?city=baotou" in page.url
    assert page.locator("#login-city").input_value() == "baotou"
    assert page.locator("label", has_text="City").count() == 1
    shot(page, "login-cities-en")


def test_a_phone_reports_to_its_own_city(two_cities, tmp_path):
    """One position intake for the deployment: each phone's positions go to the city it is
    registered in, and a phone registered in two cities is refused, not guessed."""
    import time

    from geo_patrol.ingest.positions import PositionRefused
    from geo_patrol.errors import InputError
    from geo_patrol.services.devices import add_device
    from geo_patrol.services.intake import Intake, Intakes
    from geo_patrol.services.sources import load_volunteers
    from geo_patrol.settings import Settings
    from geo_patrol.store.live import add_device as add_stored
    from geo_patrol.store.volunteers import volunteer_ids

    opened = {}
    for key, engine in two_cities.items():
        settings = Settings(city=key, data_dir=tmp_path / key)
        load_volunteers(engine, write_roster(tmp_path / f"{key}.csv", [("V1", "甲", "", "保安")]),
                        settings=settings)
        add_device(engine, f"phone-{key}", "V1")
        if key == "baotou":
            add_device(engine, "shared-phone", "V1")
        else:  # registering refuses an id another city holds: as registered before it did
            with pytest.raises(InputError, match="another city"):
                add_device(engine, "shared-phone", "V1")
            with engine.begin() as conn:
                volunteer = int(volunteer_ids(conn, ["V1"])["id"].iloc[0])
                add_stored(conn, "shared-phone", volunteer, None)
        opened[key] = Intake(engine, settings)
    intakes = Intakes(opened)
    try:
        now = int(time.time())
        intakes.submit(f"id=phone-chifeng&lat=42.27&lon=118.96&timestamp={now}", b"").result(30)
        intakes.submit(f"id=phone-baotou&lat=40.65&lon=109.84&timestamp={now}", b"").result(30)
        with pytest.raises(PositionRefused, match="more than one city"):
            intakes.submit(f"id=shared-phone&lat=42.27&lon=118.96&timestamp={now}", b"")
        # a Chifeng phone far outside Chifeng is refused by Chifeng's own areas
        with pytest.raises(PositionRefused) as far:
            intakes.submit(f"id=phone-chifeng&lat=40.65&lon=109.84&timestamp={now}", b"")
        assert far.value.reason == "outside_areas"
    finally:
        intakes.close()
    for key, engine in two_cities.items():
        with engine.connect() as conn:
            devices = conn.execute(sa.text(
                "SELECT d.device_id FROM live_positions p JOIN devices d ON d.id = p.device_id"
            )).scalars().all()
        assert devices == [f"phone-{key}"], key
