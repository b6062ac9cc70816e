// A page's parts refreshed when a live event arrives: the page is read again and the parts
// named in data-parts (element ids) replaced.
(function () {
  "use strict";
  var me = document.currentScript;
  var parts = ((me && me.getAttribute("data-parts")) || "").split(/\s+/).filter(Boolean);
  var timer = null;

  function refresh() {
    timer = null;
    fetch(window.location.href, {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var now = document.getElementById(id), fresh = doc.getElementById(id);
          if (now && fresh) { now.innerHTML = fresh.innerHTML; }
        });
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ });
  }

  window.addEventListener("gp:event", function () {
    if (!timer) { timer = setTimeout(refresh, 200); }
  });
}());
