"""Folium maps of stored results: district choropleth, community detail, hazards.

The base map is the city's own streets and areas as vector tiles (:mod:`.basemap`), unless
an online one is configured. Every element's JS/CSS points at the
local ``/vendor/`` copies (see :mod:`geo_patrol.render.assets`).
"""

from __future__ import annotations

import html
import json
from typing import Any

import folium
import numpy as np
import shapely
from branca.element import MacroElement, Template
from folium.plugins import VectorGridProtobuf
from folium.utilities import JsCode
from jinja2.utils import htmlsafe_json_dumps

from geo_patrol.analysis import recency
from geo_patrol.analysis.places import Place, place_text, place_texts
from geo_patrol.clock import local_text
from geo_patrol.crs import wgs84_to_gcj02
from geo_patrol.privacy import mask_name
from geo_patrol.render.assets import localise
from geo_patrol.render.basemap import BaseMap, MetricScale
from geo_patrol.render.csp import current_nonce, figure_html
from geo_patrol.render.i18n import label, status_label, term

#: Colour of each recency bin (:data:`geo_patrol.analysis.recency.LABELS`, never last).
RECENCY_COLOURS = {"0-1": "#1a9850", "1-3": "#a6d96a", "3-7": "#fdae61", "7+": "#d73027",
                   recency.NEVER: "#7f0000"}
#: Hazards by compliance: hues no street or area colour uses (green means recently patrolled
#: streets and well covered areas, so "compliant" is blue, never green).
COMPLIANCE = {"compliant": "#2166ac", "overdue": "#e7298a", "never_visited": "#49006a",
              "cleared": "#ffffff"}
#: Gaps (wide translucent lines), incident hexagons and the tracks of a day.
GAP_COLOUR, INCIDENT_BINS = "#6a00a8", "#8c510a"
TRACK_COLOURS = {"patrol": "#000000", "passive": "#737373"}
#: Areas without streets have no coverage.
NO_STREETS = "#bdbdbd"
#: Base maps: none (our streets), an XYZ URL, or a known provider. AMap is in GCJ-02, so
#: overlays are shifted to match it.
BASEMAPS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap", False),
    "amap": ("https://webrd01.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}", "© AMap",
             True),
    "tianditu": ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION="
                 "1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}"
                 "&TILEROW={y}&TILECOL={x}", "© 天地图", False),
}


def coverage_colour(value: float | None) -> str:
    """Red (0 %) through yellow to green (100 %); grey when there are no streets."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return NO_STREETS
    v = float(min(max(value, 0.0), 1.0))
    r = int(215 + (26 - 215) * max(0.0, v - 0.5) * 2) if v > 0.5 else 215
    g = int(48 + (152 - 48) * min(1.0, v * 2)) if v <= 0.5 else 152 + int((200 - 152) * (v - 0.5))
    return f"#{r:02x}{g:02x}{39:02x}"


def recency_colour(days: float | None) -> str:
    """The colour of a street visited ``days`` before the window's end (None: never)."""
    return RECENCY_COLOURS[recency.recency_label(days)]


def recency_style_js() -> str:
    """The vector-tile style function, binning ``days`` exactly as :func:`recency_colour`."""
    tests = " : ".join(f"d < {hi:g} ? '{RECENCY_COLOURS[name]}'"
                       for _, hi, name in recency.BINS[:-1])
    return ("function (p, z) { var d = p.days; var c = (d === undefined || d === null) ? '"
            f"{RECENCY_COLOURS[recency.NEVER]}' : {tests} : "
            f"'{RECENCY_COLOURS[recency.BINS[-1][2]]}'; "
            "return {color: c, weight: z > 14 ? 3 : 1.5, opacity: 0.9}; }")


#: Below this zoom a segment tile holds one feature per recency bin instead of one per
#: segment (a z12 tile of a city centre has 20,000): the lines drawn are the same.
BINNED_BELOW_ZOOM = 14


def tile_bin_edges(z: int) -> tuple[float, ...] | None:
    """The recency bins' lower edges for a segment tile at zoom ``z`` (None: per segment);
    each bin's features carry its lower edge, which :func:`recency_style_js` bins alike."""
    return tuple(lo for lo, _, _ in recency.BINS) if z < BINNED_BELOW_ZOOM else None


#: The closest a map opens at when fitted to what it shows: a short stretch of street is
#: shown with its cross streets and their names around it.
FIT_MAX_ZOOM = 17
#: Base-map settings that mean the city's own streets (the offline default).
OWN_BASEMAP = (None, "", "none", "local")


