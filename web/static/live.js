// The live patrol: the map document draws the force from /api/live every few seconds; the page
// around it refreshes the counts and today's coverage, and takes the incident's position from a
// click on the map. Every text is set as text, never as HTML.
(function () {
  "use strict";
  var EVERY = 5000;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (cls) { el.className = cls; }
    return el;
  }

  function poll(url, draw) {
    function once() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { draw(data); } })
        .catch(function () { /* the next turn tries again */ })
        .finally(function () { window.setTimeout(once, EVERY); });
    }
    once();
  }

  // -- inside the map document ------------------------------------------------------------
  var me = document.currentScript;
  if (me && me.dataset.map) {
    var start = function () {
      var map = window[me.dataset.map];
      if (!map) { window.setTimeout(start, 100); return; }
      var colours = JSON.parse(me.dataset.colours);
      var covered = L.geoJSON(null, {style: function () {
        return {color: "#d7191c", weight: 3, opacity: 0.8};
      }}).addTo(map);
      var svg = L.svg();  // markers as SVG elements (the streets stay on the canvas)
      var trails = L.layerGroup().addTo(map);
      var people = L.layerGroup().addTo(map);
      var groups = L.layerGroup().addTo(map);
      var last = null;

      function label(v) {
        var box = document.createElement("div");
        box.appendChild(text("b", v.number));
        box.appendChild(text("span", " " + (v.name || "")));
        box.appendChild(document.createElement("br"));
        box.appendChild(text("span", (v.community || "") + " · " + v.label));
        return box;
      }

      function drawPeople() {
        if (!last) { return; }
        people.clearLayers(); groups.clearLayers(); trails.clearLayers();
        var zoomed = map.getZoom() >= 14;
        if (zoomed) {
          last.volunteers.forEach(function (v) {
            var trail = last.trails[String(v.id)];
            if (trail && trail.length > 1) {
              L.polyline(trail, {color: colours[v.state], weight: 2, opacity: 0.7}).addTo(trails);
            }
            L.circleMarker([v.lat, v.lon], {radius: 7, color: "#222", weight: 1,
              fillColor: colours[v.state], fillOpacity: 0.95, className: "gp-live-" + v.state,
              renderer: svg})
              .bindTooltip(label(v)).addTo(people);
          });
          return;
        }
        // low zoom: one circle per community, sized by the volunteers out there
        var by = {};
        last.volunteers.forEach(function (v) {
          var key = v.community || "?";
          var g = by[key] || (by[key] = {n: 0, on: 0, lat: 0, lon: 0, name: key});
          g.n += 1; g.lat += v.lat; g.lon += v.lon;
          if (v.state !== "offline") { g.on += 1; }
        });
        Object.keys(by).forEach(function (key) {
          var g = by[key];
          var box = document.createElement("div");
          box.appendChild(text("b", g.name));
          box.appendChild(text("span", " " + g.on + " / " + g.n));
          L.circleMarker([g.lat / g.n, g.lon / g.n], {radius: 6 + Math.sqrt(g.n) * 3,
            color: "#1f3a5f", weight: 1, fillColor: g.on ? colours.patrolling : colours.offline,
            fillOpacity: 0.7, className: "gp-live-group", renderer: svg})
            .bindTooltip(box).addTo(groups);
        });
      }

      map.on("zoomend", drawPeople);
      map.on("click", function (e) {
        if (window.parent !== window) {
          window.parent.postMessage({kind: "gp-point", lat: e.latlng.lat, lon: e.latlng.lng},
                                    window.location.origin);
        }
      });
      // a call-out's lines follow the volunteers called as they move, their ETA with them;
      // a new ring called redraws the map
      function moveCallout(c) {
        var lines = [], dots = [];
        map.eachLayer(function (layer) {
          var cls = layer.options && layer.options.className;
          if (cls === "gp-callout-line") { lines.push(layer); }
          if (cls === "gp-callout-volunteer") { dots.push(layer); }
        });
        var placed = c.people.filter(function (p) { return p.lat !== null; });
        if (placed.length !== lines.length) { window.location.reload(); return; }
        placed.forEach(function (p, i) {
          lines[i].setLatLngs([[p.lat, p.lon], c.site]);
          lines[i].setTooltipContent(text("span", p.tip));
          if (dots[i]) { dots[i].setLatLng([p.lat, p.lon]); dots[i].setTooltipContent(text("span", p.tip)); }
        });
        document.body.dataset.calloutMoved = String(Date.now());
      }
      var names = JSON.parse(me.dataset.states || "{}");
      poll(me.dataset.feed, function (data) {
        data.volunteers.forEach(function (v) { v.label = names[v.state] || v.state; });
        last = data;
        window.gpLive = data;
        covered.clearLayers();
        covered.addData(data.segments);
        drawPeople();
        if (data.callout) { moveCallout(data.callout); }
        document.body.dataset.liveAt = data.at;
        document.body.dataset.liveCount = String(data.volunteers.length);
      });
    };
    start();
    return;
  }

  // -- the page around it -----------------------------------------------------------------
  var panel = document.getElementById("live-panel");
  if (!panel) { return; }
  EVERY = Number(panel.dataset.every) || EVERY;
  poll(panel.dataset.feed, function (data) {
    Object.keys(data.counts).forEach(function (state) {
      var cell = panel.querySelector('[data-state="' + state + '"]');
      if (cell) { cell.textContent = String(data.counts[state]); }
    });
    var at = document.getElementById("live-at");
    if (at) { at.textContent = data.at_text; }  // the city's local time, from the server
    var body = document.querySelector("#live-coverage tbody");
    if (body) {
      body.textContent = "";
      var walked = data.coverage.filter(function (c) { return c.covered_m > 0; });
      walked.sort(function (a, b) { return (b.pct || 0) - (a.pct || 0); })
        .slice(0, 15)
        .forEach(function (c) {
          var tr = document.createElement("tr");
          tr.appendChild(text("td", c.name));
          tr.appendChild(text("td", (c.total_m / 1000).toFixed(1), "num"));
          tr.appendChild(text("td", (c.covered_m / 1000).toFixed(1), "num"));
          tr.appendChild(text("td", c.pct == null ? "" : c.pct.toFixed(1), "num"));
          body.appendChild(tr);
        });
      if (!walked.length) {  // an empty table says so, in the page's words
        var none = document.createElement("tr");
        none.className = "empty";
        var cell = text("td", body.closest("table").dataset.none || "");
        cell.colSpan = 4;
        none.appendChild(cell);
        body.appendChild(none);
      }
    }
    panel.dataset.liveAt = data.at;
  });
  window.addEventListener("message", function (e) {
    if (e.origin !== window.location.origin || !e.data || e.data.kind !== "gp-point") { return; }
    var form = document.getElementById("callout");
    if (!form) { return; }
    form.elements.lon.value = e.data.lon.toFixed(6);
    form.elements.lat.value = e.data.lat.toFixed(6);
    form.elements.lat.dispatchEvent(new Event("change"));  // the form's small map marks it
  });
})();
