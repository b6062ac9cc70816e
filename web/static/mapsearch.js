// The search box of every served map: asks the server as one types (communities, streets,
// crossings, hazards, volunteers as the role allows, pasted coordinates), lists the answers
// and, on a choice, centres the map on the place and marks it. Texts are set as text only.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.dataset.map) { return; }
  var WAIT = 200;

  function start() {
    var map = window[me.dataset.map];
    if (!map || !window.L) { window.setTimeout(start, 100); return; }
    var marker = null;
    var svg = L.svg();  // the mark is an element of its own, even on a canvas map
    var box = L.control({position: "topright"});
    box.onAdd = function () {
      var div = L.DomUtil.create("div", "gp-search");
      div.style.cssText = "background:#fff;border-radius:4px;box-shadow:0 1px 4px " +
        "rgba(0,0,0,.3);font:13px/1.4 sans-serif;width:260px";
      var input = L.DomUtil.create("input", "gp-search-input", div);
      input.type = "search";
      input.placeholder = me.dataset.placeholder || "";
      input.setAttribute("aria-label", me.dataset.placeholder || "search");
      input.style.cssText = "width:100%;box-sizing:border-box;border:0;padding:6px 8px;" +
        "font:inherit;border-radius:4px";
      var list = L.DomUtil.create("ul", "gp-search-results", div);
      list.style.cssText = "list-style:none;margin:0;padding:0;max-height:240px;overflow:auto";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var timer = null, asked = 0, answers = [];

      function go(item) {
        if (marker) { map.removeLayer(marker); }
        var at = [item.lat, item.lon];
        if (item.bounds && item.kind !== "street") {
          map.fitBounds([[item.bounds[1], item.bounds[0]], [item.bounds[3], item.bounds[2]]],
                        {maxZoom: 17});
        } else {
          map.setView(at, Math.max(map.getZoom(), 17));
        }
        marker = L.circleMarker(at, {radius: 9, color: "#08306b", weight: 3,
                                     fillColor: "#4292c6", fillOpacity: 0.6,
                                     className: "gp-search-marker", renderer: svg}).addTo(map);
        marker.bindTooltip(item.label, {permanent: true, direction: "top", offset: [0, -8]});
        list.textContent = "";
      }

      function show(items) {
        answers = items;
        list.textContent = "";
        if (!items.length) {
          var none = document.createElement("li");
          none.textContent = me.dataset.none || "";
          none.style.cssText = "padding:4px 8px;color:#777";
          list.appendChild(none);
          return;
        }
        items.forEach(function (item) {
          var li = document.createElement("li");
          li.className = "gp-search-result";
          li.dataset.kind = item.kind;
          li.textContent = item.label;
          li.style.cssText = "padding:4px 8px;cursor:pointer;border-top:1px solid #eee";
          li.addEventListener("click", function () { go(item); });
          list.appendChild(li);
        });
      }

      function ask() {
        var q = input.value.trim();
        if (!q) { list.textContent = ""; return; }
        var mine = ++asked;
        fetch(me.dataset.url + "q=" + encodeURIComponent(q),
              {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) { if (mine === asked) { show(items); } })
          .catch(function () { /* the next key asks again */ });
      }

      input.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(ask, WAIT);
      });
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && answers.length) { e.preventDefault(); go(answers[0]); }
      });
      return div;
    };
    box.addTo(map);
  }
  start();
})();