def base_map(bounds: tuple[float, float, float, float], *, lang: str,
             basemap: str | None = None, canvas: bool = True) -> tuple[folium.Map, bool]:
    """An empty map fitted to ``bounds`` over the base map; returns (map, shift overlays to
    GCJ-02).

    The base map is the city's own (:class:`geo_patrol.render.basemap.BaseMap`: streets
    with names, area outlines) unless ``basemap`` names an online one (a known provider or
    an XYZ URL). ``canvas`` draws vectors on one canvas (fast for thousands of lines);
    without it every feature is an SVG element (clickable, for a few dozen areas). The
    credit in its corner and its legend (:func:`finish`) read in ``lang``."""
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=canvas, zoom_control=True)
    localise(m)
    m.gp_lang = lang
    Credit(lang).add_to(m)
    shift = False
    if basemap in OWN_BASEMAP:
        BaseMap(attribution=osm_credit(lang)).add_to(m)
    else:
        url, attr, shift = BASEMAPS.get(basemap, (basemap, "basemap", False))
        if basemap == "osm":
            attr = osm_credit(lang)
        folium.TileLayer(tiles=url, attr=attr, name="basemap").add_to(m)
        MetricScale().add_to(m)
    m.gp_datum = "gcj02" if shift else "wgs84"  # what the search box asks answers in
    x0, y0, x1, y1 = bounds
    if shift:
        (x0, x1), (y0, y1) = wgs84_to_gcj02(np.array([x0, x1]), np.array([y0, y1]))
    # a small site (a task's stretch of street) is shown among its cross streets, not alone
    m.fit_bounds([[float(y0), float(x0)], [float(y1), float(x1)]], max_zoom=FIT_MAX_ZOOM)
    return m, shift


#: Properties that styles and links read (never shown as text): not HTML-escaped.
STYLE_PROPS = frozenset({"colour", "href", "op"})


def _shown(key: str, value: Any) -> Any:
    """A property value as folium's popups and tooltips may show it: they put it into
    ``innerHTML``, so text is escaped here, at the render boundary."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and key not in STYLE_PROPS:
        return html.escape(value, quote=True)
    return value


def geojson_features(frame: Any, props: list[str], shift: bool, digits: int = 6) -> dict:
    """A GeoJSON dict with rounded coordinates (and GCJ-02 when the base map needs it); text
    properties HTML-escaped for popups and tooltips."""
    geoms = frame.geometry.to_numpy()
    if shift:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    geoms = shapely.set_precision(geoms, 10 ** -digits)
    feats = []
    for geom, rec in zip(geoms, frame[props].to_dict("records")):
        if geom is None or shapely.is_empty(geom):
            continue
        clean = {k: _shown(k, v) for k, v in rec.items()}
        feats.append({"type": "Feature", "properties": clean,
                      "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": feats}


def osm_credit(lang: str) -> str:
    """The base map's data credit (OpenStreetMap), in ``lang``, as Leaflet's attribution."""
    return html.escape(label("osm_credit", lang))


class Credit(MacroElement):
    """The map's credit line in the reader's language: Leaflet's own prefix (an English
    title and a flag by default) replaced by its name titled in ``lang``; each base layer
    adds its data credit (:func:`osm_credit`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          if (map.attributionControl) {
            map.attributionControl.setPrefix({{ this.prefix|tojson }});
          }
          // the zoom buttons' titles in the reader's language too (Leaflet's are English)
          if (map.zoomControl) {
            var zoom = map.zoomControl.getContainer();
            [[".leaflet-control-zoom-in", {{ this.zoom_in|tojson }}],
             [".leaflet-control-zoom-out", {{ this.zoom_out|tojson }}]].forEach(function (b) {
              var button = zoom.querySelector(b[0]);
              if (button) { button.title = b[1]; button.setAttribute("aria-label", b[1]); }
            });
          }
        })();
        {% endmacro %}""")

    def __init__(self, lang: str) -> None:
        super().__init__()
        self._name = "Credit"
        title = html.escape(label("leaflet_title", lang), quote=True)
        self.prefix = f'<a href="https://leafletjs.com" title="{title}">Leaflet</a>'
        self.zoom_in, self.zoom_out = label("zoom_in", lang), label("zoom_out", lang)

    def render(self, **kwargs: Any) -> None:
        super().render(**kwargs)
        # small print: one line on a phone's map, beside the legend and the scale; a popup
        # never wider than the map (its close button, at its top right, stays on the map)
        self.get_root().header.add_child(folium.Element(
            "<style>.leaflet-container .leaflet-control-attribution{font-size:10px;"
            "line-height:1.4}.leaflet-container .leaflet-popup-content{max-width:"
            "calc(100vw - 64px);overflow-wrap:anywhere}</style>"), name="gp_credit_style")


#: A legend opens by itself on a map at least this wide (CSS pixels of the map's own window);
#: on a narrower one (a phone) it stays closed behind its title until tapped.
LEGEND_OPEN_FROM_PX = 600
#: A map less tall than this (CSS pixels: a call-out card's small map on a phone) keeps its
#: search box and its directions box folded behind a button, so that they leave its site in
#: view.
SMALL_MAP_BELOW_PX = 400


class _Corner(MacroElement):
    """A box in a corner of the map (a Leaflet control): an element of ``tag`` and
    ``css_class`` styled by ``css`` and filled by the script ``fill`` (which sees the box
    as ``box`` and the map as ``map``; values put into it go through :func:`_js`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var control = L.control({position: {{ this.position|tojson }}});
          control.onAdd = function () {
            var box = L.DomUtil.create({{ this.tag|tojson }}, {{ this.css_class|tojson }});
            box.style.cssText = {{ this.css|tojson }};
            {{ this.fill }}
            return box;
          };
          control.addTo(map);
        })();
        {% endmacro %}""")

    def __init__(self, name: str, *, position: str, tag: str, css_class: str, css: str,
                 fill: str) -> None:
        super().__init__()
        self._name = name
        self.position, self.tag, self.css_class, self.css = position, tag, css_class, css
        self.fill = fill


def _js(value: Any) -> str:
    """A value as a JavaScript literal safe inside a page's script element."""
    return htmlsafe_json_dumps(value)


