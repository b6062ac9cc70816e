"""Evidence: the patrol dose at hot spots (minutes of presence by the one stay rule, against
a plan and Koper's 10–15-minute stop) on known fixes and on the demo's tracks, and its CLI."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from playwright.sync_api import expect

from geo_patrol.analysis import dose
from geo_patrol.analysis import forecast as fc
from geo_patrol.analysis.days import day_bounds
from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.places import distinct_place_texts
from geo_patrol.analysis.visits import place_visits
from geo_patrol.cli import cli
from geo_patrol.errors import InputError
from geo_patrol.planning.crew import SLOTS
from geo_patrol.render.evidence import DOSE_COLOURS, dose_key
from geo_patrol.services import crime, evidence
from geo_patrol.services.analysis import default_params
from geo_patrol.store import rotas as rota_store
from geo_patrol.store.windows import read_fixes
from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import make_user

TZ = "Asia/Shanghai"


def _walk(volunteer: int, x: float, y: float, at: dt.datetime, minutes: float,
          every_s: float = 30.0) -> tuple[np.ndarray, ...]:
    t = at.timestamp() + np.arange(0, minutes * 60 + 1, every_s)
    return (np.full(len(t), volunteer), t, np.full(len(t), x) + 3.0, np.full(len(t), y))


def _fixes(*walks: tuple[np.ndarray, ...]) -> Fixes:
    v, t, x, y = (np.concatenate(c) for c in zip(*walks))
    order = np.lexsort((t, v))
    return Fixes(v[order].astype("int32"), np.zeros(len(t), "int8"), t[order], x[order],
                 y[order])


def test_dose_counts_stays_once_against_the_plan_and_koper():
    zone = ZoneInfo(TZ)
    day = dt.date(2026, 11, 24)
    evening = dt.datetime.combine(day, dt.time(19, 0), zone)
    px, py = np.array([0.0, 1000.0]), np.array([0.0, 0.0])
    fixes = _fixes(_walk(1, 0, 0, evening, 12),  # a Koper stop
                   _walk(2, 0, 0, evening + dt.timedelta(minutes=5), 20),  # longer, overlapping
                   _walk(3, 1000, 0, evening, 3),  # a pass: not a stay
                   _walk(3, 0, 0, evening - dt.timedelta(hours=11), 11))  # the morning
    stays = dose.stays_at(px, py, fixes, radius_m=50, gap_s=120, dwell_min=10)
    assert sorted(stays["volunteer"]) == [1, 2, 3] and set(stays["place"]) == {0}
    cells = dose.dose_cells(stays, timezone=TZ, slots=SLOTS)
    by = cells.set_index("slot")
    assert by.loc["evening", "stays"] == 2 and by.loc["evening", "koper_stays"] == 1
    assert by.loc["evening", "long_stays"] == 1
    # 19:00–19:25: the two volunteers' overlapping stays count once
    assert by.loc["evening", "minutes"] == pytest.approx(25.0)
    assert by.loc["morning", "minutes"] == pytest.approx(11.0)
    plan = pd.DataFrame({"place": [0, 1], "day": [day, day], "slot": ["evening", "evening"],
                         "planned_stops": [1, 1], "planned_min": [15.0, 15.0]})
    table = dose.against_plan(cells, plan)
    # the morning's stay was not planned: it does not make up for the missed place 1
    assert table["delivered_min"].sum() == pytest.approx(15.0)
    assert table["planned_min"].sum() == pytest.approx(30.0)
    week = dose.by_week(table).set_index("place")
    assert week.loc[0, "share"] == pytest.approx(1.0) and week.loc[1, "share"] == 0.0
    assert week.loc[0, "week"] == dt.date(2026, 11, 23)  # the Monday


@pytest.fixture(scope="module")
def demo_spots(demo_world):
    """Demo segments where volunteers stayed on one demo day, and one where none did, with
    the stays found from all the day's fixes (not only those the dose reads near them)."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        last = conn.execute(sa.text(
            "SELECT max(t) FROM patrol_fixes WHERE flags = 0")).scalar_one()
        day = last.astimezone(ZoneInfo(settings.timezone)).date()
        a, b = day_bounds(day, settings.timezone)
        fixes = Fixes(*read_fixes(conn, a, b))
        segs = pd.read_sql_query(sa.text(
            "SELECT id, area_id, ST_X(ST_LineInterpolatePoint(ST_LineMerge(geom_m), 0.5)) x, "
            "ST_Y(ST_LineInterpolatePoint(ST_LineMerge(geom_m), 0.5)) y "
            "FROM street_segments ORDER BY id"), conn)
    params = default_params(settings)
    radius, stay_min = params.stay_radius_m(settings.rules), params.stay_min(settings.rules)
    visits = place_visits(segs["x"].to_numpy(), segs["y"].to_numpy(), fixes, radius=radius,
                          gap_s=params.gap_s)
    stayed = visits.stays(stay_min)
    minutes = pd.Series(visits.minutes[stayed]).groupby(visits.hazard[stayed]).sum()
    chosen = list(minutes.sort_values(ascending=False).index[:3])
    visited = set(visits.hazard.tolist())
    empty = next(i for i in range(len(segs)) if i not in visited)
    return {"day": day, "segments": segs, "stayed": chosen, "empty": empty,
            "stays": visits, "stay_mask": stayed}


