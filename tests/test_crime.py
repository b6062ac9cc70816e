"""Crime patterns: concentration, Gi* hot spots, the Knox near-repeat test, times, and the
test of whether hot spots predict; on known answers, on real data (Mesa, San Francisco) and
on the demo through the CLI."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from geo_patrol.analysis import hotspots as hs
from geo_patrol.analysis.crime_times import rhythm
from geo_patrol.analysis.near_repeat import alerts, knox
from geo_patrol.cli import cli
from geo_patrol.errors import InputError
from geo_patrol.ingest.ledgers import crime_class, read_incidents
from geo_patrol.services import crime


def lattice(m: int, step: float = 50.0):
    """A square street grid of ``m`` blocks a side: lines, end nodes, midpoints."""
    segs, nf, nt = [], [], []
    for i in range(m + 1):
        for j in range(m):
            segs.append(((j * step, i * step), ((j + 1) * step, i * step)))
            nf.append(i * (m + 1) + j)
            nt.append(i * (m + 1) + j + 1)
            segs.append(((i * step, j * step), (i * step, (j + 1) * step)))
            nf.append(j * (m + 1) + i)
            nt.append((j + 1) * (m + 1) + i)
    lines = shapely.linestrings(np.array(segs))
    mids = shapely.centroid(lines)
    return lines, np.array(nf), np.array(nt), shapely.get_x(mids), shapely.get_y(mids)


@pytest.fixture(scope="module")
def grid():
    return lattice(40)


def _spots(grid, x, y, seed=3):
    lines, nf, nt, _, _ = grid
    counts = hs.counts_on(hs.snap(x, y, lines, 100), len(lines))
    return counts, hs.gi_star(counts, hs.network_neighbours(nf, nt, 2), permutations=199,
                              seed=seed)


def test_random_pattern_has_no_hot_spot_and_a_planted_cluster_is_found(grid):
    lines, _, _, mx, my = grid
    rng = np.random.default_rng(1)
    side = 40 * 50.0
    x, y = rng.uniform(0, side, 1600), rng.uniform(0, side, 1600)
    for seed in (3, 4, 5):
        _, csr = _spots(grid, x, y, seed)
        assert not csr.hot.any() and not csr.cold.any()
        # without the false discovery rate, about 5 % would look significant
        assert (csr.p_sim <= 0.05).sum() > 0.02 * len(lines)
    px, py = rng.normal(600, 60, 150), rng.normal(1200, 60, 150)
    counts, planted = _spots(grid, np.r_[x, px], np.r_[y, py])
    hot = planted.hot
    assert 20 <= hot.sum() <= 150
    assert not (planted.cold & (np.hypot(mx - 600, my - 1200) < 400)).any()
    assert abs(mx[hot].mean() - 600) < 60 and abs(my[hot].mean() - 1200) < 60
    # every hot segment is within the cluster's reach, none far from it
    assert np.hypot(mx[hot] - 600, my[hot] - 1200).max() < 350
    assert counts.sum() == 1750


def test_exact_p_values_agree_with_the_permutations(grid):
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 2000, 1600), rng.uniform(0, 2000, 1600)
    _, spots = _spots(grid, np.r_[x, rng.normal(1000, 80, 100)],
                      np.r_[y, rng.normal(1000, 80, 100)])
    resolvable = spots.p_sim > 0.02  # where 199 permutations can tell
    assert np.corrcoef(spots.p[resolvable], spots.p_sim[resolvable])[0, 1] > 0.9


def test_concentration_and_prediction_on_known_counts():
    lengths = np.array([100.0] * 10)
    counts = np.array([50, 30, 10, 5, 5, 0, 0, 0, 0, 0], dtype=float)
    c = hs.concentration(counts, lengths, shares=(0.1, 0.2, 0.5))
    assert c.at[0.1] == pytest.approx(0.5) and c.at[0.2] == pytest.approx(0.8)
    assert c.at[0.5] == pytest.approx(1.0) and c.segments_with_any == pytest.approx(0.5)
    test = np.array([8, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    rows = hs.predictive_accuracy({"good": counts, "bad": counts[::-1].copy()}, test, lengths,
                                  shares=(0.1,), random_draws=500)
    by = {p.method: p for p in rows}
    assert by["good"].hit_rate == pytest.approx(0.8) and by["good"].pai == pytest.approx(8.0)
    assert by["good"].pei == pytest.approx(1.0)
    assert by["bad"].hits == 0 and by["bad"].pai == 0
    assert by["random"].pai == pytest.approx(1.0, abs=0.15)


def test_knox_finds_planted_near_repeats_and_none_in_a_random_pattern():
    rng = np.random.default_rng(2)
    n = 2000
    x, y, d = rng.uniform(0, 5000, n), rng.uniform(0, 5000, n), rng.integers(0, 180, n)
    flat = knox(x, y, d, permutations=99)
    assert flat.risk() is None
    assert np.abs(flat.ratio - 1).max() < 0.2 and flat.significant().sum() <= 3
    src = rng.integers(0, n, n // 5)
    px, py = x[src] + rng.normal(0, 30, len(src)), y[src] + rng.normal(0, 30, len(src))
    planted = knox(np.r_[x, px], np.r_[y, py], np.r_[d, d[src] + rng.integers(1, 6, len(src))],
                   permutations=99)
    assert planted.ratio[0, 0] > 2 and planted.p[0, 0] <= 0.01
    assert planted.risk() == (100.0, 7)
    today = dt.date(2026, 6, 30)
    days = [today - dt.timedelta(days=k) for k in (0, 3, 6, 7, 30)]
    open_ = alerts(np.arange(5), np.zeros(5), np.zeros(5), days, (100.0, 7), today)
    assert [a.incident_id for a in open_] == [0, 1, 2]
    assert open_[1].until == dt.date(2026, 7, 4) and open_[1].radius_m == 100
    assert alerts(np.arange(5), np.zeros(5), np.zeros(5), days, None, today) == []


def test_incident_classes():
    assert [crime_class(c) for c in ("入室盗窃", "盗窃电动车", "电信诈骗", "VEHICLE THEFT",
                                     "抢劫", "纠纷", "交通事故", "寻衅滋事", "故意伤害", "噪音扰民")] == [
        "property", "property", "property", "property", "property", "dispute", "traffic",
        "public_order", "violence", "other"]


def test_mesa_crimes_on_their_streets_in_us_feet(shared_data):
    """Real street crimes (libpysal's geodanet, NAD83 Arizona Central in US feet) on their
    own streets, in metres."""
    root = shared_data / "incidents" / "geodanet"
    streets = gpd.read_file(root / "streets.shp")
    crimes = gpd.read_file(root / "crimes.shp")
    utm = streets.estimate_utm_crs()
    s_m, c_m = streets.to_crs(utm), crimes.to_crs(utm)
    ratio = (s_m.length / streets["Length"]).median()
    assert ratio == pytest.approx(0.3048, rel=0.01)  # US survey feet to metres
    lines = np.asarray(s_m.geometry.values)
    on = hs.snap(c_m.geometry.x.to_numpy(), c_m.geometry.y.to_numpy(), lines, 100)
    assert (on >= 0).mean() > 0.95
    counts = hs.counts_on(on, len(lines))
    c = hs.concentration(counts, s_m.length.to_numpy())
    assert c.at[0.1] > 0.3  # crime concentrates: far more than 10 % on 10 % of the length
    nodes = shapely.get_coordinates(shapely.boundary(s_m.geometry.values))
    rounded = np.round(nodes).astype(np.int64)
    keys = rounded[:, 0] * 10_000_000 + rounded[:, 1]
    w = hs.network_neighbours(keys[0::2], keys[1::2], 1)
    assert (np.asarray(w.sum(axis=1)).ravel() > 1).mean() > 0.9  # a connected network
    spots = hs.gi_star(counts, w, permutations=499, seed=1)
    assert not spots.cold.any()
    assert all(counts[spots.hot] + np.asarray(w[spots.hot] @ counts).ravel() > 0)


def test_san_francisco_car_thefts_have_dates_only(shared_data):
    path = shared_data / "incidents" / "sf_cartheft_2012_07.geojson"
    ledger = read_incidents(path, crs=None, tz="America/Los_Angeles")
    frame = ledger.values
    assert len(frame) == 607 and not frame["timed"].any()
    days = frame["occurred_on"]
    r = rhythm(days, frame["occurred_at"].where(frame["timed"]))
    assert not r.hours_known and r.timed_share == 0 and r.by_hour.sum() == 0
    assert r.by_weekday.sum() == 607 and len(r.weeks) in (5, 6)
    pts = gpd.GeoSeries(gpd.points_from_xy(ledger.records.x, ledger.records.y), crs=4326).to_crs(32610)
    day = np.array([(d - min(days)).days for d in days])
    table = knox(pts.x.to_numpy(), pts.y.to_numpy(), day, space_step=200, space_bands=3,
                 time_step=2, time_bands=3, permutations=199)
    assert table.observed.sum() > 0 and np.isfinite(table.ratio).all()
    assert 0.3 < table.ratio.mean() < 3


def test_demo_crime_through_the_cli(demo_world, tmp_path):
    env = {"DATABASE_URL": demo_world["url"], "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
           "GEO_PATROL_METRIC_CRS": ""}
    runner = CliRunner(env=env)
    hot = runner.invoke(cli, ["crime", "hotspots", "--top", "3"])
    assert hot.exit_code == 0, hot.output
    assert "property incidents" in hot.output and "hot and" in hot.output
    n_hot = int(hot.output.split("FDR 0.05): ")[1].split(" hot")[0])
    assert n_hot > 0
    csv = tmp_path / "hot.csv"
    assert runner.invoke(cli, ["crime", "hotspots", "--csv", str(csv)]).exit_code == 0
    text = csv.read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("segment_id,street,cross_a,cross_b,community_id")
    assert text.count(",hot") == n_hot
    when = runner.invoke(cli, ["crime", "patterns"])
    assert when.exit_code == 0 and "busiest hours" in when.output
    assert any(h in when.output.split("busiest hours: ")[1] for h in ("19:00", "20:00", "21:00"))
    repeat = runner.invoke(cli, ["crime", "near-repeat", "--today", "2026-11-28"])
    assert repeat.exit_code == 0 and "near-repeat risk: within" in repeat.output
    ev = runner.invoke(cli, ["crime", "evaluate"])
    assert ev.exit_code == 0 and "predict better than the baselines" in ev.output
    assert " sepp " in ev.output and "4 weeks" in ev.output
    assert "favoured for the rota's hot spots: " in ev.output
    bad = runner.invoke(cli, ["crime", "hotspots", "--days", "3"])
    assert bad.exit_code != 0 and "between 7 and 3660 days" in bad.output
    short = runner.invoke(cli, ["crime", "evaluate", "--days", "30", "--holdout-weeks", "4"])
    assert short.exit_code != 0 and "too short" in short.output


def test_study_refuses_unknown_class():
    with pytest.raises(InputError, match="unknown incident class"):
        crime.Study(crime="piracy")


def test_crime_web_scope_api_exports_and_briefing(demo_world, tmp_path):
    import json

    import sqlalchemy as sa

    from geo_patrol.services.maps import export_briefing
    from geo_patrol.store.results import busiest_district
    from tests.helpers import make_user, sign_in
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        community, name = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a WHERE a.level = 'community' ORDER BY a.id LIMIT 1"
        )).one()
        volunteer = conn.execute(sa.text("SELECT number FROM volunteers LIMIT 1")).scalar_one()
    make_user(engine, "k-command", "command")
    make_user(engine, "k-officer", "officer", areas=[name])
    make_user(engine, "k-volunteer", "volunteer", volunteer=volunteer)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})

    def client(user):
        c = app.test_client()
        sign_in(c, user)
        return c

    command = client("k-command")
    geo = command.get("/api/crime/hotspots").get_json()
    assert geo["type"] == "FeatureCollection" and geo["properties"]["hot"] > 0
    assert {f["properties"]["spot"] for f in geo["features"]} <= {"hot", "cold"}
    assert len([f for f in geo["features"] if f["properties"]["spot"] == "hot"]) == \
        geo["properties"]["hot"]
    when = command.get("/api/crime/patterns").get_json()
    assert when["hours_known"] and len(when["by_hour"]) == 7 and sum(when["by_weekday"]) > 0
    nr = command.get("/api/crime/near-repeat?until=2026-11-27").get_json()
    assert nr["risk"]["metres"] in (100.0, 200.0) and nr["risk"]["days"] == 7  # as planted
    assert len(nr["bands"]) == 20
    ev = command.get("/api/crime/evaluation").get_json()
    assert ev["verdict"]["predicts"] and {r["method"] for r in ev["rows"]} == {
        "gi_star", "kde", "last_period", "sepp", "random"}
    assert ev["weeks"] == 4 and ev["favoured"]["method"] in crime.FORECASTS
    assert ev["sepp"]["theta"] >= 0 and ev["sepp"]["sigma_m"] > 0
    csv = command.get("/crime/hotspots.csv")
    assert csv.status_code == 200 and csv.data.decode("utf-8-sig").startswith("segment_id,")
    assert command.get("/crime/knox.csv").data.decode("utf-8-sig").startswith("metres,days")
    assert command.get("/crime/evaluation.csv").status_code == 200
    bad = command.get("/api/crime/hotspots?class=piracy")
    assert bad.status_code == 400 and "unknown incident class" in bad.get_json()["message"]
    assert command.get("/api/crime/hotspots?days=2").status_code == 400
    # an officer sees the incidents of their community only; a volunteer sees none
    officer = client("k-officer")
    mine = officer.get("/api/crime/hotspots").get_json()["properties"]["incidents"]
    with engine.connect() as conn:
        inside = conn.execute(sa.text(
            "SELECT count(*) FROM incidents i JOIN areas a ON a.id = :c "
            "AND ST_Intersects(a.geom_m, i.geom_m) WHERE i.occurred_on > DATE '2026-08-29'"),
            {"c": community}).scalar_one()
    assert 0 < mine < geo["properties"]["incidents"]
    assert mine <= inside
    assert client("k-volunteer").get("/crime").status_code == 403
    assert client("k-volunteer").get("/api/crime/hotspots").status_code == 403
    # the district briefing's property-crime section: street names and counts, no names
    with engine.connect() as conn:
        district = busiest_district(conn, demo_world["run"].run_id)
        path = export_briefing(conn, demo_world["run"].run_id, district,
                               tmp_path / "b.html", settings)
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM volunteers"))]
    text = path.read_text(encoding="utf-8")
    assert "侵财警情热点" in text and "近重复风险" in text
    assert not any(n in text for n in names if len(n) >= 2)
    assert json.dumps(geo)  # plain JSON throughout


def test_open_alert_areas_raise_the_planners_demand(demo_world, on_demo_day):
    from geo_patrol.planning.demand import segment_demand
    from geo_patrol.services.planning import plan_area
    from geo_patrol.planning.plan import PlanParams
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import busiest_district, find_run, segment_demand_rows

    engine, settings = demo_world["engine"], demo_world["settings"]
    run_id = demo_world["run"].run_id
    with engine.connect() as conn:
        district = busiest_district(conn, run_id)
        rows = segment_demand_rows(conn, run_id, district)
    data = crime.load(engine, settings, crime.Study(area_id=district))
    repeats = crime.near_repeat(data, settings)
    assert repeats.alerts  # the demo's last week has incidents inside the risk window
    counts = crime.alerts_per_segment(engine, settings, district, rows["id"])
    assert counts.sum() > 0 and len(counts) == len(rows)
    # an independent check: a segment is reached when it passes within an alert's radius
    seg = data.segments.set_index("id").loc[rows["id"]]
    centres = shapely.points([(a.x, a.y) for a in repeats.alerts])
    radius = repeats.alerts[0].radius_m
    reached = np.array([int((shapely.distance(g, centres) <= radius + 1e-6).sum())
                        for g in seg.geometry.values])
    assert (reached == counts).all()
    base = segment_demand(rows)
    raised = segment_demand(rows.assign(alerts=counts), alert_weight=2.0)
    assert np.allclose(raised["weight"] - base["weight"], 2.0 * counts)
    with engine.connect() as conn:
        plan = plan_area(conn, find_run(conn, run_id), find_area(conn, district),
                         PlanParams(zones=2, minutes=45, alert_weight=5.0), settings=settings)
    # the plan's demand carries the alerts: each reached segment weighs 5 km more per area
    by_id = plan.segments.set_index("id")
    reached_ids = rows["id"][counts > 0]
    assert (by_id.loc[reached_ids, "alerts"] == counts[counts > 0]).all()
    assert np.allclose(by_id.loc[reached_ids, "weight"] - base.set_index("id").loc[
        reached_ids, "weight"], 5.0 * counts[counts > 0])
    with pytest.raises(InputError, match="weights"):
        PlanParams(alert_weight=-1).check()
