"""Map documents and briefings: the stored layers of an area, drawn by :mod:`geo_patrol.render`.

The web app serves what these return; the CLI and the demo write the briefings to files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from geo_patrol.errors import NotFoundError
from geo_patrol.render import maps
from geo_patrol.render.briefing import briefing_html
from geo_patrol.rules import Rules
from geo_patrol.render.maps import OWN_BASEMAP
from geo_patrol import clock
from geo_patrol.services import campaigns, crime, evidence, places, reports, trials
from geo_patrol.services.analysis import default_params
from geo_patrol.store import results
from geo_patrol.store.areas import area_features

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database

    from geo_patrol.settings import Settings


def district_map(conn: Connection, run: dict, district_id: int, *, lang: str, rules: Rules,
                 tz: str, basemap: str | None = None,
                 within: frozenset[int] | None = None) -> str:
    """A district's map document: communities link to their pages, streets come as tiles."""
    layers = results.area_layers(conn, run, district_id, level="district", gap_limit=200,
                                 with_inspectors=False, within=within)
    m = maps.district_map(layers, lang, rules, tz=tz, basemap=basemap,
                          link=f"/community/{{id}}?run={run['id']}",
                          tile_url=f"/tiles/segments/{run['id']}/{{z}}/{{x}}/{{y}}.pbf")
    return maps.map_html(m, lang=lang)


def community_map(conn: Connection, run: dict, area_id: int, *, lang: str, rules: Rules,
                  tz: str, basemap: str | None = None, day: dt.date | None = None,
                  people: bool = True) -> str:
    """A community's map document, with one local day's tracks when ``day`` is given; the
    last inspector's masked name only for readers of personal data (``people``)."""
    layers = results.area_layers(conn, run, area_id, level="community",
                                 with_inspectors=people)
    segments = results.segment_layer(conn, run["id"], area_id)
    tracks = results.track_layer(conn, area_id, day, tz=tz) if day else None
    return maps.map_html(maps.community_map(layers, segments, lang, rules, tz=tz, basemap=basemap,
                                            tracks=tracks), lang=lang)


def evidence_figures(db: Database, settings: Settings, run: dict, district_id: int, *,
                     forecast: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a district briefing says of the evidence over the run's period: the forecast
    the city's rotas take their hot spots from (``forecast``, as the stored crime study
    says; the city's evaluation when not given), the dose at the hot spots of the
    district's rotas in the period, the district's trials as they stand at its end, and the
    one stay rule's radius and minutes."""
    first, last = clock.period_days(run["window_start"], run["window_end"], settings.timezone)
    params = default_params(settings)
    return {"forecast": forecast or crime.favoured_method(db, settings),
            "dose": evidence.period_dose(db, settings, district_id, first=first, last=last),
            "trials": trials.area_reports(db, settings, district_id, on=last),
            "stay_min": params.stay_min(settings.rules),
            "radius_m": params.stay_radius_m(settings.rules)}


def district_briefing(conn: Connection, run_id: int, district_id: int, settings: Settings, *,
                      lang: str = "zh", basemap: str | None = None, figures: bool = True,
                      city: str | None = None, level: str = "district",
                      forecast: dict[str, Any] | None = None) -> str:
    """The offline briefing of one district of ``city`` (its name) for a run (no personal
    data), its times and period in the city's time zone (``settings``); with ``figures``, the
    running campaigns' progress, property crime and the evidence (forecast, dose, trials:
    :func:`evidence_figures`) too. With ``level="community"``, the briefing of one community
    (``district_id`` names it), without the district's figures."""
    run = results.find_run(conn, run_id)
    figures = figures and level == "district"
    proof = evidence_figures(conn.engine, settings, run, district_id, forecast=forecast) \
        if figures else None
    crime_figures = crime.briefing_figures(conn.engine, settings, district_id) if figures \
        else None
    running = campaigns.district_progress(conn.engine, settings, district_id) if figures \
        else None
    layers = results.area_layers(conn, run, district_id, level=level, gap_limit=300,
                                 with_inspectors=False)
    clues = reports.figures(conn.engine, settings, since=run["window_start"],
                            until=run["window_end"], area_id=district_id)
    shown = layers.communities if not layers.communities.empty else layers.area
    tiles = places.embedded_tiles(conn, tuple(shown.total_bounds), area=district_id) \
        if basemap in OWN_BASEMAP else None
    return briefing_html(run, layers, results.segment_layer(conn, run_id, district_id),
                         results.area_table(conn, run_id, level="community"),
                         rules=settings.rules, tz=settings.timezone, lang=lang,
                         basemap=basemap, crime=crime_figures, campaigns=running, city=city,
                         reports=clues, tiles=tiles, evidence=proof)


def export_briefing(conn: Connection, run_id: int, district_id: int, out: Path | str,
                    settings: Settings, *, lang: str = "zh", basemap: str | None = None,
                    figures: bool = True, city: str | None = None,
                    forecast: dict[str, Any] | None = None) -> Path:
    """Write :func:`district_briefing` to ``out``."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(district_briefing(conn, run_id, district_id, settings, lang=lang,
                                      basemap=basemap, figures=figures, city=city,
                                      forecast=forecast),
                    encoding="utf-8")
    return path


def live_map(conn: Connection, *, lang: str, basemap: str | None = None,
             within: frozenset[int] | None = None,
             callout: tuple[dict, Any] | None = None, feed: str = "/api/live") -> str:
    """The live map document: community outlines; the force itself comes from ``feed``;
    a call-out's site (:func:`geo_patrol.services.callouts.callout_sites`) marked, its lines
    moved with the volunteers (the feed of that call-out)."""
    features = area_features(conn, "community", within=within)
    if not features:
        raise NotFoundError("no communities are loaded")
    frame = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    return maps.map_html(maps.live_map(frame, lang, basemap=basemap, callout=callout,
                                       feed=feed), lang=lang)


def crime_map(db: Database, settings: Settings, made: crime.Page, *, lang: str,
              basemap: str | None = None) -> str:
    """The crime map document of a stored study's page (:class:`crime.Page`): density
    levels, hot and cold segments, open near-repeat alerts."""
    report = crime.stored_hotspots(db, settings, made)
    data = report.data
    with db.connect() as conn:
        features = area_features(conn, "community", within=crime.scope_ids(db, made.study))
    if not features:
        raise NotFoundError("no communities are loaded")
    areas = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    return maps.map_html(maps.crime_map(areas, crime.spot_layer(report), crime.density(data),
                                        crime.alert_layer(data, made.repeats), lang,
                                        basemap=basemap), lang=lang)


def campaign_map(db: Database, settings: Settings, campaign_id: int, *, lang: str,
                 basemap: str | None = None, within: frozenset[int] | None = None) -> str:
    """The campaign's map document: its units by their state in it, its communities (in
    ``within``, as its page counts them: :func:`campaigns.map_layers`)."""
    layers = campaigns.map_layers(db, settings, campaign_id, within=within)
    if layers.area.empty and layers.units.empty:
        raise NotFoundError("no communities of this campaign are loaded")
    return maps.map_html(maps.campaign_map(layers.units, layers.area, lang, settings.rules,
                                           tz=settings.timezone, basemap=basemap), lang=lang)
