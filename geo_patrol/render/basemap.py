"""The offline base map: the city's own streets (by class, with their names along them),
water, green areas and buildings where its OSM extract has them, and district and community
outlines (named), from the app's vector tiles, drawn by
protomaps-leaflet, which places the labels (in a pane of their own above the map's lines);
and a metric scale.

Served maps read ``/tiles/base/{z}/{x}/{y}.pbf``; a briefing carries its district's tiles
inside the file (base64), answered by a ``fetch`` of its own, so it opens with no server.
"""

from __future__ import annotations

import base64
import json

from branca.element import MacroElement, Template
from folium.elements import JSCSSMixin

from geo_patrol.render.assets import VENDOR_PREFIX

#: Where a served map reads its base tiles.
TILE_URL = "/tiles/base/{z}/{x}/{y}.pbf"
#: The URL an embedded base map asks for (answered from the file itself).
EMBEDDED_URL = "gp-tiles/{z}/{x}/{y}.pbf"
#: How a carried tile is written (a data URI, as a file's other binary content is).
TILE_URI = "data:application/vnd.mapbox-vector-tile;base64,"
#: Deepest tiles made: deeper zooms draw these enlarged (protomaps-leaflet's overzoom).
MAX_DATA_ZOOM = 15
#: Deepest tiles the app answers (other clients than ours may ask for them).
MAX_SERVED_ZOOM = 18
#: Zooms a briefing embeds (protomaps-leaflet reads tiles one zoom above the map's).
EMBEDDED_ZOOMS = range(10, MAX_DATA_ZOOM + 1)
#: Street labels from this zoom (arterials one zoom earlier).
LABEL_ZOOM = 14
#: The map zoom at which every street's name shows: protomaps-leaflet draws a map zoom from
#: the tiles (and label rules) of the zoom below it.
NAMED_STREETS_ZOOM = LABEL_ZOOM + 1
#: The pane the names are drawn in, and its stacking order: above Leaflet's overlay pane
#: (400: coverage lines, areas, circles), below its shadow, marker, tooltip and popup panes.
LABEL_PANE, LABEL_PANE_Z = "gpNames", 450
FONT = '"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif'

#: The style: paint and label rules of protomaps-leaflet (``P`` is ``protomapsL``), plain JS.
STYLE_JS = """
function (P) {
  var W = {major: [1.2, 0.6], medium: [1.0, 0.45], minor: [0.7, 0.3], path: [0.4, 0.15]};
  var C = {major: "#f7c873", medium: "#ffe9a8", minor: "#ffffff", path: "#ece7dd"};
  function width(cls) { return function (z) {
    var w = W[cls] || W.minor; return Math.max(0.5, (z - 10) * w[0] + w[1]); }; }
  function cls(name) { return function (z, f) { return f.props["class"] === name; }; }
  function kind(name) { return function (z, f) { return f.props.kind === name; }; }
  function level(name) { return function (z, f) { return f.props.level === name; }; }
  var paint = [
    {dataLayer: "land", filter: kind("green"),
     symbolizer: new P.PolygonSymbolizer({fill: "#d5e8c4"})},
    {dataLayer: "land", filter: kind("water"),
     symbolizer: new P.PolygonSymbolizer({fill: "#a9cfe0"})},
    {dataLayer: "land", filter: kind("building"), minzoom: 14,
     symbolizer: new P.PolygonSymbolizer({fill: "#e2dad0", stroke: "#cdc2b4", width: 0.5})}
  ];
  ["path", "minor", "medium", "major"].forEach(function (name) {
    paint.push({dataLayer: "streets", filter: cls(name), symbolizer: new P.LineSymbolizer(
      {color: "#c9c2b4", width: function (z) { return width(name)(z) + 1.2; }}),
      minzoom: name === "minor" ? 13 : name === "path" ? 15 : 0});
  });
  ["path", "minor", "medium", "major"].forEach(function (name) {
    paint.push({dataLayer: "streets", filter: cls(name),
      symbolizer: new P.LineSymbolizer({color: C[name], width: width(name)}),
      minzoom: name === "minor" ? 13 : name === "path" ? 15 : 0});
  });
  paint.push({dataLayer: "areas", filter: function (z, f) { return f.props.level === "district"; },
    symbolizer: new P.LineSymbolizer({color: "#7b6f8f", width: 2, dash: [6, 3]})});
  paint.push({dataLayer: "areas", filter: function (z, f) { return f.props.level === "community"; },
    symbolizer: new P.LineSymbolizer({color: "#a79fb5", width: 1, dash: [3, 3]}),
    minzoom: 12});
  var font = function (size, weight) { return function () {
    return (weight || 400) + " " + size + "px " + FONT; }; };
  var labels = [
    {dataLayer: "streets", minzoom: LABEL_ZOOM - 1,
     filter: function (z, f) { return f.props.name && (f.props["class"] === "major" ||
                                                        f.props["class"] === "medium"); },
     symbolizer: new P.LineLabelSymbolizer({labelProps: ["name"], fill: "#333", stroke: "#fff",
       width: 3, font: font(13, 500), position: 2, repeatDistance: 400})},
    {dataLayer: "streets", minzoom: LABEL_ZOOM,
     filter: function (z, f) { return f.props.name && (f.props["class"] === "minor" ||
                                                        f.props["class"] === "path"); },
     symbolizer: new P.LineLabelSymbolizer({labelProps: ["name"], fill: "#555", stroke: "#fff",
       width: 3, font: font(12), position: 2, repeatDistance: 300})},
    {dataLayer: "labels", minzoom: 13, filter: level("water"),
     symbolizer: new P.CenteredTextSymbolizer({labelProps: ["name"], fill: "#3f7396",
       stroke: "#fff", width: 2, font: font(12, 400)})},
    {dataLayer: "labels", minzoom: 14, filter: level("green"),
     symbolizer: new P.CenteredTextSymbolizer({labelProps: ["name"], fill: "#4d7a3a",
       stroke: "#fff", width: 2, font: font(12, 400)})},
    {dataLayer: "labels", maxzoom: 12,
     filter: function (z, f) { return f.props.level === "district"; },
     symbolizer: new P.CenteredTextSymbolizer({labelProps: ["name"], fill: "#5e4f7a",
       stroke: "#fff", width: 3, font: font(15, 700)})},
    {dataLayer: "labels", minzoom: 13,
     filter: function (z, f) { return f.props.level === "community"; },
     symbolizer: new P.CenteredTextSymbolizer({labelProps: ["name"], fill: "#6d6280",
       stroke: "#fff", width: 3, font: font(12, 500)})}
  ];
  return {paint: paint, labels: labels};
}
""".replace("FONT", json.dumps(FONT)).replace("LABEL_ZOOM", str(LABEL_ZOOM))


