// A small map beside a form's longitude and latitude: a click there fills both (WGS-84, six
// decimals) and marks the place; values set otherwise (typed, found by the search box or the
// phone's position, announced by a "change" event) are marked and shown too; a street found
// by name is drawn and shown whole, for a click on it (the click is moved onto it, the
// place named by it); a community or district found by name is shown whole, for a click
// in it. The city's own base map
// (vector tiles from this server) is drawn under it. It opens on the user's own area
// (data-centre, lon/lat) at the zoom whose street names the base map draws (data-zoom), or
// on the place typed before; the city's bounds when neither is known. The form's line
// #place-status says where the place chosen is, by the name the server gives it (its street and
// cross streets, its community: /search/place), or that none is chosen yet.
(function () {
  "use strict";
  function escaped(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }
  function start(box) {
    if (!window.L) { return; }
    var form = box.closest("form");
    var lon = form.querySelector("input[name='" + box.dataset.lon + "']");
    var lat = form.querySelector("input[name='" + box.dataset.lat + "']");
    var b = JSON.parse(box.dataset.bounds || "null");
    var home = JSON.parse(box.dataset.centre || "null");
    var zoom = Number(box.dataset.zoom || 14);
    var map = L.map(box, {scrollWheelZoom: false, zoomControl: false});
    L.control.zoom({zoomInTitle: box.dataset.zoomIn || "+",
                    zoomOutTitle: box.dataset.zoomOut || "-"}).addTo(map);
    // the credit in the page's language (Leaflet's own prefix is English)
    if (map.attributionControl && box.dataset.leafletTitle) {
      var leaflet = document.createElement("a");
      leaflet.href = "https://leafletjs.com";
      leaflet.title = box.dataset.leafletTitle;
      leaflet.textContent = "Leaflet";
      map.attributionControl.setPrefix(leaflet.outerHTML);
    }
    function typed() {
      var y = parseFloat(lat.value), x = parseFloat(lon.value);
      return isFinite(x) && isFinite(y) && Math.abs(y) <= 90 && Math.abs(x) <= 180 ? [y, x] : null;
    }
    function fit() {
      map.invalidateSize();
      var at = typed() || (home && [home[1], home[0]]);
      if (at) { map.setView(at, zoom); }
      else if (b) { map.fitBounds([[b[1], b[0]], [b[3], b[2]]]); } else { map.setView([0, 0], 2); }
    }
    fit();
    if (window.protomapsL && window.gpBaseStyle) {
      var style = window.gpBaseStyle(window.protomapsL);
      var base = window.protomapsL.leafletLayer({url: box.dataset.tiles, paintRules: style.paint,
        labelRules: style.labels, maxDataZoom: Number(box.dataset.maxZoom || 15),
        backgroundColor: "#f2efe9", maxZoom: 19,
        attribution: box.dataset.credit ? escaped(box.dataset.credit) : ""});
      // without a connection (a phone's report kept offline) the map asks for no tiles: the
      // place is still chosen by a tap or the phone's position, the streets come back online
      var online = function () { if (!map.hasLayer(base)) { base.addTo(map); } };
      if (navigator.onLine !== false) { online(); }
      window.addEventListener("online", online);
      window.addEventListener("offline", function () { map.removeLayer(base); });
    }
    var marker = null;
    function mark(y, x) {
      if (!isFinite(x) || !isFinite(y) || Math.abs(y) > 90 || Math.abs(x) > 180) {
        if (marker) { map.removeLayer(marker); marker = null; }
        return;
      }
      if (marker) { marker.setLatLng([y, x]); return; }
      marker = L.circleMarker([y, x], {radius: 8, color: "#b2182b", weight: 3,
                                       className: "pick-marker"}).addTo(map);
    }
    map.on("click", function (e) {
      lon.value = e.latlng.lng.toFixed(6);
      lat.value = e.latlng.lat.toFixed(6);
      mark(e.latlng.lat, e.latlng.lng);
      // the form hears of it as of a typed place (the report form says a place is chosen)
      lon.dispatchEvent(new Event("change", {bubbles: true}));
    });
    [lon, lat].forEach(function (input) {
      input.addEventListener("change", function () {
        mark(parseFloat(lat.value), parseFloat(lon.value));
        var at = typed();
        if (at && !map.getBounds().contains(at)) { map.setView(at, Math.max(map.getZoom(), zoom)); }
      });
    });
    mark(parseFloat(lat.value), parseFloat(lon.value));
    var status = form.querySelector("#place-status");
    var asked = 0;
    // the street or area chosen by name (the click asked for is on it or in it), and
    // whether it is a street (its line drawn, the click moved onto it)
    var along = null, alongStreet = false, alongLine = null;
    function ask() {
      var words = alongStreet ? status.dataset.along : status.dataset.within;
      return (words || status.dataset.none).replace("{street}", along).replace("{area}", along);
    }
    function named(event) {
      if (!status) { return; }
      var at = typed();
      asked += 1;
      if (!at) {  // none yet; with a street chosen, the click on it is asked for
        status.textContent = along ? ask() : status.dataset.none;
        status.className = "muted";
        return;
      }
      var n = asked;
      status.className = "chosen";
      status.textContent = status.dataset.chosen.replace("{place}",
        at[0].toFixed(5) + ", " + at[1].toFixed(5));
      // a refusal of the place sent before no longer applies once another is picked (on
      // load, it is the page's answer to the place sent, and stays)
      if (event) {
        var box = status.closest("fieldset") || form;
        box.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
      }
      if (!status.dataset.name || navigator.onLine === false) { return; }
      var url = status.dataset.name + (status.dataset.name.indexOf("?") < 0 ? "?" : "&") +
        "lon=" + at[1] + "&lat=" + at[0] +
        (alongStreet ? "&street=" + encodeURIComponent(along) : "");
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (n !== asked || !found || !found.label) { return; }
          if (typeof found.lon === "number" && typeof found.lat === "number") {
            // the click, moved onto the street chosen; the map comes closer for a finer one
            lon.value = found.lon.toFixed(6);
            lat.value = found.lat.toFixed(6);
            mark(found.lat, found.lon);
            map.setView([found.lat, found.lon], Math.max(map.getZoom(), zoom));
          }
          if (!found.inside) {
            status.className = "bad";
            status.textContent = status.dataset.outside + " (" + found.label + ")";
            return;
          }
          if (found.mine === false) {  // a form that takes the user's own communities only
            status.className = "bad";
            status.textContent = status.dataset.notMine.replace("{allowed}", found.allowed)
              .replace("{place}", found.label);
            return;
          }
          status.textContent = status.dataset.chosen.replace("{place}", found.label);
          // a form that names its place in words (a notice) gets the name, unless one was
          // typed there by hand
          var words = form.querySelector("input[name='place'][data-auto]");
          if (words && words.value === words.dataset.auto) {
            words.value = words.dataset.auto = found.words || found.label;
          }
        })
        .catch(function () { /* offline: the coordinates stay shown */ });
    }
    [lon, lat].forEach(function (input) { input.addEventListener("change", named); });
    named();
    // a street found by name (picker.js): the map shows it whole, the user clicks the place
    form.addEventListener("gp-along", function (e) {
      along = e.detail.name;
      alongStreet = Boolean(e.detail.street);
      if (alongLine) { map.removeLayer(alongLine); alongLine = null; }
      if (!along) { return; }
      var s = e.detail.bounds;
      map.fitBounds([[s[1], s[0]], [s[3], s[2]]], {maxZoom: 17});
      if (status) {
        status.className = "muted";
        status.textContent = ask();
      }
      if (!alongStreet || !status || !status.dataset.street) { return; }
      var wanted = along;
      fetch(status.dataset.street + "?name=" + encodeURIComponent(wanted),
            {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (!found || wanted !== along) { return; }
          alongLine = L.geoJSON(found.line, {interactive: false, style: {
            color: "#2166ac", weight: 8, opacity: 0.45, className: "along-street"}}).addTo(map);
        })
        .catch(function () { /* offline: the street is not drawn, a click still places */ });
    });
    var details = box.closest("details");
    if (details) { details.addEventListener("toggle", fit); }
  }
  document.querySelectorAll(".pick-map").forEach(start);
})();