class Legend(_Corner):
    """A legend box (a Leaflet control at the bottom left): a title ("Legend", a button that
    opens and closes it) and compact sections of (colour, label) swatches. Open by itself on
    a wide map, closed on a phone's (:data:`LEGEND_OPEN_FROM_PX`)."""

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], lang: str) -> None:
        parts = ['<summary style="cursor:pointer;font-weight:bold;font-size:12px;'
                 'padding:3px 0;min-height:20px">'
                 f'{html.escape(label("legend", lang))}</summary>']
        for title, rows in sections:
            parts.append('<div class="gp-legend-section" style="margin:2px 0 4px">'
                         f'<b>{html.escape(title)}</b><div style="display:flex;flex-wrap:wrap;'
                         'gap:1px 9px">')
            parts += [f'<span class="gp-legend-row" style="white-space:nowrap">'
                      f'<span style="display:inline-block;width:10px;height:10px;'
                      f'background:{colour};margin-right:4px;vertical-align:middle;'
                      f'box-shadow:inset 0 0 0 1px rgba(0,0,0,.45)"></span>'
                      f"{html.escape(text)}</span>" for colour, text in rows]
            parts.append("</div></div>")
        self.html_text = "".join(parts)
        super().__init__(
            "Legend", position="bottomleft", tag="details", css_class="gp-legend",
            css="background:rgba(255,255,255,.94);padding:3px 7px;border-radius:4px;"
                "font:11px/1.3 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3);"
                "max-width:min(300px, calc(100vw - 70px));max-height:45vh;overflow-y:auto",
            fill=f"box.innerHTML = {_js(self.html_text)};\n"
                 f"box.open = map.getContainer().clientWidth >= {LEGEND_OPEN_FROM_PX:d};\n"
                 "L.DomEvent.disableClickPropagation(box);\n"
                 "L.DomEvent.disableScrollPropagation(box);")


class MapTitle(_Corner):
    """The name of the area a map shows, in its top-left corner beside the zoom buttons:
    wrapped on at most two lines (a long name on a phone's map), then cut with an ellipsis,
    never under the layers button or the search box of the top-right corner; the whole name
    is its title (a tip on a desk, read out by a screen reader)."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(
            "MapTitle", position="topleft", tag="div", css_class="gp-map-title",
            css="clear:none;background:rgba(255,255,255,.94);border-radius:4px;"
                "box-shadow:0 1px 4px rgba(0,0,0,.3);padding:4px 8px;"
                "font:bold 14px/1.35 sans-serif;color:#222;box-sizing:border-box;"
                "max-width:calc(100vw - 140px)",
            fill=f"box.title = {_js(text)};\n"
                 'var name = L.DomUtil.create("span", "gp-map-title-text", box);\n'
                 f"name.textContent = {_js(text)};\n"
                 'name.style.cssText = "overflow:hidden;overflow-wrap:anywhere;'
                 'display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2";')


def map_title(m: folium.Map, areas: Any) -> None:
    """Names the map after the one area of ``areas`` (a district's or a community's map)."""
    if len(areas) and isinstance(areas.iloc[0]["name"], str):
        MapTitle(str(areas.iloc[0]["name"])).add_to(m)


def recency_legend(lang: str) -> tuple[str, list[tuple[str, str]]]:
    """The bins as legend rows: "< 1", "1–3", "3–7", "≥ 7" and not patrolled."""
    rows = []
    for lo, hi, name in recency.BINS:
        text = f"< {hi:g}" if lo == 0 else f"≥ {lo:g}" if hi == float("inf") else \
            f"{lo:g}–{hi:g}"
        rows.append((RECENCY_COLOURS[name], text))
    return (label("days_since", lang), rows + [(RECENCY_COLOURS[recency.NEVER],
                                                label("never", lang))])


def compliance_legend(lang: str) -> tuple[str, list[tuple[str, str]]]:
    return (label("hazards", lang), [(c, status_label(s, lang)) for s, c in COMPLIANCE.items()])


def coverage_legend(lang: str) -> tuple[str, list[tuple[str, str]]]:
    """The areas' fill: the share of their streets patrolled, and areas without streets."""
    return (label("coverage_fill", lang), [(coverage_colour(v), f"{100 * v:.0f}%")
                                           for v in (0.0, 0.5, 1.0)]
            + [(NO_STREETS, label("no_streets", lang))])