class BaseMap(JSCSSMixin, MacroElement):
    """The offline base map as a Leaflet layer under every overlay; with ``tiles``
    (``{"z/x/y": mvt bytes}``) the tiles travel inside the document."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var P = protomapsL;
          {%- if this.embedded is not none %}
          var tiles = {{ this.embedded|tojson }};
          var empty = new Uint8Array(0);
          var fetched = window.fetch;
          window.fetch = function (url, init) {
            if (typeof url === "string" && url.indexOf("gp-tiles/") === 0) {
              var key = url.slice(9).replace(".pbf", "");
              var uri = tiles[key];
              var bytes = empty;
              if (uri) {
                var bin = atob(uri.slice(uri.indexOf(",") + 1));
                bytes = new Uint8Array(bin.length);
                for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
              }
              return Promise.resolve(new Response(bytes));
            }
            return fetched.apply(this, arguments);
          };
          {%- endif %}
          var style = ({{ this.style }})(P);
          var map = {{ this._parent.get_name() }};
          var layer = P.leafletLayer({url: {{ this.url|tojson }}, paintRules: style.paint,
            labelRules: [], maxDataZoom: {{ this.max_data_zoom }},
            backgroundColor: "#f2efe9", attribution: {{ this.attribution|tojson }},
            maxZoom: 19});
          layer.addTo(map);
          layer.getContainer().classList.add("gp-basemap");
          // street and place names drawn above the map's own lines and areas, under markers
          // and popups, and never in the way of a click
          var pane = map.getPane({{ this.label_pane|tojson }}) ||
            map.createPane({{ this.label_pane|tojson }});
          pane.style.zIndex = {{ this.label_z }};
          pane.style.pointerEvents = "none";
          var names = P.leafletLayer({url: {{ this.url|tojson }}, paintRules: [],
            labelRules: style.labels, maxDataZoom: {{ this.max_data_zoom }},
            pane: {{ this.label_pane|tojson }}, attribution: "", maxZoom: 19});
          names.views = layer.views;  // one tile cache: each tile fetched and parsed once
          names.addTo(map);
          names.getContainer().classList.add("gp-basemap-names");
          L.control.scale({metric: true, imperial: false}).addTo(map);
        })();
        {% endmacro %}""")

    default_js = [("protomaps", VENDOR_PREFIX + "protomaps-leaflet.js")]

    def __init__(self, *, attribution: str, url: str = TILE_URL,
                 tiles: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self._name = "BaseMap"
        self.attribution = attribution  # the data credit (HTML), in the map's language
        self.style = STYLE_JS
        self.max_data_zoom = MAX_DATA_ZOOM
        self.label_pane, self.label_z = LABEL_PANE, LABEL_PANE_Z
        self.url = url
        self.embedded: dict[str, str] | None = None
        if tiles is not None:
            self.embed(tiles)

    def embed(self, tiles: dict[str, bytes]) -> None:
        """Carry ``tiles`` (``{"z/x/y": mvt bytes}``) in the document instead of asking the
        server (a briefing opened from disk)."""
        self.url = EMBEDDED_URL
        self.embedded = {k: TILE_URI + base64.b64encode(v).decode("ascii")
                         for k, v in tiles.items() if v}


class MetricScale(MacroElement):
    """A metric scale bar only (where a map has no base map of ours)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}""")


def base_layer(m: object) -> BaseMap | None:
    """The base map a folium map was given (:func:`geo_patrol.render.maps.base_map`)."""
    for child in m._children.values():  # type: ignore[attr-defined]
        if isinstance(child, BaseMap):
            return child
    return None