#: What the rota's planner stored of Koper's dose against the force it saw.
FORCE_FIGURES = {"hotspots": 4, "hotspot_due": 140, "hotspot_given": 38, "hotspot_missing": 102,
                 "hotspot_missing_h": 68.2, "hotspot_walk_min": 40.1}


@pytest.fixture(scope="module")
def stored_rota(demo_world, demo_spots):
    """A one-day rota on the demo day with a stop planned in every slot at three hot spots
    where volunteers stayed and one where none came, its forecast the city's own choice."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    segs, day = demo_spots["segments"], demo_spots["day"]
    picks = [*demo_spots["stayed"], demo_spots["empty"]]
    zone = ZoneInfo(settings.timezone)
    walks = []
    for i in picks:
        for slot in SLOTS:  # a stop planned in every slot of the day at each hot spot
            walks.append({"day": day, "slot": slot,
                          "starts_at": dt.datetime.combine(day, dt.time(SLOTS[slot][0]), zone),
                          "minutes": 30.0, "kind": "hotspot",
                          "community_id": int(segs["area_id"].iloc[i]), "volunteer_id": None,
                          "length_m": 100.0, "segment_ids": [int(segs["id"].iloc[i])],
                          "hazard_ids": [], "hotspot_segment_id": int(segs["id"].iloc[i]),
                          "wkt": "LINESTRING(111.8 40.6, 111.801 40.6)"})
    forecast = json.loads(json.dumps(crime.favoured_method(engine, settings), default=str))
    with engine.begin() as conn:
        area = conn.execute(sa.text(
            "SELECT d.id FROM areas d WHERE d.level = 'district' "
            "AND :c IN (SELECT area_subtree(d.id))"),
            {"c": int(segs["area_id"].iloc[picks[0]])}).scalar_one()
        rota_id = rota_store.save_rota(conn, area_id=area, run_id=None, start=day, days=1,
                                       revisit_days=1, minutes=90, seed=0,
                                       summary={"forecast": forecast, **FORCE_FIGURES},
                                       by="test", walks=walks)
    return {"id": rota_id, "area": area, "picks": picks, "forecast": forecast}


def test_dose_of_a_stored_rota_on_the_demo(demo_world, demo_spots, stored_rota):
    engine, settings = demo_world["engine"], demo_world["settings"]
    segs, day = demo_spots["segments"], demo_spots["day"]
    picks, rota_id = stored_rota["picks"], stored_rota["id"]
    # the demo's crime repeats near its last incidents: the self-exciting forecast wins
    assert stored_rota["forecast"]["method"] == "sepp"
    assert stored_rota["forecast"]["pai"] > stored_rota["forecast"]["random_pai"]
    got = evidence.dose(engine, settings, rota_id, today=day + dt.timedelta(days=3))
    assert got.until == day and got.forecast == stored_rota["forecast"]
    assert set(got.places["id"]) == {int(segs["id"].iloc[i]) for i in picks}
    assert got.planned_min == pytest.approx(4 * len(SLOTS) * 15.0)
    # the stays read near the hot spots are those of all the day's fixes
    visits, mask = demo_spots["stays"], demo_spots["stay_mask"]
    for i in demo_spots["stayed"]:
        seg_id = int(segs["id"].iloc[i])
        mine = mask & (visits.hazard == i)
        measured = got.cells[got.cells["place"] == seg_id]
        assert measured["stays"].sum() == mine.sum() > 0
        assert measured["minutes"].sum() <= visits.minutes[mine].sum() + 1e-6
    empty_id = int(segs["id"].iloc[demo_spots["empty"]])
    assert got.cells[got.cells["place"] == empty_id]["minutes"].sum() == 0
    totals = got.totals()
    assert 0 < totals["delivered_min"] < got.planned_min and 0 < got.share < 1
    table = got.table()
    assert len(table) == 4 and set(table["week"]) == {dose.week_of(day)}
    assert table.set_index("segment_id").loc[empty_id, "share"] == 0.0
    # before the rota starts nothing is planned yet
    early = evidence.dose(engine, settings, rota_id, today=day - dt.timedelta(days=1))
    assert early.planned_min == 0 and early.share is None

    env = {"DATABASE_URL": demo_world["url"], "GEO_PATROL_DATA_DIR": str(demo_world["root"]),
           "GEO_PATROL_METRIC_CRS": ""}
    runner = CliRunner(env=env)
    out = runner.invoke(cli, ["evidence", "dose", "--rota", str(rota_id),
                              "--today", (day + dt.timedelta(days=3)).isoformat()])
    assert out.exit_code == 0, out.output
    assert f"{totals['delivered_min']:.0f} of {got.planned_min:.0f} planned minutes" in out.output
    assert f"{100 * got.share:.0f}%" in out.output and "self-exciting" in out.output
    missing = runner.invoke(cli, ["evidence", "dose", "--rota", "99999"])
    assert missing.exit_code != 0 and "no rota 99999" in missing.output
    chosen = runner.invoke(cli, ["evidence", "forecast"])
    assert chosen.exit_code == 0, chosen.output
    assert "come from the self-exciting forecast" in chosen.output
    assert f"{stored_rota['forecast']['pai']:.1f}×" in chosen.output


def test_the_forecast_carries_the_bootstraps_intervals(demo_world, stored_rota):
    """The fit the rota stored with its forecast carries the parametric bootstrap's
    intervals, the same as :func:`forecast.bootstrap` gives for the same fit and seed, beside
    the observed information's (kept for the API's readers)."""
    engine, settings = demo_world["engine"], demo_world["settings"]
    fit = stored_rota["forecast"]["sepp"]
    data = crime.load(engine, settings, crime.Study())
    last = dt.date.fromisoformat(stored_rota["forecast"]["test"][0]) \
        + dt.timedelta(weeks=stored_rota["forecast"]["weeks"] - 1)
    model = crime.sepp_scores(data, last)[1]
    assert model.as_dict()["theta"] == fit["theta"] and "intervals" in fit
    segs = data.segments
    mids = segs.geometry.interpolate(0.5, normalized=True)
    boot = fc.bootstrap(model, mids.x.to_numpy(), mids.y.to_numpy(),
                        segs["length_m"].to_numpy(dtype=np.float64), days=model.t_end, seed=0)
    assert fit["bootstrap"] == json.loads(json.dumps(boot.as_dict()))
    assert set(fit["bootstrap"]["intervals"]) == {"background", "theta", "omega",
                                                  "mean_days", "sigma_m"}


def test_the_rota_posts_at_the_favoured_forecasts_hottest_segments(demo_world, stored_rota):
    engine, settings = demo_world["engine"], demo_world["settings"]
    data = crime.load(engine, settings, crime.Study(area_id=stored_rota["area"]))
    start = data.end + dt.timedelta(days=1)
    by_sepp = crime.rota_hotspots(data, "sepp", start=start, k=5)
    risk = crime.forecast_scores(data, "sepp", before=start)
    ids = data.segments["id"].to_numpy()
    assert list(by_sepp) == list(ids[np.argsort(-risk, kind="stable")[:5]])
    assert (risk >= 0).all() and (risk > 0).sum() > 5  # near the incidents: a rate
    table = crime.hotspots(data).table()
    by_gi = crime.rota_hotspots(data, "gi_star", start=start, k=5)
    assert list(by_gi) == list(table[table["spot"] == "hot"].head(5)["segment_id"])
    with pytest.raises(InputError, match="unknown forecast method"):
        crime.forecast_scores(data, "astrology", before=start)


PAGE_WORDS = {
    "zh": {"title": "巡防成效", "method": "近期警情带动的风险", "runner": "以往热点街段",
           "dose": "分钟中的 {got} 分钟", "details": "巡逻时长如何计算", "stays": "驻留 {n} 次",
           "stats": "统计依据", "koper": "Koper 对巡逻驻留的研究", "map": "热点驻巡时间（完成 / 计划）",
           "full": "基本完成（80% 及以上）", "unplanned": "尚未安排驻巡",
           "low": "很少或没有（不到 40%）", "part": "部分完成（40%–80%）",
           "against": "{got} / {planned} 分钟", "theta": "每起警情平均引发的警情",
           "interval": "95% 范围：{lo} 至 {hi}",
           "fit_note": "将鼠标停在数字上可查看其 95% 范围：按模型拟合出的过程模拟 8 份警情，逐份重新拟合模型得出。",
           "force": "计划 140 次热点驻巡，现有力量可完成 38 次，缺 102 次（约 68 人·小时，"
                    "每次驻巡连同巡逻约 40 分钟）"},
    "en": {"title": "Patrol evidence", "method": "risk following recent incidents",
           "runner": "past hot spots", "dose": "{got} of the", "details":
           "How the patrol time is measured", "stays": "Stays: {n}",
           "stats": "The statistics behind it", "koper": "Koper’s study",
           "map": "Patrol time at the hot spots (delivered / planned)",
           "full": "Delivered (80% or more)", "unplanned": "No stop planned yet",
           "low": "Little or none (under 40%)", "part": "Partly (40% to 80%)",
           "against": "{got} / {planned} min",
           "theta": "Incidents each incident triggers, on average",
           "interval": "95% range: {lo} to {hi}",
           "fit_note": "Hover over a figure for its 95% range, from refitting the model to 8 "
                       "simulated copies of what it found.",
           "force": "140 hot-spot stops planned, the force at hand can make 38: 102 missing "
                    "(about 68 volunteer-hours, some 40 minutes each with its walk)"},
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_evidence_page(page, server, demo_world, demo_spots, stored_rota, lang):  # noqa: F811
    engine, settings = demo_world["engine"], demo_world["settings"]
    w = PAGE_WORDS[lang]
    user = f"ev-command-{lang}"
    make_user(engine, user, "command")
    got = evidence.dose(engine, settings, stored_rota["id"])
    t = got.totals()
    sign_in(page, server, user)
    page.goto(f"{server}/lang/{lang}?next=/evidence%3Frota%3D{stored_rota['id']}",
              wait_until="networkidle")
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("h2").inner_text() == w["title"]
    forecast = page.locator("#forecast").inner_text()
    assert w["method"] in forecast and w["runner"] in forecast
    assert f"{stored_rota['forecast']['pai']:.1f}" in forecast
    # plain words: the statistician's names of the forecast and its figure only on hover
    assert not any(t in forecast for t in ("PAI", "Gi*", "自激点", "Self-exciting")), forecast
    assert "PAI" in page.locator("#forecast").get_attribute("title")
    # measured as a job off the web threads (its progress, then the figures it stored)
    page.locator("#dose-summary").wait_for(timeout=120_000)
    page.wait_for_load_state("networkidle")
    summary = page.locator("#dose-summary").inner_text()
    assert w["dose"].format(got=f"{t['delivered_min']:.0f}") in summary
    assert f"{t['planned_min']:.0f}" in summary and f"{100 * got.share:.0f}%" in summary
    assert str(demo_spots["day"]) in summary  # the rota's local day
    # Koper's dose against what the force seen before the rota can make
    assert page.locator("#dose-force").inner_text() == w["force"]
    rows = page.locator("#dose tbody tr")
    assert rows.count() == 4
    assert str(dose.week_of(demo_spots["day"])) in rows.first.inner_text()
    # the dose map: each hot spot's segment in the colour of its share delivered, its
    # place and minutes on hover
    frame = page.frame_locator("#dose-map")
    frame.locator(".gp-legend").wait_for(timeout=30_000)
    legend = frame.locator(".gp-legend").inner_text()
    assert all(w[k] in legend for k in ("map", "full", "low", "unplanned")), legend
    spots = evidence.dose_spots(engine, got)
    assert len(spots) == len(got.places) > 0
    # seen at the district's zoom: a marker at each hot spot, named by its place beside it,
    # its minutes delivered against planned in its popup
    names = frame.locator(".gp-spot-label")
    expect(names).to_have_count(len(spots), timeout=30_000)
    assert sorted(names.all_inner_texts()) == sorted(distinct_place_texts(spots, lang))
    markers = frame.locator("path.gp-spot")
    assert markers.count() == len(spots)
    k = int(np.argmax(spots["delivered_min"].to_numpy()))
    markers.nth(k).dispatch_event("click")
    popup = frame.locator(".gp-spot-popup").inner_text()
    r = spots.iloc[k]
    assert w["against"].format(got=round(r.delivered_min), planned=round(r.planned_min)) \
        in popup, popup
    assert distinct_place_texts(spots, lang)[k] in popup
    # the northernmost hot spot's popup opens below the map's search box, never over it,
    # on a desk's screen and a phone's
    north = int(np.argmax([g.centroid.y for g in spots.geometry]))
    for width in (1440, 360):
        page.set_viewport_size({"width": width, "height": 900})
        frame.locator(".gp-search").wait_for()
        markers.nth(north).dispatch_event("click")
        frame.locator(".gp-spot-popup").wait_for()
        page.wait_for_timeout(400)  # the map pans to the popup
        a = frame.locator(".gp-search").bounding_box()
        b = frame.locator(".leaflet-popup-content-wrapper").bounding_box()
        assert a["y"] + a["height"] <= b["y"] or b["x"] + b["width"] <= a["x"] or \
            a["x"] + a["width"] <= b["x"], (width, a, b)
        page.locator("#dose-map").scroll_into_view_if_needed()
        shot(page, f"evidence-popup-{lang}-{width}")
        # the popup no wider than the map: its close button on the map, closing it at a tap
        m = page.locator("#dose-map").bounding_box()
        c = frame.locator(".leaflet-popup-close-button").bounding_box()
        assert m["x"] <= b["x"] and b["x"] + b["width"] <= m["x"] + m["width"], (width, m, b)
        assert m["x"] <= c["x"] and c["x"] + c["width"] <= m["x"] + m["width"], (width, m, c)
        frame.locator(".leaflet-popup-close-button").click()
        frame.locator(".gp-spot-popup").wait_for(state="detached")
    page.set_viewport_size({"width": 1440, "height": 900})
    # the table's share in the bands of the map and its legend: their colours and words
    shares = got.table()["share"].to_numpy()
    for i, share in enumerate(shares):
        cell = rows.nth(i).locator("td").last
        if share != share:
            assert cell.inner_text().strip() == "–"
            continue
        key = dose_key(share)
        words = w[{"dose_full": "full", "dose_part": "part", "dose_low": "low"}[key]]
        assert cell.get_attribute("title") == words
        assert words.split("（")[0].split(" (")[0] in cell.inner_text()
        assert DOSE_COLOURS[key] in cell.locator("i.swatch").get_attribute("style")
    drawn = page.request.get(f"{server}/maps/dose?rota={stored_rota['id']}").text()
    for key, colour in DOSE_COLOURS.items():
        assert drawn.count(f'"colour": "{colour}"') == sum(
            dose_key(v) == key for v in spots["share"]), key
    for r in spots.itertuples():
        assert f'"delivered": {round(r.delivered_min)}' in drawn
    # the page, its map and its CSV read the one measure: one job for the rota and day
    csv = page.request.get(f"{server}/evidence/dose.csv?rota={stored_rota['id']}")
    assert csv.status == 200
    with engine.connect() as conn:
        made = conn.execute(sa.text(
            "SELECT state FROM jobs WHERE kind = 'dose' AND params->>'rota' = :r"),
            {"r": str(stored_rota["id"])}).scalars().all()
    assert made == ["done"]
    # plain words first: the statistics are folded away until asked for
    details = page.locator("#dose-details")
    assert not details.evaluate("d => d.open") and w["details"] in details.inner_text()
    details.locator("summary").click()
    assert w["stays"].format(n=t["stays"]) in details.inner_text()
    assert w["koper"] in details.inner_text()
    page.locator("#forecast-details summary").click()
    assert w["stats"] in page.locator("#forecast-details").inner_text()
    # the fitted process in plain words, each figure's 95 % range on hover: the bootstrap's
    # (refits of simulated copies, the background estimated anew), not the curvature's
    fit = stored_rota["forecast"]["sepp"]
    theta = page.locator('#forecast-fit [data-fit="theta"]')
    assert theta.inner_text() == f"{fit['theta']:.2f}"
    assert w["theta"] in page.locator("#forecast-fit tr").nth(1).inner_text()
    lo, hi = fit["bootstrap"]["intervals"]["theta"]
    assert lo <= fit["theta"] <= hi and [lo, hi] != fit["intervals"]["theta"]
    assert theta.get_attribute("title") == w["interval"].format(lo=f"{lo:.2f}", hi=f"{hi:.2f}")
    days = page.locator('#forecast-fit [data-fit="mean_days"]')
    assert days.inner_text() == f"{fit['mean_days']:.1f}"
    lo, hi = fit["bootstrap"]["intervals"]["mean_days"]
    assert days.get_attribute("title") == w["interval"].format(lo=f"{lo:.1f}", hi=f"{hi:.1f}")
    assert page.locator("#forecast-fit-note").inner_text() == w["fit_note"]
    theta.hover()
    shot(page, f"evidence-{lang}")
    if lang == "en":
        return
    # an officer of a community outside the rota's district does not reach it
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT a.name FROM areas a WHERE a.level = 'community' AND a.id NOT IN "
            "(SELECT area_subtree(:d)) ORDER BY a.id LIMIT 1"), {"d": stored_rota["area"]}
        ).scalar_one()
    make_user(engine, "ev-officer", "officer", areas=[other])
    page.goto("about:blank")  # the command's map asks for no more tiles once signed out
    page.context.clear_cookies()
    sign_in(page, server, "ev-officer")
    answer = page.request.get(f"{server}/api/evidence/dose?rota={stored_rota['id']}")
    assert answer.status == 404
    assert page.request.get(f"{server}/api/evidence/dose").status == 400
    # nor the progress of the dose job the command's page made; an officer inside it can
    # follow it (their page joins it)
    with engine.connect() as conn:
        job_id = conn.execute(sa.text(
            "SELECT id FROM jobs WHERE kind = 'dose' AND params->>'rota' = :r"),
            {"r": str(stored_rota["id"])}).scalar_one()
        inside = conn.execute(sa.text(
            "SELECT name FROM areas WHERE id = :c"),
            {"c": int(demo_spots["segments"]["area_id"].iloc[stored_rota["picks"][0]])}
        ).scalar_one()
    assert page.request.get(f"{server}/api/jobs/{job_id}").status == 404
    make_user(engine, "ev-officer-in", "officer", areas=[inside])
    page.goto("about:blank")
    page.context.clear_cookies()
    sign_in(page, server, "ev-officer-in")
    assert page.request.get(f"{server}/api/jobs/{job_id}").json()["state"] == "done"


@pytest.fixture(scope="module")
def district_trials(demo_world, stored_rota):
    """Two trials of the rota's district: one over the four weeks up to the demo's last
    day (finished by the briefing's end), and one that lies ahead."""
    from geo_patrol.services import trials
    from geo_patrol.settings import Settings

    engine, settings = demo_world["engine"], demo_world["settings"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Settings, "today", lambda self, now=None: dt.date(2026, 10, 30))
        done, _ = trials.create(engine, settings, by="planner-b", area_id=stored_rota["area"],
                                start=None, weeks=4, spots=8, fall=0.3, seed=4)
    ahead, _ = trials.create(engine, settings, by="planner-b", area_id=stored_rota["area"],
                             start=dt.date.today() + dt.timedelta(days=30), weeks=2, spots=6,
                             fall=0.3, seed=1)
    return {"done": done, "ahead": ahead}


BRIEFING_WORDS = {
    "zh": {"section": "巡防成效：预测、巡逻时长与试验", "method": "排班热点的来源：近期警情带动的风险。",
           "dose": "义警在排班的 {n} 个热点驻留 {got} 分钟，排班计划 {planned} 分钟（{share}%）",
           "stats": "统计依据", "head": "试验 {id}：", "ahead": "将于 {start} 开始",
           "arms": "巡逻组", "pai": "PAI", "too_small": "规模太小，无法判断",
           "cannot_tell": "无法判断巡逻是否带来改变", "fell": "巡逻组热点的警情下降了",
           "rose": "巡逻组热点的警情上升了", "not_delivered": "巡逻没有按设计进行",
           "p": "p = ", "fit": "每起警情平均带动 {theta} 起（{lo} 至 {hi}）",
           "refits": "模拟 8 份警情、逐份重新拟合模型"},
    "en": {"section": "Evidence: forecasts, patrol time and trials",
           "method": "Where rotas take their hot spots: Risk following recent incidents.",
           "dose": "volunteers were at the rotas' {n} hot spots for {got} of the {planned} "
                   "minutes planned ({share}%)",
           "stats": "The statistics behind it", "head": "Trial {id}: ",
           "ahead": "It starts on {start}", "arms": "patrolled", "pai": "PAI",
           "too_small": "Too small to tell", "cannot_tell": "Cannot tell whether",
           "fell": "Incidents fell at the patrolled", "rose": "Incidents rose at the patrolled",
           "not_delivered": "The patrols did not happen as designed", "p": "p = ",
           "fit": "each incident triggers {theta} on average ({lo} to {hi})",
           "refits": "refitting the model to 8 simulated copies of what it found"},
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_briefing_tells_the_forecast_the_dose_and_the_trials(
        page, demo_world, demo_spots, stored_rota, district_trials, tmp_path,  # noqa: F811
        lang):
    """The district briefing (offline, one file) says in plain words where the rotas' hot
    spots come from, how much of the planned patrol time at them was delivered in its
    period, and what the district's trials found; the statistics are folded away."""
    from geo_patrol.render.assets import external_references
    from geo_patrol.services import trials
    from geo_patrol.services.maps import export_briefing

    engine, settings = demo_world["engine"], demo_world["settings"]
    w = BRIEFING_WORDS[lang]
    day = demo_spots["day"]
    with engine.connect() as conn:
        path = export_briefing(conn, demo_world["run"].run_id, stored_rota["area"],
                               tmp_path / f"briefing-{lang}.html", settings, lang=lang)
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM volunteers"))]
        phones = [r[0] for r in conn.execute(sa.text(
            "SELECT phone FROM volunteers WHERE phone IS NOT NULL"))]
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size <= 5 * 1024 * 1024 and external_references(text) == []
    assert not any(n in text for n in names if len(n) >= 2)
    assert not any(p in text for p in phones if p and len(p) >= 7)
    page.goto(path.as_uri(), wait_until="load")
    section = page.locator("#gp-evidence")
    assert section.inner_text() == w["section"]
    # the forecast, in plain words; its PAI behind the fold
    forecast = page.locator("#gp-forecast").inner_text()
    assert w["method"] in forecast and f"{stored_rota['forecast']['pai']:.1f}" in forecast
    stats = page.locator("#gp-forecast + details")
    assert not stats.evaluate("d => d.open") and w["stats"] in stats.inner_text()
    stats.locator("summary").click()
    assert w["pai"] in stats.inner_text()
    # the fitted process with the bootstrap's 95 % ranges, said to come from refits
    fit = stored_rota["forecast"]["sepp"]
    lo, hi = fit["bootstrap"]["intervals"]["theta"]
    said = stats.locator("#gp-forecast-fit").inner_text()
    assert w["fit"].format(theta=f"{fit['theta']:.2f}", lo=f"{lo:.2f}", hi=f"{hi:.2f}") \
        in said, said
    assert w["refits"] in said
    # the rota's one day lies in the briefing's period: its dose, hot spot by hot spot
    got = evidence.dose(engine, settings, stored_rota["id"], today=day).totals()
    share = 100 * got["delivered_min"] / got["planned_min"]
    assert w["dose"].format(n=len(stored_rota["picks"]), got=f"{got['delivered_min']:.0f}",
                            planned=f"{got['planned_min']:.0f}", share=f"{share:.0f}") \
        in page.locator("#gp-dose").inner_text()
    rows = page.locator("#gp-dose-table tbody tr")
    assert rows.count() == len(stored_rota["picks"])
    assert any(rows.nth(i).inner_text().rstrip().endswith("\t0%") for i in range(4))  # no one came
    # the finished trial's verdict in plain words, its statistics folded away
    report = trials.report(engine, settings, district_trials["done"], today=day)
    assert not report.interim and report.verdict in ("too_small", "cannot_tell", "fell", "rose")
    done = page.locator(f"#gp-trial-{district_trials['done']}")
    said = done.inner_text()
    assert said.startswith(w["head"].format(id=district_trials["done"]))
    assert w[report.verdict] in said and w["arms"] in said
    assert (w["not_delivered"] in said) == (not report.delivered)
    folded = done.locator("details")
    assert not folded.evaluate("d => d.open")
    folded.locator("summary").click()
    assert f"{w['p']}{report.inference.p_value:.3f}" in folded.inner_text()
    ahead = page.locator(f"#gp-trial-{district_trials['ahead']}").inner_text()
    start = dt.date.today() + dt.timedelta(days=30)
    assert w["ahead"].format(start=start.isoformat()) in ahead
    shot(page, f"briefing-evidence-{lang}")


def test_the_demo_week_keeps_crime_at_hot_spots_and_less_where_patrols_stayed(
        demo_world, demo_spots, stored_rota, tmp_path):
    """The demo's held incidents of a week, loaded after its patrols: a share of the area's
    property incidents falls at the rota's hot spots (dosed or not), and some of those where
    volunteers stayed do not happen; what is stored is what the report reads."""
    from geo_patrol.demo.generate import Manifest
    from geo_patrol.demo.names import PROPERTY_INCIDENTS
    from geo_patrol.ingest.ledgers import crime_class
    from geo_patrol.services.demo import HOT_SPOT_SHARE, load_recent_incidents

    engine, settings = demo_world["engine"], demo_world["settings"]
    day, segs = demo_spots["day"], demo_spots["segments"]
    with engine.connect() as conn:
        inside = set(conn.execute(sa.text(
            "SELECT id FROM street_segments WHERE area_id IN (SELECT area_subtree(:d))"),
            {"d": stored_rota["area"]}).scalars())
    # the rota's hot spots in its district (where a trial there counts), and those of them
    # where volunteers stayed
    hot = [int(segs["id"].iloc[i]) for i in stored_rota["picks"]
           if int(segs["id"].iloc[i]) in inside]
    stayed = [int(segs["id"].iloc[i]) for i in demo_spots["stayed"]
              if int(segs["id"].iloc[i]) in inside]
    assert stayed
    with engine.connect() as conn:
        where = conn.execute(sa.text(
            "SELECT ST_X(q.p), ST_Y(q.p) FROM street_segments g, LATERAL (SELECT "
            "ST_LineInterpolatePoint(ST_LineMerge(g.geom), 0.5) AS p) q WHERE g.area_id IN "
            "(SELECT area_subtree(:d)) AND g.id <> ALL(:hot) ORDER BY g.id"),
            {"d": stored_rota["area"], "hot": hot}).all()
        before = conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one()
    kinds = [k for k in PROPERTY_INCIDENTS if crime_class(k) == "property"]
    rng = np.random.default_rng(5)
    n = 60
    lines = ["警情编号,警情类别,发案日期,报警时间,经度,纬度"] + [
        f"TQ{k:05d},{kinds[k % len(kinds)]},{day:%Y/%m/%d},20:{k % 60:02d},{lon:.7f},{lat:.7f}"
        for k, (lon, lat) in enumerate(where[i] for i in rng.choice(len(where), n,
                                                                    replace=False))]
    root = tmp_path / "week"
    root.mkdir()
    (root / "held.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    Manifest(seed=7, scale="small", until=str(day + dt.timedelta(days=1)), days=1,
             files=[{"kind": "incidents", "path": "held.csv", "crs": "wgs84",
                     "tz": "Asia/Shanghai", "held": True}]).write(root)
    counts = load_recent_incidents(engine, settings, root, Manifest.read(root),
                                   stored_rota["id"], stored_rota["area"], seed=7)
    # none was on a hot spot: the demo's world put its share there, whatever the dose
    assert counts["moved"] == counts["at_hot_spots"] == round(HOT_SPOT_SHARE * n)
    # the hot spots where volunteers stayed: the effect shows there, and only there
    assert counts["dosed"] == len(stayed)
    assert counts["prevented"] > 0
    assert counts["kept"] + counts["prevented"] <= counts["at_hot_spots"]
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one()
    assert after - before == n - counts["prevented"]
    # what a report reads: the stored incidents of the day at the hot spots
    data = crime.load(engine, settings, crime.Study(area_id=stored_rota["area"], crime="all",
                                                    until=day, days=7))
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    dated = data.dated.assign(seg=np.where(on >= 0, data.segments["id"].to_numpy()[on], -1))
    at = dated[dated["seg"].isin(hot) & dated["klass"].eq("property")
               & dated["day"].eq(day)]
    assert len(at) >= counts["at_hot_spots"] - counts["prevented"]