def layers_legend(lang: str, *, tracks: bool = False) -> tuple[str, list[tuple[str, str]]]:
    """Gaps, incident hexagons and, when shown, tracks."""
    rows = [(GAP_COLOUR, label("gaps", lang)), (INCIDENT_BINS, label("incidents_shaded", lang))]
    if tracks:
        rows += [(TRACK_COLOURS[k], term("kind", k, lang)) for k in TRACK_COLOURS]
    return (label("other_layers", lang), rows)


def add_areas(m: folium.Map, areas: Any, lang: str, shift: bool, *, link: str | None = None,
              name: str = "areas", fill_opacity: float = 0.55) -> None:
    """A coverage choropleth of areas; with ``link`` ("/community/{id}") a popup links out;
    a light ``fill_opacity`` lets the base map's street names show through."""
    frame = areas.copy()
    frame["colour"] = [coverage_colour(v) for v in frame["coverage"]]
    frame["pct"] = [None if v is None or np.isnan(v) else round(100 * v, 1)
                    for v in frame["coverage"].astype(float)]
    frame["href"] = [link.format(id=i) if link else None for i in frame["area_id"]]
    data = geojson_features(frame, ["area_id", "name", "pct", "hazards_overdue", "gaps",
                                    "volunteers", "colour", "href"], shift, 5)
    popup = None
    if link:
        popup = folium.GeoJsonPopup(
            fields=["name", "pct", "hazards_overdue", "gaps"],
            aliases=[label("community", lang), label("coverage_pct", lang),
                     label("overdue", lang), label("gaps", lang)], localize=True)
    folium.GeoJson(
        data, name=name,
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#444",
                                  "weight": 1, "fillOpacity": fill_opacity,
                                  "className": "gp-area"},
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(fields=["name", "pct"],
                                      aliases=[label("area", lang), label("coverage_pct", lang)]),
        popup=popup, popup_keep_highlighted=popup is not None,
        # a click on an area opens its page in the window around the map
        on_each_feature=JsCode(
            "function (feature, layer) { layer.on('click', function () {"
            " if (feature.properties.href) { window.top.location.href ="
            " feature.properties.href; } }); }") if link else None,
    ).add_to(m)


def geojson_layer(m: folium.Map, frame: Any, shift: bool, *, name: str, shown: dict[str, str],
           style: Any, styled: tuple[str, ...] = (), popup: bool = False, digits: int = 6,
           **options: Any) -> None:
    """One GeoJSON layer: the ``shown`` properties (escaped) under their labels in a tooltip
    (or a popup), the ``styled`` ones for ``style`` only."""
    data = geojson_features(frame, [*shown, *styled], shift, digits)
    box = (folium.GeoJsonPopup if popup else folium.GeoJsonTooltip)(
        fields=list(shown), aliases=list(shown.values()))
    folium.GeoJson(data, name=name, style_function=style,
                   **{"popup" if popup else "tooltip": box}, **options).add_to(m)


def add_segments(m: folium.Map, segments: Any, lang: str, shift: bool) -> None:
    """Street segments coloured by days since the last visit (one line per segment)."""
    frame = segments.copy()
    frame["colour"] = [recency_colour(d) for d in frame["days"].astype(float)]
    frame["d"] = [None if np.isnan(v) else round(v, 1) for v in frame["days"].astype(float)]
    geojson_layer(m, frame, shift, name=label("streets", lang), styled=("colour",),
           shown={"name": label("street", lang), "d": label("days_since", lang),
                  "passes_patrol": label("patrol_passes", lang),
                  "passes_passive": label("passive_passes", lang)},
           style=lambda f: {"color": f["properties"]["colour"], "weight": 3, "opacity": 0.9})


