// The notice form takes its place from a click on the live map too (the map document posts the
// point), as from its own small map.
(function () {
  "use strict";
  var form = document.getElementById("notice");
  if (!form) { return; }
  window.addEventListener("message", function (e) {
    if (e.origin !== window.location.origin || !e.data || e.data.kind !== "gp-point") { return; }
    form.elements.lon.value = e.data.lon.toFixed(6);
    form.elements.lat.value = e.data.lat.toFixed(6);
    form.elements.lon.dispatchEvent(new Event("change"));  // the form's small map marks it
  });
}());
