// The header's menu: the full bar of links on a wide screen; on a narrow one (a phone) the
// links wait behind the "Menu" button (a <details>), so the page starts on the first screen.
// Loaded where the menu is written (not deferred), so a wide screen never shows it closed.
(function () {
  "use strict";
  var menu = document.getElementById("menu");
  if (!menu || !window.matchMedia) { return; }
  var wide = window.matchMedia("(min-width: 900px)");
  function fit() { menu.open = wide.matches; }
  fit();
  if (wide.addEventListener) { wide.addEventListener("change", fit); }
})();