def add_gaps(m: folium.Map, gaps: Any, lang: str, shift: bool) -> None:
    """Gaps outlined (wide translucent lines) with their priority."""
    if gaps.empty:
        return
    frame = gaps.copy()
    frame["p"] = frame["priority"].round(2)
    frame["place"] = place_texts(frame, lang)
    geojson_layer(m, frame, shift, name=label("gaps", lang),
           shown={"place": label("gap", lang), "hazards_overdue":
                  label("overdue", lang), "incidents": label("incidents", lang),
                  "p": label("priority", lang)},
           style=lambda f: {"color": GAP_COLOUR, "weight": 9, "opacity": 0.35})


def add_hazards(m: folium.Map, hazards: Any, lang: str, shift: bool, rules: Any, *,
                tz: str) -> None:
    """Hazards as circles coloured by compliance; popups give the rule and last inspection."""
    if hazards.empty:
        return
    frame = hazards.copy()
    rule = [rules.categories.get(c, rules.categories["other"]) for c in frame["category"]]
    frame["colour"] = frame["status"].map(COMPLIANCE).fillna("#969696")
    frame["rule"] = [r.describe("zh" if lang == "zh" else "en") for r in rule]
    frame["kind"] = [r.label(lang) for r in rule]
    frame["state"] = [status_label(s, lang) for s in frame["status"]]
    frame["last"] = [local_text(v, tz, "short") or "—" for v in frame["last_inspection"]]
    frame["by"] = [mask_name(v) if isinstance(v, str) else "—" for v in frame["inspector"]]
    frame["place"] = place_texts(frame, lang, length=False) if "street" in frame \
        else [""] * len(frame)
    geojson_layer(m, frame, shift, name=label("hazards", lang), styled=("colour",), popup=True,
           shown={"name": label("name", lang), "place": label("place", lang),
                  "kind": label("category", lang),
                  "state": label("status", lang), "rule": label("rule", lang),
                  "last": label("last_inspection", lang), "by": label("inspector", lang)},
           style=lambda f: {"color": "#222", "fillColor": f["properties"]["colour"]},
           marker=folium.CircleMarker(radius=7, weight=2, fill=True, fill_opacity=0.9))


def add_incident_bins(m: folium.Map, bins: Any, lang: str, shift: bool) -> None:
    """Incidents aggregated in hexagons (shaded by count)."""
    if bins.empty:
        return
    frame = bins.copy()
    top = max(int(frame["n"].max()), 1)
    frame["op"] = (0.15 + 0.6 * frame["n"] / top).round(2)
    geojson_layer(m, frame, shift, name=label("incidents", lang), digits=5, styled=("op",),
           shown={"n": label("incidents", lang)}, show=False,
           style=lambda f: {"fillColor": INCIDENT_BINS, "color": INCIDENT_BINS, "weight": 0.5,
                            "fillOpacity": f["properties"]["op"]})


def add_vector_streets(m: folium.Map, url: str, lang: str) -> None:
    """City-wide street recency as vector tiles (``ST_AsMVT``) drawn by Leaflet.VectorGrid."""
    layer = VectorGridProtobuf(url, label("streets", lang), {
        "vectorTileLayerStyles": {"segments": JsCode(recency_style_js())},
        "maxNativeZoom": 17, "interactive": False})
    localise(layer, vectorgrid=True)
    layer.add_to(m)


def finish(m: folium.Map, sections: list[tuple[str, list[tuple[str, str]]]]) -> folium.Map:
    """The legend (in the language the map was made in, :func:`base_map`) and the layer
    switch."""
    Legend(sections, m.gp_lang).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def add_tracks(m: folium.Map, tracks: Any, lang: str, shift: bool) -> None:
    """One day's tracks (simplified, no names): blue patrols, grey passive coverage."""
    if tracks.empty:
        return
    frame = tracks.copy()
    frame["k"] = [term("kind", k, lang) for k in frame["kind"]]
    frame["colour"] = frame["kind"].map(TRACK_COLOURS)
    geojson_layer(m, frame, shift, name=label("tracks", lang), digits=5, styled=("colour",),
           shown={"k": "", "length_m": label("metres", lang)},
           style=lambda f: {"color": f["properties"]["colour"], "weight": 2, "opacity": 0.7})


