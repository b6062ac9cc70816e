// The search box of every served map: asks the server as one types (suggest.js; communities,
// streets, crossings, hazards, volunteers as the role allows, pasted coordinates), lists the
// answers and, on a choice, centres the map on the place and marks it. Texts are set as text
// only.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.dataset.map) { return; }

  function start() {
    var map = window[me.dataset.map];
    if (!map || !window.L) { window.setTimeout(start, 100); return; }
    var marker = null;
    var svg = L.svg();  // the mark is an element of its own, even on a canvas map
    var box = L.control({position: "topright"});
    box.onAdd = function () {
      var div = L.DomUtil.create("div", "gp-search");
      div.style.cssText = "background:#fff;border-radius:4px;box-shadow:0 1px 4px " +
        "rgba(0,0,0,.3);font:13px/1.4 sans-serif;width:260px;" +
        "max-width:calc(100vw - 70px)";  // beside the zoom buttons on a phone's map
      var input = L.DomUtil.create("input", "gp-search-input", div);
      input.type = "search";
      input.placeholder = me.dataset.placeholder || "";
      input.title = me.dataset.title || input.placeholder;
      input.setAttribute("aria-label", me.dataset.title || me.dataset.placeholder || "search");
      input.style.cssText = "width:100%;box-sizing:border-box;border:0;padding:6px 8px;" +
        "font:inherit;border-radius:4px";
      var list = L.DomUtil.create("ul", "gp-search-results", div);
      list.style.cssText = "list-style:none;margin:0;padding:0;max-height:240px;overflow:auto";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      window.gpSuggest(input, list, {
        url: me.dataset.url, answerClass: "gp-search-result", none: me.dataset.none,
        answerStyle: "padding:4px 8px;cursor:pointer;border-top:1px solid #eee",
        noneStyle: "padding:4px 8px;color:#777",
        choose: function (item) {
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
        }
      });
      return div;
    };
    box.addTo(map);
    // a popup opened near the top is moved into view below the search box, never under it
    var below = box.getContainer().getBoundingClientRect().bottom -
      map.getContainer().getBoundingClientRect().top + 8;
    if (below > 0 && below < map.getSize().y / 2) {
      L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(5, Math.round(below));
    }
  }
  start();
})();
