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
        "font:inherit;border-radius:4px;text-overflow:ellipsis";
      var list = L.DomUtil.create("ul", "gp-search-results", div);
      list.style.cssText = "list-style:none;margin:0;padding:0;max-height:240px;overflow:auto";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      // on a small map (a call-out card's on a phone) the box is a button until tapped, and
      // folds again when left empty: the site stays in view
      if (map.getContainer().clientHeight < Number(me.dataset.small || 0)) {
        var open = L.DomUtil.create("button", "gp-search-open", div);
        open.type = "button";
        open.title = me.dataset.title || me.dataset.placeholder || "";
        open.setAttribute("aria-label", open.title);
        open.style.cssText = "display:block;width:34px;height:34px;border:0;padding:0;" +
          "background:#fff;border-radius:4px;cursor:pointer";
        var svgNS = "http://www.w3.org/2000/svg";
        var glass = document.createElementNS(svgNS, "svg");
        glass.setAttribute("viewBox", "0 0 20 20");
        glass.setAttribute("width", "18"); glass.setAttribute("height", "18");
        var ring = document.createElementNS(svgNS, "circle");
        ring.setAttribute("cx", "8"); ring.setAttribute("cy", "8"); ring.setAttribute("r", "5.5");
        var stem = document.createElementNS(svgNS, "path");
        stem.setAttribute("d", "M12.2 12.2 L17.5 17.5");
        [ring, stem].forEach(function (e) {
          e.setAttribute("fill", "none"); e.setAttribute("stroke", "#333");
          e.setAttribute("stroke-width", "2.2"); glass.appendChild(e);
        });
        open.appendChild(glass);
        var fold = function (folded) {
          open.style.display = folded ? "block" : "none";
          input.style.display = folded ? "none" : "block";
          div.style.width = folded ? "34px" : "260px";
        };
        fold(true);
        open.addEventListener("click", function () { fold(false); input.focus(); });
        input.addEventListener("blur", function () {
          window.setTimeout(function () { if (!input.value) { fold(true); } }, 200);
        });
      }
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
          // a text node, never the string: Leaflet inserts a string as HTML, and a label
          // holds what people typed (a hazard named by a volunteer's report)
          marker.bindTooltip(document.createTextNode(item.label),
                             {permanent: true, direction: "top", offset: [0, -8]});
        }
      });
      return div;
    };
    box.addTo(map);
    // its hint whole, or its short form where that is all the box shows (a wider font)
    var typed = box.getContainer().querySelector("input.gp-search-input");
    if (me.dataset.short) { window.gpFitHint(typed, [me.dataset.placeholder, me.dataset.short]); }
    // a popup opened (a hot spot's, a hazard's) pans the map to open below the search box,
    // never under it: Leaflet keeps a popup this far from the map's top edge (not on a map
    // so small that the box, folded to a button, would leave it no room)
    function keepClear() {
      var below = box.getContainer().getBoundingClientRect().bottom -
        map.getContainer().getBoundingClientRect().top + 8;
      if (below > 0 && below < map.getSize().y / 2) {
        L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(5, Math.round(below));
        L.Popup.prototype.options.autoPanPaddingBottomRight = L.point(5, 5);
      }
    }
    keepClear();
    map.on("resize", keepClear);
  }
  start();
})();