def map_html(m: folium.Map, *, lang: str, nonce: str | None = None) -> str:
    """A served map as one HTML document (its assets linked from ``/vendor/``), with the
    search box (``/static/mapsearch.js`` asking ``/search`` through ``suggest.js``, in
    ``lang``); the scripts folium writes carry the response's CSP nonce (``nonce``, else the
    one of the response being made), the only inline scripts its policy lets run."""
    datum = getattr(m, "gp_datum", "wgs84")
    attrs = {"data-map": m.get_name(),
             "data-url": "/search" + ("?datum=gcj02&" if datum == "gcj02" else "?"),
             "data-placeholder": label("search_places", lang),
             "data-short": label("search_places_short", lang),
             "data-title": label("search_places_long", lang),
             "data-none": label("search_none", lang),
             "data-small": str(SMALL_MAP_BELOW_PX)}
    m.get_root().header.add_child(folium.Element(
        '<script src="/static/suggest.js" defer></script>'
        '<script src="/static/mapsearch.js" defer ' +
        " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) +
        "></script>"))
    nonce = nonce or current_nonce()
    return figure_html(m.get_root(), nonce) if nonce else m.get_root().render()


def district_map(layers: Any, lang: str, rules: Any, *, tz: str, basemap: str | None = None,
                 link: str | None = None, tile_url: str | None = None) -> folium.Map:
    """A district: community choropleth (clickable with ``link``), street recency as vector
    tiles from ``tile_url``, gaps, hazards by compliance and incident hexagons."""
    shown = layers.communities if not layers.communities.empty else layers.area
    m, shift = base_map(tuple(shown.total_bounds), lang=lang, basemap=basemap, canvas=False)
    map_title(m, layers.area)
    add_areas(m, shown, lang, shift, link=link)
    if tile_url and not shift:  # tiles are web mercator of WGS-84: not under GCJ-02 tiles
        add_vector_streets(m, tile_url, lang)
    add_gaps(m, layers.gaps, lang, shift)
    add_hazards(m, layers.hazards, lang, shift, rules, tz=tz)
    add_incident_bins(m, layers.incident_bins, lang, shift)
    return finish(m, [coverage_legend(lang), recency_legend(lang), compliance_legend(lang),
                      layers_legend(lang)])


def community_map(layers: Any, segments: Any, lang: str, rules: Any, *, tz: str,
                  basemap: str | None = None, tracks: Any = None) -> folium.Map:
    """A community: streets by days since the last patrol, gaps, hazards, incident
    hexagons, and one day's tracks when given."""
    m, shift = base_map(tuple(layers.area.total_bounds), lang=lang, basemap=basemap)
    map_title(m, layers.area)
    add_areas(m, layers.area, lang, shift, fill_opacity=0.15)
    add_segments(m, segments, lang, shift)
    add_gaps(m, layers.gaps, lang, shift)
    add_hazards(m, layers.hazards, lang, shift, rules, tz=tz)
    add_incident_bins(m, layers.incident_bins, lang, shift)
    if tracks is not None:
        add_tracks(m, tracks, lang, shift)
    return finish(m, [coverage_legend(lang), recency_legend(lang), compliance_legend(lang),
                      layers_legend(lang, tracks=tracks is not None)])


#: Live states on the map.
LIVE_COLOURS = {"patrolling": "#1a9641", "passive": "#2c7bb6", "idle": "#fdae61",
                "offline": "#9e9e9e"}


#: The incident of a call-out and the lines to the volunteers called to it.
INCIDENT, CALLED = "#b30000", "#08519c"
#: Degrees around a call-out's site and its farthest volunteer left in view, and screen
#: pixels kept free at each side of the map (room for the names drawn above the marks).
SITE_PAD_DEG, SITE_LABEL_PX = 0.002, 30


def callout_tip(r: Any, lang: str) -> str:
    """A called volunteer on the map: number, masked name, way, ETA in their mode, answer."""
    zh = lang == "zh"
    eta = f"{r.eta_s / 60:.0f} 分钟" if zh else f"{r.eta_s / 60:.0f} min"
    walk = f"{r.walk_m:,.0f} 米" if zh else f"{r.walk_m:,.0f} m"
    mode = getattr(r, "mode", "walk")
    return (f"{r.number} {mask_name(r.name) or ''} · {walk} · "
            f"{term('travel_mode', mode, lang)} {eta} · {term('callout_status', r.status, lang)}")


def add_callout(m: folium.Map, incident: dict, targets: Any, lang: str) -> None:
    """A call-out's site: the incident marked (category and place), a line from each called
    volunteer's last position to it with their number, masked name, walk and ETA; the map
    fitted to them all."""
    where = place_text(Place(incident["street"], incident["cross_a"], incident["cross_b"]),
                       lang) if incident.get("street") else ""
    site = [float(incident["lat"]), float(incident["lon"])]
    group = folium.FeatureGroup(name=label("incident_point", lang)).add_to(m)
    points = [site]
    for r in targets.itertuples():
        if r.lon is None or r.lon != r.lon:
            continue
        at = [float(r.lat), float(r.lon)]
        points.append(at)
        text = html.escape(callout_tip(r, lang))
        folium.PolyLine([at, site], color=CALLED, weight=3, opacity=0.85, dash_array="6 4",
                        class_name="gp-callout-line", tooltip=text).add_to(group)
        folium.CircleMarker(at, radius=6, color="#fff", weight=2, fill=True,
                            fill_color=CALLED, fill_opacity=1,
                            class_name="gp-callout-volunteer", tooltip=text).add_to(group)
    kind = term("report", incident["category"], lang)
    title = html.escape(" · ".join(t for t in (kind, where) if t))
    folium.CircleMarker(site, radius=11, color="#fff", weight=3, fill=True,
                        fill_color=INCIDENT, fill_opacity=1, class_name="gp-incident",
                        tooltip=folium.Tooltip(title, permanent=True, direction="top")
                        ).add_to(group)
    # the site in the middle (its name, drawn above it, is then never cut at an edge nor
    # under the search box of the top-right corner), everyone called in view around it
    half_lat = max(abs(p[0] - site[0]) for p in points) + SITE_PAD_DEG
    half_lon = max(abs(p[1] - site[1]) for p in points) + SITE_PAD_DEG
    m.fit_bounds([[site[0] - half_lat, site[1] - half_lon],
                  [site[0] + half_lat, site[1] + half_lon]], padding=(SITE_LABEL_PX,) * 2)


def live_map(communities: Any, lang: str, *, basemap: str | None = None,
             feed: str = "/api/live", callout: tuple[dict, Any] | None = None) -> folium.Map:
    """The force now: community outlines drawn here; volunteers, trails and today's covered
    streets drawn by ``/static/live.js`` from ``feed``, refreshed every few seconds
    (positions are WGS-84, so no GCJ-02 base map is shifted under them); with ``callout``
    (incident, targets: :func:`add_callout`) its site and the lines to those called."""
    if basemap in BASEMAPS and BASEMAPS[basemap][2]:
        basemap = None  # a GCJ-02 base map would sit ~500 m off the phones' WGS-84 positions
    m, shift = base_map(tuple(communities.total_bounds), lang=lang, basemap=basemap,
                        canvas=True)
    frame = communities.copy()
    geojson_layer(m, frame, shift, name=label("community", lang), digits=5,
                  shown={"name": ""},
                  style=lambda f: {"color": "#555", "weight": 1, "fill": False})
    if callout is not None:
        add_callout(m, *callout, lang)
    states = [(LIVE_COLOURS[s], term("live_state", s, lang)) for s in LIVE_COLOURS]
    Legend([(label("live_state", lang), states),
            (label("streets", lang), [("#d7191c", label("covered_today", lang))])],
           lang).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    names = {s: term("live_state", s, lang) for s in LIVE_COLOURS}
    attrs = {"data-map": m.get_name(), "data-feed": feed,
             "data-colours": json.dumps(LIVE_COLOURS), "data-states": json.dumps(names)}
    m.get_root().header.add_child(folium.Element(
        '<script src="/static/live.js" defer ' +
        " ".join(f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items()) +
        "></script>"))
    return m


#: Crime map colours: hot and cold segments, density levels (light to dark), alert areas.
HOT, COLD, ALERT = "#d7301f", "#2c7bb6", "#7a0177"
DENSITY = ("#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33")


def crime_map(areas: Any, spots: Any, surface: Any, alerts: Any, lang: str, *,
              basemap: str | None = None) -> folium.Map:
    """Where crime concentrates: the density surface (shaded levels, no points), Gi* hot
    and cold street segments and the open near-repeat alert areas."""
    m, shift = base_map(tuple(areas.total_bounds), lang=lang, basemap=basemap)
    geojson_layer(m, areas, shift, name=label("community", lang), digits=5,
                  shown={"name": ""}, style=lambda f: {"color": "#555", "weight": 1,
                                                        "fill": False})
    if not surface.empty:
        frame = surface.copy()
        frame["colour"] = [DENSITY[min(int(k), len(DENSITY)) - 1] for k in frame["level"]]
        geojson_layer(m, frame, shift, name=label("density", lang), digits=5,
                      styled=("colour",), shown={"per_km2": label("density", lang)},
                      style=lambda f: {"fillColor": f["properties"]["colour"], "weight": 0,
                                       "fillOpacity": 0.55})
    if not spots.empty:
        frame = spots.copy()
        frame["colour"] = [HOT if s == "hot" else COLD for s in frame["spot"]]
        frame["kind"] = [label("hot_spot" if s == "hot" else "cold_spot", lang)
                         for s in frame["spot"]]
        frame["street"] = place_texts(frame.assign(street=frame["street"].replace("", None)),
                                      lang, length=False)
        geojson_layer(m, frame, shift, name=label("hot_spots", lang), styled=("colour",),
                      shown={"street": label("street", lang), "kind": "",
                             "incidents": label("incidents", lang), "z": label("gi_z", lang)},
                      style=lambda f: {"color": f["properties"]["colour"], "weight": 5,
                                       "opacity": 0.9})
    if not alerts.empty:
        frame = alerts.copy()
        frame["until"] = frame["until"].astype(str)
        geojson_layer(m, frame, shift, name=label("alert", lang), digits=5,
                      shown={"until": label("alert_until", lang)},
                      style=lambda f: {"color": ALERT, "weight": 1.5, "dashArray": "4 3",
                                       "fillColor": ALERT, "fillOpacity": 0.08})
    finish(m, [(label("hot_spots", lang), [(HOT, label("hot_spot", lang)),
                                           (COLD, label("cold_spot", lang)),
                                           (ALERT, label("alert", lang))]),
               (label("density", lang), [
                   (DENSITY[min(int(r.level), len(DENSITY)) - 1], f"≥ {r.per_km2:g}")
                   for r in surface.itertuples()])])
    return m


#: A campaign's units by their state in it (:data:`geo_patrol.analysis.campaign.STATES`):
#: still open in the red of its page's burn-down ("still open"), never visited, or orange
#: once visited; rectified teal; cleared white, as on the hazard maps. None is the chart's
#: blue (visited) or grey (found); the campaign's area is a magenta outline, a colour no
#: unit has.
CAMPAIGN_STATES = {"open_never_visited": "#d7301f", "open_visited": "#fdae61",
                   "rectified": "#35978f", "cleared": "#ffffff"}
CAMPAIGN_AREA = "#e7298a"


def campaign_legend(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The campaign map's legend: each state (the words of the campaign's tables) and its
    area."""
    return [(label("campaign_units", lang),
             [(c, term("campaign_state", s, lang)) for s, c in CAMPAIGN_STATES.items()]),
            (label("campaign_area", lang), [(CAMPAIGN_AREA, label("campaign_area_line", lang))])]


def campaign_map(units: Any, area: Any, lang: str, rules: Any, *, tz: str,
                 basemap: str | None = None) -> folium.Map:
    """A campaign: its communities outlined, its units marked by their state in it, each
    named by place with its category, state, status and last check (no personal data)."""
    shown = area if not area.empty else units
    m, shift = base_map(tuple(shown.total_bounds), lang=lang, basemap=basemap)
    if not area.empty:
        geojson_layer(m, area, shift, name=label("campaign_area", lang), digits=5,
                      shown={"name": label("community", lang), "district": label("district", lang)},
                      style=lambda f: {"color": CAMPAIGN_AREA, "weight": 2, "opacity": 0.9,
                                       "fillColor": CAMPAIGN_AREA, "fillOpacity": 0.04})
    if not units.empty:
        frame = units.copy()
        frame["colour"] = frame["state"].map(CAMPAIGN_STATES)
        frame["place"] = place_texts(frame, lang, length=False)
        frame["kind"] = [rules.categories.get(c, rules.categories["other"]).label(lang)
                         for c in frame["category"]]
        frame["st"] = [term("campaign_state", s, lang) for s in frame["state"]]
        frame["hs"] = [term("hazard_status", s, lang) for s in frame["status"]]
        frame["last"] = [local_text(v, tz, "short") or "—" for v in frame["last_check"]]
        # the most urgent drawn last, on top
        frame = frame.iloc[np.argsort([-list(CAMPAIGN_STATES).index(s) for s in frame["state"]],
                                      kind="stable")]
        geojson_layer(m, frame, shift, name=label("campaign_units", lang), styled=("colour",),
                      popup=True,
                      shown={"name": label("name", lang), "place": label("place", lang),
                             "kind": label("category", lang), "st": label("campaign_state", lang),
                             "hs": label("status", lang), "community": label("community", lang),
                             "last": label("last_check", lang)},
                      style=lambda f: {"color": "#222", "fillColor": f["properties"]["colour"]},
                      marker=folium.CircleMarker(radius=7, weight=1.5, fill=True,
                                                 fill_opacity=0.95))
    return finish(m, campaign_legend(lang))
